// XEP-0077 In-Band Registration walked through its examples on a real server: raw TCP peers for the
// unauthenticated part (no client library registers the way a transcript can show), xmpp.js for the
// logins that prove an account works, on both storage back ends.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { connect, type TestClient } from '../../test/support/clients.js';
import { describeBackends } from '../../test/support/backends.js';
import { plainAuth, RawStream, STREAM_HEADER } from '../../test/support/raw-stream.js';
import type { TestServer } from '../../test/support/server.js';
import { registrationConfig } from './settings.js';

const REGISTER = 'jabber:iq:register';
const FEATURE = '<register xmlns="http://jabber.org/features/iq-register"/>';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';

/** The condition and type of an error reply. */
function errorOf(iq: Element): { condition: string | undefined; type: string | undefined } {
  const error = iq.getChild('error');
  const condition = error?.children.find((c): c is Element => typeof c !== 'string' && c.attrs.xmlns === STANZAS && c.name !== 'text');
  return { condition: condition?.name, type: error?.attrs.type };
}

/** The answer to an iq, result or error (xmpp.js rejects on errors with the <error/> child, whose parent is the iq). */
async function answerOf(client: TestClient, iq: Element): Promise<Element> {
  try {
    return await client.xmpp.iqCaller.request(iq);
  } catch (err) {
    const parent = (err as { element?: Element }).element?.parent;
    if (!parent) throw err;
    return parent;
  }
}

/** An unauthenticated raw stream with its first features read; returns the features' text too. */
async function openStream(server: TestServer): Promise<{ stream: RawStream; features: string }> {
  const stream = await RawStream.connect(server.ports.c2s);
  stream.write(STREAM_HEADER());
  const [features] = await stream.expect(/<stream:features>.*?<\/stream:features>/s);
  return { stream, features };
}

const registration = (id: string, username: string | undefined, password: string | undefined, extra = ''): string =>
  `<iq type='set' id='${id}'><query xmlns='${REGISTER}'>` +
  (username === undefined ? '' : `<username>${username}</username>`) +
  (password === undefined ? '' : `<password>${password}</password>`) +
  `${extra}</query></iq>`;

describeBackends('XEP-0077 In-Band Registration', function (backend) {
  /** Two registrations per address per 600 s, and the account "taken" already there. */
  const limitedServer = async (): Promise<TestServer> => {
    const server = await backend.start({ c2s: { requireTls: false }, registration: { allow: true, maxPerAddress: 2, windowSeconds: 600 } });
    await server.addUser('taken', 'secret');
    return server;
  };

  const streams: RawStream[] = [];
  const clients: TestClient[] = [];

  const open = async (server: TestServer): Promise<{ stream: RawStream; features: string }> => {
    const opened = await openStream(server);
    streams.push(opened.stream);
    return opened;
  };
  const login = async (server: TestServer, username: string, password: string, resource = 'test'): Promise<TestClient> => {
    const client = await connect(server, { transport: 'tcp', username, password, resource });
    clients.push(client);
    return client;
  };
  /** Registers on a fresh unauthenticated stream and returns the server's answer. */
  const register = async (server: TestServer, username: string | undefined, password: string | undefined, extra = ''): Promise<Element> => {
    const { stream } = await open(server);
    stream.write(registration('reg2', username, password, extra));
    return stream.element('iq');
  };

  afterEach(async function () {
    for (const stream of streams.splice(0)) stream.destroy();
    for (const client of clients.splice(0)) await client.stop();
  });

  describe('with registration allowed', function () {
    let server: TestServer;

    before(async function () {
      server = await backend.start({ c2s: { requireTls: false }, registration: { allow: true, maxPerAddress: 1000 } });
    });
    after(async function () {
      await server?.stop();
    });

    it('§8, §3.1 Examples 1-6 and §3.1.1: announces the feature, hands out the fields, registers, and the new account logs in', async function () {
      const { stream, features } = await open(server);
      assert.ok(features.includes(FEATURE), `no register feature in ${features}`);

      stream.write(`<iq type='get' id='reg1' to='localhost'><query xmlns='${REGISTER}'/></iq>`);
      const fields = await stream.element('iq');
      assert.deepEqual(fields.attrs, { type: 'result', id: 'reg1', from: 'localhost' });
      const query = fields.getChild('query', REGISTER);
      assert.ok(query, fields.toString());
      assert.deepEqual(query.getChildren('username').map((u) => u.getText()), ['']);
      assert.deepEqual(query.getChildren('password').map((p) => p.getText()), ['']);
      assert.match(query.getChildText('instructions') ?? '', /username and password/);
      assert.equal(query.getChild('registered'), undefined);

      // Example 4 also sends an e-mail address, which this server did not ask for and ignores.
      stream.write(registration('reg2', 'bill', 'Calliope', '<email>bard@shakespeare.lit</email>'));
      assert.equal((await stream.element('iq')).toString(), '<iq type="result" id="reg2"/>');
      assert.equal(await server.server.stores.accounts.exists('bill'), true);

      // §3.1.1: the entity then authenticates with the new identity on the same stream.
      stream.write(plainAuth('bill', 'Calliope'));
      await stream.expect(/<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"\/>/);
      const bill = await login(server, 'bill', 'Calliope', 'globe');
      assert.equal(bill.jid, 'bill@localhost/globe');
    });

    it('normalises the username to a JID localpart (the account is "juliet", not "Juliet")', async function () {
      assert.equal((await register(server, 'Juliet', 'R0m30')).attrs.type, 'result');
      assert.equal(await server.server.stores.accounts.exists('juliet'), true);
      assert.equal((await login(server, 'juliet', 'R0m30')).jid, 'juliet@localhost/test');
    });

    it('§3.1 Example 7: a username in use is a conflict (type cancel), and the password is not echoed', async function () {
      await server.addUser('romeo', 'montague');
      const answer = await register(server, 'Romeo', 'm1cro$oft');
      assert.equal(answer.attrs.type, 'error');
      assert.equal(answer.attrs.id, 'reg2');
      assert.deepEqual(errorOf(answer), { condition: 'conflict', type: 'cancel' });
      assert.doesNotMatch(answer.toString(), /m1cro\$oft/);
      assert.equal((await login(server, 'romeo', 'montague')).jid, 'romeo@localhost/test', 'the existing account is untouched');
    });

    it('§3.1 Example 8: missing or empty fields are not-acceptable (type modify), and nothing is created', async function () {
      const cases: Array<[string | undefined, string | undefined]> = [
        ['nopass', undefined],
        ['emptypass', ''],
        [undefined, 'secret'],
        ['   ', 'secret'],
      ];
      for (const [username, password] of cases) {
        const answer = await register(server, username, password);
        assert.deepEqual(errorOf(answer), { condition: 'not-acceptable', type: 'modify' }, `${username}/${password}: ${answer.toString()}`);
      }
      assert.equal(await server.server.stores.accounts.exists('nopass'), false);
      assert.equal(await server.server.stores.accounts.exists('emptypass'), false);
    });

    it('refuses usernames that are no JID localpart and passwords SASLprep prohibits', async function () {
      for (const username of ['bad@name', 'with space', 'slash/ed', "quo'te"]) {
        const answer = await register(server, username.replace("'", '&apos;'), 'secret');
        assert.deepEqual(errorOf(answer), { condition: 'not-acceptable', type: 'modify' }, username);
      }
      // U+E000 is a private-use character: SASLprep prohibits it (RFC 4013 §2.3, RFC 3454 table C.3).
      const answer = await register(server, 'private', 'use\uE000me');
      assert.deepEqual(errorOf(answer), { condition: 'not-acceptable', type: 'modify' }, answer.toString());
      assert.equal(await server.server.stores.accounts.exists('private'), false);
    });

    it('§3.2: a <remove/> before authentication is an unexpected-request', async function () {
      const { stream } = await open(server);
      stream.write(`<iq type='set' id='unreg1'><query xmlns='${REGISTER}'><remove/></query></iq>`);
      assert.equal(errorOf(await stream.element('iq')).condition, 'unexpected-request');
    });

    it('refuses every other iq before authentication with the not-authorized stream error', async function () {
      const { stream } = await open(server);
      stream.write(`<iq type='get' id='v1' to='localhost'><query xmlns='jabber:iq:version'/></iq>`);
      await stream.expect(new RegExp(`<stream:error><not-authorized xmlns="${STREAMS}"/>`));
      await stream.waitClosed();

      // A registration query for another address is not registration with this server either.
      const other = (await open(server)).stream;
      other.write(`<iq type='get' id='reg1' to='elsewhere.example'><query xmlns='${REGISTER}'/></iq>`);
      await other.expect(/<stream:error><not-authorized/);
    });
  });

  describe('limits per address', function () {
    let server: TestServer;

    before(async function () {
      server = await limitedServer();
    });
    after(async function () {
      await server?.stop();
    });

    it('allows max_per_address registrations per window from one IP, then answers policy-violation (type wait)', async function () {
      assert.equal((await register(server, 'first', 'secret')).attrs.type, 'result');
      // A request refused for its fields says nothing about other accounts and does not use up the allowance.
      assert.equal(errorOf(await register(server, 'bad user', 'secret')).condition, 'not-acceptable');
      assert.equal((await register(server, 'second', 'secret')).attrs.type, 'result');
      const third = await register(server, 'third', 'secret');
      assert.deepEqual(errorOf(third), { condition: 'policy-violation', type: 'wait' });
      assert.match(third.getChild('error')?.getChildText('text', STANZAS) ?? '', /at most 2 registrations per 600 seconds/);
      assert.equal(await server.server.stores.accounts.exists('third'), false);
    });
  });

  describe('conflicts and the allowance', function () {
    let server: TestServer;

    before(async function () {
      server = await limitedServer();
    });
    after(async function () {
      await server?.stop();
    });

    it('counts a conflict against the allowance, so one address cannot probe for accounts without limit', async function () {
      assert.equal(errorOf(await register(server, 'taken', 'secret')).condition, 'conflict');
      assert.equal(errorOf(await register(server, 'taken', 'secret')).condition, 'conflict');
      // Further probes learn nothing: a taken name and a free one get the same policy-violation.
      assert.deepEqual(errorOf(await register(server, 'taken', 'secret')), { condition: 'policy-violation', type: 'wait' });
      assert.deepEqual(errorOf(await register(server, 'free-name', 'secret')), { condition: 'policy-violation', type: 'wait' });
      assert.equal(await server.server.stores.accounts.exists('free-name'), false);
    });
  });

  describe('with registration closed (the default)', function () {
    let server: TestServer;

    before(async function () {
      server = await backend.start({ c2s: { requireTls: false } });
      await server.addUser('alice', 'wonderland');
    });
    after(async function () {
      await server?.stop();
    });

    it('§3.1: does not announce the feature and answers service-unavailable, leaving the stream open for SASL', async function () {
      const settings = registrationConfig.parse(server.config.sections?.registration, server.config);
      assert.ok(settings.ok && !settings.settings.allow, 'registration.allow defaults to false');
      const { stream, features } = await open(server);
      assert.ok(!features.includes('iq-register'), features);
      stream.write(`<iq type='get' id='reg1' to='localhost'><query xmlns='${REGISTER}'/></iq>`);
      assert.deepEqual(errorOf(await stream.element('iq')), { condition: 'service-unavailable', type: 'cancel' });
      stream.write(registration('reg2', 'mallory', 'secret'));
      assert.equal(errorOf(await stream.element('iq')).condition, 'service-unavailable');
      assert.equal(await server.server.stores.accounts.exists('mallory'), false);
      stream.write(plainAuth('alice', 'wonderland'));
      await stream.expect(/<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"\/>/);
    });

    it('§11: still advertises jabber:iq:register in disco#info, for password changes', async function () {
      const alice = await login(server, 'alice', 'wonderland');
      const info = await alice.xmpp.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: DISCO_INFO })));
      const features = info.getChild('query', DISCO_INFO)?.getChildren('feature').map((f) => f.attrs.var);
      assert.ok(features?.includes(REGISTER), String(features));
    });
  });

  describe('with TLS required', function () {
    let server: TestServer;

    before(async function () {
      server = await backend.start({ registration: { allow: true } });
    });
    after(async function () {
      await server?.stop();
    });

    it('§10: offers and accepts registration only once the stream is encrypted', async function () {
      const { stream, features } = await open(server);
      assert.ok(!features.includes('iq-register'), features);
      stream.write(registration('reg0', 'plain', 'secret'));
      assert.deepEqual(errorOf(await stream.element('iq')), { condition: 'not-authorized', type: 'modify' });
      assert.equal(await server.server.stores.accounts.exists('plain'), false);

      stream.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
      await stream.expect(/<proceed xmlns="urn:ietf:params:xml:ns:xmpp-tls"\/>/);
      await stream.startTls();
      stream.write(STREAM_HEADER());
      const [secured] = await stream.expect(/<stream:features>.*?<\/stream:features>/s);
      assert.ok(secured.includes(FEATURE), secured);
      stream.write(registration('reg2', 'secure', 'secret'));
      assert.equal((await stream.element('iq')).toString(), '<iq type="result" id="reg2"/>');
      assert.equal(await server.server.stores.accounts.exists('secure'), true);
    });
  });

  describe('for logged-in users (registration closed)', function () {
    let server: TestServer;

    before(async function () {
      server = await backend.start({ c2s: { requireTls: false } });
    });
    after(async function () {
      await server?.stop();
    });

    it('§3.1 Example 3: a registered user asking for the fields is told so', async function () {
      await server.addUser('juliet', 'R0m30');
      const juliet = await login(server, 'juliet', 'R0m30');
      const answer = await juliet.xmpp.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: REGISTER })));
      const query = answer.getChild('query', REGISTER);
      assert.ok(query?.getChild('registered'), answer.toString());
      assert.equal(query?.getChildText('username'), 'juliet');
    });

    it('§3.3 Examples 22-23: changes the password; the old one stops working and the new one works', async function () {
      await server.addUser('bill', 'oldpass');
      const bill = await login(server, 'bill', 'oldpass');
      const answer = await bill.xmpp.iqCaller.request(
        xml('iq', { type: 'set', to: 'localhost' }, xml('query', { xmlns: REGISTER }, xml('username', {}, 'bill'), xml('password', {}, 'newpass'))),
      );
      assert.equal(answer.attrs.type, 'result');
      await assert.rejects(login(server, 'bill', 'oldpass', 'second'), /not-authorized/);
      assert.equal((await login(server, 'bill', 'newpass', 'third')).jid, 'bill@localhost/third');

      // Without 'to' (the own account) and with the bare JID as username, as some clients send it.
      await bill.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('query', { xmlns: REGISTER }, xml('username', {}, 'bill@localhost'), xml('password', {}, 'thirdpass'))));
      assert.equal((await login(server, 'bill', 'thirdpass', 'fourth')).jid, 'bill@localhost/fourth');
    });

    it('§3.3 error cases: no username is bad-request, another user is forbidden, an empty password keeps the old one', async function () {
      await server.addUser('iago', 'secret');
      await server.addUser('othello', 'secret');
      const iago = await login(server, 'iago', 'secret');
      const change = (...children: Element[]): Promise<Element> => answerOf(iago, xml('iq', { type: 'set', to: 'localhost' }, xml('query', { xmlns: REGISTER }, ...children)));
      const noUsername = await change(xml('password', {}, 'x'));
      assert.deepEqual(errorOf(noUsername), { condition: 'bad-request', type: 'modify' });
      // §3.3: the original XML, password included, is not returned.
      assert.equal(noUsername.getChild('query'), undefined);
      assert.deepEqual(errorOf(await change(xml('username', {}, 'othello'), xml('password', {}, 'stolen'))), { condition: 'forbidden', type: 'auth' });
      assert.deepEqual(errorOf(await change(xml('username', {}, 'iago'), xml('password'))), { condition: 'bad-request', type: 'modify' });
      assert.equal((await login(server, 'othello', 'secret', 'x')).jid, 'othello@localhost/x');
      assert.equal((await login(server, 'iago', 'secret', 'y')).jid, 'iago@localhost/y');
    });

    it('§3.2 Examples 13-14: cancellation answers result, closes every session with not-authorized and deletes the data', async function () {
      await server.addUser('carol', 'secret');
      const laptop = await login(server, 'carol', 'secret', 'laptop');
      const phone = await login(server, 'carol', 'secret', 'phone');
      await laptop.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: 'dave@localhost', name: 'Dave' }))));
      assert.equal((await server.server.stores.roster.get('carol')).items.length, 1);

      const streamErrors = [laptop, phone].map(
        (c) => new Promise<{ condition?: string }>((resolve) => c.xmpp.on('error', (err: { condition?: string }) => resolve(err))),
      );
      const { deleted } = await nextDeletion(server);
      const answer = await laptop.xmpp.iqCaller.request(xml('iq', { type: 'set', id: 'unreg1' }, xml('query', { xmlns: REGISTER }, xml('remove'))));
      assert.equal(answer.attrs.type, 'result');
      assert.equal(answer.attrs.id, 'unreg1');
      for (const error of await Promise.all(streamErrors)) assert.equal(error.condition, 'not-authorized');
      assert.equal(await deleted, 'carol');

      assert.equal(await server.server.stores.accounts.exists('carol'), false);
      assert.deepEqual((await server.server.stores.roster.get('carol')).items, []);
      for (let i = 0; i < 50 && server.server.sessions.resources('carol@localhost').length > 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(server.server.sessions.resources('carol@localhost').length, 0);
      await assert.rejects(login(server, 'carol', 'secret', 'again'), /not-authorized/);
    });

    it('§3.2: <remove/> with other children is a bad-request and deletes nothing', async function () {
      await server.addUser('erin', 'secret');
      const erin = await login(server, 'erin', 'secret');
      const answer = await answerOf(erin, xml('iq', { type: 'set' }, xml('query', { xmlns: REGISTER }, xml('remove'), xml('username', {}, 'erin'))));
      assert.equal(errorOf(answer).condition, 'bad-request');
      assert.equal(await server.server.stores.accounts.exists('erin'), true);
    });
  });
});

/** Listens, as a module would, for the next 'account:deleted'; `deleted` resolves with its username. */
async function nextDeletion(server: TestServer): Promise<{ deleted: Promise<string> }> {
  let resolve: (username: string) => void = () => undefined;
  const deleted = new Promise<string>((r) => (resolve = r));
  const name = `account-deleted-probe-${Date.now()}`;
  await server.server.modules.start({
    name,
    specs: [],
    setup(ctx) {
      ctx.hook('account:deleted', (username) => resolve(username));
    },
  });
  void deleted.then(() => server.server.modules.stop(name));
  return { deleted };
}
