// XEP-0198 stream management against a real server: the XEP's exchanges as raw-stream transcripts (§2-§6),
// resumption with xmpp.js (@xmpp/client's own stream-management plugin) over TCP and WebSocket with the socket
// cut in the middle of a conversation, the resumption timeout ending in offline storage, BOSH, and bad input.
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { xml } from '@xmpp/client';
import type { Element as LtxElement } from 'ltx';
import { RawBosh } from '../../test/support/bosh.js';
import { connect, type ClientTransport, type TestClient } from '../../test/support/clients.js';
import { plainAuth, rawLogin, RawStream, STREAM_HEADER } from '../../test/support/raw-stream.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { startServer, type RunningServer } from '../../src/main.js';
import { createLogger } from '../../src/observability/log.js';

const SM = 'urn:xmpp:sm:3';
const PASSWORD = 'str3am-m4nagement';
const RESUME_TIMEOUT = 2;
const ENABLED = /<enabled xmlns="urn:xmpp:sm:3" id="([^"]+)" resume="true" max="2"\/>/;
const failedWith = (condition: string): RegExp => new RegExp(`<failed xmlns="urn:xmpp:sm:3"><${condition} xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);

describe('XEP-0198 stream management', function () {
  this.timeout(30_000);
  let server: TestServer;
  const clients: TestClient[] = [];
  const raws: RawStream[] = [];
  let users = 0;

  before(async function () {
    server = await startTestServer({ c2s: { requireTls: false }, stream_management: { resumeTimeout: RESUME_TIMEOUT } });
  });

  afterEach(async function () {
    for (const raw of raws.splice(0)) raw.destroy();
    await Promise.all(clients.splice(0).map((c) => c.stop()));
  });

  after(async function () {
    await server?.stop();
  });

  async function user(prefix: string): Promise<string> {
    const name = `${prefix}${++users}`;
    await server.addUser(name, PASSWORD);
    return name;
  }

  async function client(username: string, transport: ClientTransport = 'tcp', resource?: string): Promise<TestClient> {
    const c = await connect(server, { transport, username, password: PASSWORD, ...(resource ? { resource } : {}) });
    clients.push(c);
    return c;
  }

  /** A raw stream authenticated with PLAIN and restarted: the cursor is after the post-SASL features. */
  async function rawAuthenticated(username: string): Promise<{ stream: RawStream; features: string }> {
    const stream = await RawStream.connect(server.ports.c2s);
    raws.push(stream);
    stream.write(STREAM_HEADER());
    const [before] = await stream.expect(/<stream:features>.*?<\/stream:features>/s);
    assert.doesNotMatch(before, /urn:xmpp:sm:3/, 'stream management is not offered before authentication (§2)');
    stream.write(plainAuth(username, PASSWORD));
    await stream.expect(/<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"\/>/);
    stream.write(STREAM_HEADER());
    const [features] = await stream.expect(/<stream:features>.*?<\/stream:features>/s);
    return { stream, features };
  }

  async function bind(stream: RawStream, resource: string): Promise<string> {
    stream.write(`<iq type='set' id='bind-1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    const [, jid = ''] = await stream.expect(/<iq type="result" id="bind-1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>([^<]+)<\/jid><\/bind><\/iq>/);
    return jid;
  }

  /** Logs in raw, binds and enables stream management with resumption; returns the resumption id. */
  async function rawManaged(username: string, resource: string): Promise<{ stream: RawStream; jid: string; previd: string }> {
    const login = await rawLogin(server.ports.c2s, username, PASSWORD, resource);
    raws.push(login.stream);
    login.stream.write(`<enable xmlns='${SM}' resume='true'/>`);
    const [, previd = ''] = await login.stream.expect(ENABLED);
    return { stream: login.stream, jid: login.jid, previd };
  }

  async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    for (let waited = 0; !check(); waited += 20) {
      if (waited > timeoutMs) throw new Error(`timed out waiting for ${what}`);
      await delay(20);
    }
  }

  const message = (to: string, n: number) => xml('message', { to, type: 'chat', id: `m${n}` }, xml('body', {}, String(n)));
  const bodyOf = (stanza: LtxElement): string => stanza.getChildText('body') ?? '';
  /** Drops a client's connection without a closing handshake (xmpp.js keeps the socket under `.socket.socket`). */
  function cut(c: TestClient, transport: ClientTransport): void {
    const wrapper = c.xmpp.socket as unknown as { socket: { destroy?(): void; terminate?(): void } };
    if (transport === 'websocket') wrapper.socket.terminate?.();
    else wrapper.socket.destroy?.();
  }
  const hibernating = (jid: string) => () => server.server.sessions.get(jid)?.connected === false;

  describe('the XEP examples over a raw stream', function () {
    it('offers <sm/> after SASL, refuses <enable/> before bind and twice, counts both ways (§2, §3, §4)', async function () {
      const juliet = await user('juliet');
      const romeo = await client(await user('romeo'));
      const { stream, features } = await rawAuthenticated(juliet);
      assert.match(features, /<sm xmlns="urn:xmpp:sm:3"\/>/);

      // §3: before resource binding the server refuses; the stream stays usable.
      stream.write(`<enable xmlns='${SM}'/>`);
      await stream.expect(failedWith('unexpected-request'));
      const jid = await bind(stream, 'balcony');

      stream.write(`<enable xmlns='${SM}' resume='true'/>`);
      const [, previd = ''] = await stream.expect(ENABLED);
      // <node id>.<128 random bits>: names the node that holds the session, and cannot be guessed.
      const [node, random = ''] = previd.split('.');
      assert.equal(Buffer.from(node ?? '', 'base64url').toString(), 'test');
      assert.equal(Buffer.from(random, 'base64url').length, 16, `the resumption id carries 128 random bits: ${previd}`);
      stream.write(`<enable xmlns='${SM}'/>`);
      await stream.expect(failedWith('unexpected-request'));

      // §4, the client's side: stanzas the server handled.
      stream.write(`<r xmlns='${SM}'/>`);
      await stream.expect(/<a xmlns="urn:xmpp:sm:3" h="0"\/>/);
      stream.write(`<message to='${romeo.jid}' type='chat' id='c1'><body>hi</body></message><iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq><r xmlns='${SM}'/>`);
      await romeo.next((s) => s.attrs.id === 'c1');
      await stream.expect(/<iq[^>]*id="p1"[^>]*\/>/);
      await stream.expect(/<a xmlns="urn:xmpp:sm:3" h="2"\/>/);

      // The server's side: one stanza (the ping result) and two messages went out; the client acknowledges them.
      for (const n of [1, 2]) await romeo.xmpp.send(message(jid, n));
      for (let n = 0; n < 2; n++) await stream.element('message');
      stream.write(`<a xmlns='${SM}' h='3'/><r xmlns='${SM}'/>`);
      await stream.expect(/<a xmlns="urn:xmpp:sm:3" h="2"\/>/);
      // An h beyond what was sent: undefined-condition, with the counts (§4), and the stream is closed.
      stream.write(`<a xmlns='${SM}' h='4'/>`);
      await stream.expect(/<stream:error><undefined-condition xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/><text[^>]*>[^<]*<\/text><handled-count-too-high xmlns="urn:xmpp:sm:3" h="4" send-count="3"\/><\/stream:error><\/stream:stream>/);
      await stream.waitClosed();
    });

    it('resumes: drops what h acknowledges, re-sends the rest with <delay/>, then what came while away, in order (§5)', async function () {
      const juliet = await user('juliet');
      const romeo = await client(await user('romeo'));
      const { stream, jid, previd } = await rawManaged(juliet, 'balcony');
      for (const n of [1, 2, 3]) await romeo.xmpp.send(message(jid, n));
      for (const n of [1, 2, 3]) assert.equal(bodyOf(await stream.element('message')), String(n));
      stream.write(`<a xmlns='${SM}' h='1'/>`);
      await delay(100);
      stream.destroy();
      await until(hibernating(jid), 'the session to be kept without a connection');
      const kept = server.server.sessions.get(jid);
      assert.ok(kept, 'the session stays bound (registry) while waiting for resumption');
      for (const n of [4, 5]) await romeo.xmpp.send(message(jid, n));
      await delay(200);

      const { stream: again, features } = await rawAuthenticated(juliet);
      assert.match(features, /<sm xmlns="urn:xmpp:sm:3"\/>/);
      again.write(`<resume xmlns='${SM}' previd='${previd}' h='2'/>`);
      await again.expect(new RegExp(`<resumed xmlns="urn:xmpp:sm:3" h="0" previd="${previd}"/>`));
      for (const n of [3, 4, 5]) {
        const resent = await again.element('message');
        assert.equal(bodyOf(resent), String(n), 'the unacknowledged messages, then the ones that waited, in order');
        assert.equal(resent.getChild('delay', 'urn:xmpp:delay')?.attrs.from, 'localhost', 'a re-sent message carries a delay stamp (XEP-0203)');
      }
      assert.equal(server.server.sessions.get(jid), kept, 'the same session object is bound, not a new one');
      await romeo.xmpp.send(message(jid, 6));
      const fresh = await again.element('message');
      assert.equal(bodyOf(fresh), '6');
      assert.equal(fresh.getChild('delay', 'urn:xmpp:delay'), undefined, 'what comes after the resumption is not delayed');
      // The counter went on from the old stream's: 2 + 3 re-sent + 1.
      again.write(`<a xmlns='${SM}' h='6'/><r xmlns='${SM}'/>`);
      await again.expect(/<a xmlns="urn:xmpp:sm:3" h="0"\/>/);
      assert.doesNotMatch(again.received, /<body>[12]<\/body>/, 'acknowledged messages are not sent again');
      // The same previd stays valid for a later resumption of this session (§5: the client keeps it).
      again.destroy();
      await until(hibernating(jid), 'the session to be kept again');
      const { stream: third } = await rawAuthenticated(juliet);
      third.write(`<resume xmlns='${SM}' previd='${previd}' h='6'/>`);
      await third.expect(new RegExp(`<resumed xmlns="urn:xmpp:sm:3" h="0" previd="${previd}"/>`));
    });

    it('takes the session over from a connection that is still open, which is closed with conflict', async function () {
      const juliet = await user('juliet');
      const { stream: old, jid, previd } = await rawManaged(juliet, 'balcony');
      const { stream } = await rawAuthenticated(juliet);
      stream.write(`<resume xmlns='${SM}' previd='${previd}' h='0'/>`);
      await stream.expect(/<resumed xmlns="urn:xmpp:sm:3" h="0"/);
      await old.expect(/<stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
      await old.waitClosed();
      assert.equal(server.server.sessions.get(jid)?.connected, true);
    });
  });

  describe('xmpp.js resumes a cut connection (@xmpp/client stream-management)', function () {
    for (const transport of ['tcp', 'websocket'] as const) {
      it(`${transport}: every message arrives exactly once and in order while the other side keeps sending`, async function () {
        const COUNT = 40;
        const juliet = await client(await user('juliet'), transport, 'phone');
        const romeo = await client(await user('romeo'));
        const sm = juliet.xmpp.streamManagement;
        assert.equal(sm.enabled, true, 'xmpp.js enabled stream management');
        assert.ok(sm.id, 'with resumption');
        const bodies: string[] = [];
        juliet.xmpp.on('stanza', (stanza: LtxElement) => {
          if (stanza.is('message')) bodies.push(bodyOf(stanza));
        });
        let resumed = false;
        sm.on('resumed', () => (resumed = true));
        let atCut = -1;
        const session = server.server.sessions.get(juliet.jid);

        for (let n = 1; n <= COUNT; n++) {
          await romeo.xmpp.send(message(juliet.jid, n));
          if (n === COUNT / 2) {
            // The connection dies without a closing handshake; xmpp.js reconnects and resumes.
            cut(juliet, transport);
            juliet.xmpp.once('disconnect', () => {
              atCut = bodies.length;
              void juliet.xmpp.reconnect.reconnect().catch(() => undefined);
            });
          }
          await delay(25);
        }
        await until(() => bodies.length >= COUNT, `${COUNT} messages (got ${bodies.length})`, 15_000);
        await delay(500);
        assert.ok(resumed, 'the stream was resumed, not bound afresh');
        assert.ok(atCut > 0 && atCut < COUNT, `the cut came mid-conversation (${atCut} messages before it)`);
        assert.deepEqual(bodies, Array.from({ length: COUNT }, (_, i) => String(i + 1)));
        assert.equal(server.server.sessions.get(juliet.jid), session, 'the same session');
      });
    }

    it('after the resumption timeout, the unacknowledged messages are in offline storage and arrive at the next login', async function () {
      const name = await user('juliet');
      const juliet = await client(name, 'tcp', 'phone');
      const romeo = await client(await user('romeo'));
      juliet.xmpp.reconnect.stop();
      cut(juliet, 'tcp');
      await until(hibernating(juliet.jid), 'the session to be kept');
      for (const n of [1, 2, 3]) await romeo.xmpp.send(message(juliet.jid, n));
      // An iq request and a presence wait with the messages; at the end the iq is answered with an error, the presence dropped.
      await romeo.xmpp.send(xml('iq', { to: juliet.jid, type: 'get', id: 'v1' }, xml('query', { xmlns: 'jabber:iq:version' })));
      await romeo.xmpp.send(xml('presence', { to: juliet.jid }));
      await delay(200);
      assert.equal((await server.server.stores.offline.list(name)).length, 0, 'nothing goes offline while the session may be resumed');
      const bounced = romeo.next((s) => s.is('iq') && s.attrs.id === 'v1', RESUME_TIMEOUT * 1000 + 4000);
      await until(() => server.server.sessions.get(juliet.jid) === undefined, 'the session to end', RESUME_TIMEOUT * 1000 + 3000);
      let stored = await server.server.stores.offline.list(name);
      for (let tries = 0; stored.length < 3 && tries < 50; tries++) stored = await delay(20).then(() => server.server.stores.offline.list(name));
      assert.deepEqual(stored.map((m) => /<body>(\d+)<\/body>/.exec(m.stanza)?.[1]), ['1', '2', '3']);
      const error = await bounced;
      assert.equal(error.attrs.type, 'error');
      assert.ok(error.getChild('error')?.getChild('service-unavailable', 'urn:ietf:params:xml:ns:xmpp-stanzas'), error.toString());

      const back = await client(name, 'websocket', 'laptop');
      await back.xmpp.send(xml('presence'));
      for (const n of [1, 2, 3]) assert.equal(bodyOf(await back.next((s) => s.is('message'))), String(n));
    });
  });

  describe('presence while a session is kept', function () {
    it("the user's other resource sees no unavailable presence until the resumption timeout ends the session", async function () {
      const name = await user('juliet');
      const laptop = await client(name, 'websocket', 'laptop');
      await laptop.xmpp.send(xml('presence'));
      const phone = await client(name, 'tcp', 'phone');
      phone.xmpp.reconnect.stop();
      await phone.xmpp.send(xml('presence'));
      await laptop.next((s) => s.is('presence') && s.attrs.from === phone.jid && s.attrs.type === undefined);
      const unavailable = laptop.next((s) => s.is('presence') && s.attrs.from === phone.jid && s.attrs.type === 'unavailable', RESUME_TIMEOUT * 1000 + 4000);
      let seenAt = 0;
      void unavailable.then(() => (seenAt = Date.now()), () => undefined);
      const cutAt = Date.now();
      cut(phone, 'tcp');
      await until(hibernating(phone.jid), 'the session to be kept');
      await unavailable;
      assert.ok(seenAt - cutAt >= RESUME_TIMEOUT * 1000 - 100, `unavailable came ${seenAt - cutAt} ms after the cut, not before the ${RESUME_TIMEOUT} s timeout`);
    });
  });

  describe('bad input', function () {
    it('an unknown previd gets item-not-found and the client binds afresh', async function () {
      const { stream } = await rawAuthenticated(await user('juliet'));
      stream.write(`<resume xmlns='${SM}' previd='bm90LWEtc2Vzc2lvbg.AAAAAAAAAAAAAAAAAAAAAA' h='0'/>`);
      await stream.expect(failedWith('item-not-found'));
      await bind(stream, 'fresh');
    });

    it("another account's previd gets item-not-found; its owner can still resume", async function () {
      const juliet = await user('juliet');
      const { stream: owner, jid, previd } = await rawManaged(juliet, 'balcony');
      owner.destroy();
      await until(hibernating(jid), 'the session to be kept');
      const { stream: thief } = await rawAuthenticated(await user('mallory'));
      thief.write(`<resume xmlns='${SM}' previd='${previd}' h='0'/>`);
      await thief.expect(failedWith('item-not-found'));
      await bind(thief, 'own');
      const { stream } = await rawAuthenticated(juliet);
      stream.write(`<resume xmlns='${SM}' previd='${previd}' h='0'/>`);
      await stream.expect(/<resumed xmlns="urn:xmpp:sm:3" h="0"/);
    });

    it('an expired previd, and one whose session was resumed and then closed, get item-not-found', async function () {
      const juliet = await user('juliet');
      const expired = await rawManaged(juliet, 'one');
      expired.stream.destroy();
      await until(hibernating(expired.jid), 'the session to be kept');
      await until(() => server.server.sessions.get(expired.jid) === undefined, 'the resumption timeout', RESUME_TIMEOUT * 1000 + 3000);
      const { stream } = await rawAuthenticated(juliet);
      stream.write(`<resume xmlns='${SM}' previd='${expired.previd}' h='0'/>`);
      await stream.expect(failedWith('item-not-found'));

      const closed = await rawManaged(juliet, 'two');
      closed.stream.destroy();
      await until(hibernating(closed.jid), 'the session to be kept');
      const { stream: resumer } = await rawAuthenticated(juliet);
      resumer.write(`<resume xmlns='${SM}' previd='${closed.previd}' h='0'/>`);
      await resumer.expect(/<resumed xmlns="urn:xmpp:sm:3" h="0"/);
      resumer.write('</stream:stream>');
      await resumer.waitClosed();
      await until(() => server.server.sessions.get(closed.jid) === undefined, 'the session to end');
      const { stream: late } = await rawAuthenticated(juliet);
      late.write(`<resume xmlns='${SM}' previd='${closed.previd}' h='0'/>`);
      await late.expect(failedWith('item-not-found'));
      await bind(late, 'three');
    });

    it('a resume whose h is more than was sent is undefined-condition and closes the stream; the session stays resumable', async function () {
      const juliet = await user('juliet');
      const { stream: first, jid, previd } = await rawManaged(juliet, 'balcony');
      first.destroy();
      await until(hibernating(jid), 'the session to be kept');
      const { stream } = await rawAuthenticated(juliet);
      stream.write(`<resume xmlns='${SM}' previd='${previd}' h='7'/>`);
      await stream.expect(/<undefined-condition xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>.*<handled-count-too-high xmlns="urn:xmpp:sm:3" h="7" send-count="0"\/>/s);
      await stream.waitClosed();
      const { stream: again } = await rawAuthenticated(juliet);
      again.write(`<resume xmlns='${SM}' previd='${previd}' h='0'/>`);
      await again.expect(/<resumed xmlns="urn:xmpp:sm:3" h="0"/);
    });

    it('resume after bind is unexpected-request; an unknown element of the namespace is unsupported-stanza-type', async function () {
      const { stream } = await rawManaged(await user('juliet'), 'balcony');
      stream.write(`<resume xmlns='${SM}' previd='x' h='0'/>`);
      await stream.expect(failedWith('unexpected-request'));
      stream.write(`<iq type='get' id='still'><ping xmlns='urn:xmpp:ping'/></iq>`);
      await stream.expect(/<iq[^>]*id="still"/);
      stream.write(`<bogus xmlns='${SM}'/>`);
      await stream.expect(/<unsupported-stanza-type xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
      await stream.waitClosed();
    });

    it('a session kept without a connection is closed past max_unacked and its queue goes offline (and location is announced)', async function () {
      const small = await startTestServer({ c2s: { requireTls: false }, stream_management: { maxUnacked: 3, location: 'xmpp.example.net:5222' } });
      try {
        await small.addUser('juliet', PASSWORD);
        await small.addUser('romeo', PASSWORD);
        const login = await rawLogin(small.ports.c2s, 'juliet', PASSWORD, 'balcony');
        login.stream.write(`<enable xmlns='${SM}' resume='true'/>`);
        await login.stream.expect(/<enabled xmlns="urn:xmpp:sm:3" id="[^"]+" resume="true" max="300" location="xmpp.example.net:5222"\/>/);
        login.stream.destroy();
        await until(() => small.server.sessions.get(login.jid)?.connected === false, 'the session to be kept');
        const romeo = await connect(small, { transport: 'tcp', username: 'romeo', password: PASSWORD });
        try {
          for (const n of [1, 2, 3]) await romeo.xmpp.send(message(login.jid, n));
          await delay(200);
          assert.ok(small.server.sessions.get(login.jid), 'three unacknowledged stanzas are within the bound');
          await romeo.xmpp.send(message(login.jid, 4));
          await until(() => small.server.sessions.get(login.jid) === undefined, 'the session to be closed on overflow');
          let stored = await small.server.stores.offline.list('juliet');
          for (let tries = 0; stored.length < 4 && tries < 50; tries++) stored = await delay(20).then(() => small.server.stores.offline.list('juliet'));
          assert.deepEqual(stored.map((m) => /<body>(\d+)<\/body>/.exec(m.stanza)?.[1]), ['1', '2', '3', '4']);
        } finally {
          await romeo.stop();
        }
      } finally {
        await small.stop();
      }
    });
  });

  describe('server shutdown', function () {
    it('ends sessions kept for resumption: their unacknowledged messages are in offline storage after a restart', async function () {
      const first = await startTestServer({ c2s: { requireTls: false } });
      let second: RunningServer | undefined;
      try {
        await first.addUser('juliet', PASSWORD);
        await first.addUser('romeo', PASSWORD);
        const { stream, jid } = await rawLogin(first.ports.c2s, 'juliet', PASSWORD, 'balcony');
        stream.write(`<enable xmlns='${SM}' resume='true'/>`);
        await stream.expect(/<enabled xmlns="urn:xmpp:sm:3"/);
        stream.destroy();
        await until(() => first.server.sessions.get(jid)?.connected === false, 'the session to be kept');
        const romeo = await connect(first, { transport: 'tcp', username: 'romeo', password: PASSWORD });
        for (const n of [1, 2]) await romeo.xmpp.send(message(jid, n));
        await delay(200);
        await romeo.stop();
        await first.server.stop();

        second = await startServer(first.config, { log: createLogger('silent') });
        const stored = await second.stores.offline.list('juliet');
        assert.deepEqual(stored.map((m) => /<body>(\d+)<\/body>/.exec(m.stanza)?.[1]), ['1', '2']);
      } finally {
        await second?.stop();
        await first.stop();
      }
    });
  });

  describe('BOSH', function () {
    it('enables without resumption, answers <r/>, takes <a/>; <resume/> is feature-not-implemented', async function () {
      const bosh = new RawBosh(server);
      await bosh.login(await user('juliet'), PASSWORD, 'bosh');
      const enabled = await bosh.request(`<enable xmlns='${SM}' resume='true'/>`);
      assert.match(enabled.text, /<enabled xmlns="urn:xmpp:sm:3"\/>/, 'enabled, without an id or resume: BOSH sessions are not resumed');
      const pinged = await bosh.request(`<iq xmlns='jabber:client' type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq><r xmlns='${SM}'/>`);
      assert.match(pinged.text, /id="p1"/);
      assert.match(pinged.text, /<a xmlns="urn:xmpp:sm:3" h="1"\/>/);
      const acked = await bosh.request(`<a xmlns='${SM}' h='1'/><iq xmlns='jabber:client' type='get' id='p2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
      assert.match(acked.text, /id="p2"/);
      assert.doesNotMatch(acked.text, /stream:error/);

      const other = new RawBosh(server);
      const created = await other.create();
      assert.ok(created.text.includes('PLAIN'));
      const name = await user('romeo');
      await other.request(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${name}\0${PASSWORD}`).toString('base64')}</auth>`);
      const restart = await other.request('', { to: server.domain, 'xml:lang': 'en', 'xmpp:restart': 'true', 'xmlns:xmpp': 'urn:xmpp:xbosh' });
      assert.match(restart.text, /<sm xmlns="urn:xmpp:sm:3"\/>/);
      const refused = await other.request(`<resume xmlns='${SM}' previd='x' h='0'/>`);
      assert.match(refused.text, failedWith('feature-not-implemented'));
    });
  });
});
