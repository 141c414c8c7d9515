// XEP-0012 Last Activity walked through its own examples: the server's uptime, a contact's last logout
// with its status, the authorisation the spec demands, and queries to clients; with real xmpp.js clients
// over TCP, direct TLS and WebSocket (and a raw TCP client that answers for itself), on both back ends.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import type { RosterItem, SubscriptionState } from '../../src/storage/types.js';
import { describeBackends } from '../../test/support/backends.js';
import { connect, type ClientTransport, type TestClient } from '../../test/support/clients.js';
import { rawLogin, type RawStream } from '../../test/support/raw-stream.js';
import type { TestServer } from '../../test/support/server.js';
import { lastActivityStores } from './store/index.js';

const LAST = 'jabber:iq:last';
const PASSWORD = 'secret';

const lastGet = (to: string, id = 'last1'): Element => xml('iq', { type: 'get', id, to }, xml('query', { xmlns: LAST }));

/** The error a request was refused with: its condition and type. */
async function refusal(request: Promise<unknown>): Promise<{ condition: string; type: string | undefined }> {
  try {
    await request;
  } catch (err) {
    const { condition, element } = err as { condition?: unknown; element?: Element };
    if (typeof condition === 'string') return { condition, type: element?.attrs.type as string | undefined };
    throw err;
  }
  throw new Error('the request succeeded');
}

/** The answer's seconds and character data. */
function activity(result: Element): { seconds: number; text: string } {
  const query = result.getChild('query', LAST);
  assert.ok(query, result.toString());
  const seconds = Number(query.attrs.seconds);
  assert.ok(Number.isInteger(seconds) && seconds >= 0, `seconds="${String(query.attrs.seconds)}"`);
  return { seconds, text: query.getText() };
}

describeBackends('XEP-0012 Last Activity', function (backend) {
  let server: TestServer;
  let startedBetween: [number, number];
  const open: TestClient[] = [];
  const raws: RawStream[] = [];
  let serial = 0;

  const users = async (...prefixes: string[]): Promise<string[]> => {
    const names = prefixes.map((p) => `${p}${++serial}`);
    for (const name of names) await server.addUser(name, PASSWORD);
    return names;
  };
  /** `owner`'s roster item for `contact`: what decides whether the contact may see the owner's presence. */
  const subscription = async (owner: string, contact: string, state: SubscriptionState): Promise<void> => {
    const item: RosterItem = { jid: `${contact}@localhost`, subscription: state, ask: false, approved: false, groups: [] };
    await server.server.stores.roster.setItem(owner, item);
  };
  const login = async (username: string, transport: ClientTransport, resource: string): Promise<TestClient> => {
    const client = await connect(server, { transport, username, password: PASSWORD, resource });
    open.push(client);
    return client;
  };
  /** Waits until the server has recorded a logout of `username` later than `after`. */
  const loggedOut = async (username: string, after: number): Promise<void> => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const last = await server.server.stores.module('last', lastActivityStores).get(username);
      if (last !== undefined && last.timestamp >= after) return;
      if (Date.now() > deadline) throw new Error(`no logout of ${username} recorded`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  before(async function () {
    // Plaintext logins for the raw client.
    const before = Date.now();
    server = await backend.start({ c2s: { requireTls: false } });
    startedBetween = [before, Date.now()];
  });
  afterEach(async function () {
    for (const raw of raws.splice(0)) raw.destroy();
    await Promise.all(open.splice(0).map((c) => c.stop()));
  });
  after(async function () {
    await server?.stop();
  });

  it('§5 Examples 10-11: the server answers with its uptime and no character data', async function () {
    const [romeo] = (await users('romeo')) as [string];
    const client = await login(romeo, 'websocket', 'orchard');
    const result = await client.xmpp.iqCaller.request(lastGet('localhost', 'last3'));
    assert.equal(result.attrs.from, 'localhost');
    const { seconds, text } = activity(result);
    const [earliest, latest] = startedBetween;
    assert.ok(seconds >= Math.floor((Date.now() - latest) / 1000) - 1 && seconds <= Math.ceil((Date.now() - earliest) / 1000), `uptime ${seconds}s`);
    assert.equal(text, '');
  });

  it('§3 Examples 3 and 5: a contact with a subscription learns when the user logged out and their last status', async function () {
    const [juliet, romeo] = (await users('juliet', 'romeo')) as [string, string];
    await subscription(juliet, romeo, 'from');
    await server.server.stores.module('last', lastActivityStores).set(juliet, { timestamp: Date.now() - 903_000, status: 'Heading Home' });
    const client = await login(romeo, 'tcp', 'orchard');
    const result = await client.xmpp.iqCaller.request(lastGet(`${juliet}@localhost`));
    assert.equal(result.attrs.type, 'result');
    assert.equal(result.attrs.from, `${juliet}@localhost`);
    assert.equal(result.attrs.to, client.jid);
    const { seconds, text } = activity(result);
    assert.ok(seconds >= 903 && seconds <= 905, `seconds=${seconds}`);
    assert.equal(text, 'Heading Home');
  });

  it('§3 Example 4: without a presence subscription from the user, the answer is forbidden', async function () {
    const [juliet, romeo, paris] = (await users('juliet', 'romeo', 'paris')) as [string, string, string];
    await server.server.stores.module('last', lastActivityStores).set(juliet, { timestamp: Date.now() - 60_000, status: 'secret' });
    await subscription(juliet, romeo, 'to'); // she sees his presence; he does not see hers
    const romeoClient = await login(romeo, 'tls', 'orchard');
    const parisClient = await login(paris, 'websocket', 'ball');
    assert.deepEqual(await refusal(romeoClient.xmpp.iqCaller.request(lastGet(`${juliet}@localhost`))), { condition: 'forbidden', type: 'auth' });
    assert.deepEqual(await refusal(parisClient.xmpp.iqCaller.request(lastGet(`${juliet}@localhost`))), { condition: 'forbidden', type: 'auth' });
    // For an account that does not exist the RFC 6121 rule (service-unavailable) comes first.
    assert.deepEqual(await refusal(parisClient.xmpp.iqCaller.request(lastGet('nobody-here@localhost'))), { condition: 'service-unavailable', type: 'cancel' });
  });

  it('§3: records the logout with the status of the unavailable presence sent before it, over any transport', async function () {
    const [juliet, romeo] = (await users('juliet', 'romeo')) as [string, string];
    await subscription(juliet, romeo, 'both');
    const romeoClient = await login(romeo, 'tcp', 'orchard');
    assert.deepEqual(await refusal(romeoClient.xmpp.iqCaller.request(lastGet(`${juliet}@localhost`))), { condition: 'item-not-found', type: 'cancel' }, 'never logged out');

    const julietClient = await login(juliet, 'websocket', 'balcony');
    await julietClient.xmpp.send(xml('presence'));
    const before = Date.now();
    await julietClient.xmpp.send(xml('presence', { type: 'unavailable' }, xml('status', {}, 'Heading Home')));
    await julietClient.stop();
    await loggedOut(juliet, before - 1);
    const { seconds, text } = activity(await romeoClient.xmpp.iqCaller.request(lastGet(`${juliet}@localhost`)));
    assert.ok(seconds <= 5, `seconds=${seconds}`);
    assert.equal(text, 'Heading Home');

    // A session that ends without a word leaves no status.
    const again = await login(juliet, 'tls', 'chamber');
    await again.xmpp.send(xml('presence', {}, xml('status', {}, 'back')));
    const second = Date.now();
    await again.stop();
    await loggedOut(juliet, second);
    assert.equal(activity(await romeoClient.xmpp.iqCaller.request(lastGet(`${juliet}@localhost`))).text, '');
  });

  it('§3: while the user has a connected resource the answer is 0 seconds; the logout is the end of the last session', async function () {
    const [juliet, romeo] = (await users('juliet', 'romeo')) as [string, string];
    await subscription(juliet, romeo, 'both');
    await server.server.stores.module('last', lastActivityStores).set(juliet, { timestamp: Date.now() - 86_400_000, status: 'yesterday' });
    const romeoClient = await login(romeo, 'websocket', 'orchard');
    const laptop = await login(juliet, 'tcp', 'laptop');
    const phone = await login(juliet, 'tls', 'phone'); // connected, never available

    const online = activity(await romeoClient.xmpp.iqCaller.request(lastGet(`${juliet}@localhost`)));
    assert.deepEqual(online, { seconds: 0, text: '' }, '"an empty <query/> element whose \'seconds\' attribute is set to a value of \'0\'"');

    await laptop.xmpp.send(xml('presence'));
    await laptop.xmpp.send(xml('presence', { type: 'unavailable' }, xml('status', {}, 'off to bed')));
    await laptop.stop();
    const stillOnline = activity(await romeoClient.xmpp.iqCaller.request(lastGet(`${juliet}@localhost`)));
    assert.equal(stillOnline.seconds, 0, 'the phone is still connected');

    const before = Date.now();
    await phone.stop();
    await loggedOut(juliet, before);
    const { seconds, text } = activity(await romeoClient.xmpp.iqCaller.request(lastGet(`${juliet}@localhost`)));
    assert.ok(seconds <= 5, `seconds=${seconds}`);
    assert.equal(text, 'off to bed', 'the last unavailable presence the user sent');
  });

  it('§3: the user may ask about themselves; last activity cannot be set', async function () {
    const [juliet] = (await users('juliet')) as [string];
    const client = await login(juliet, 'websocket', 'balcony');
    assert.deepEqual(activity(await client.xmpp.iqCaller.request(lastGet(`${juliet}@localhost`))), { seconds: 0, text: '' });
    const set = xml('iq', { type: 'set', id: 'set1', to: `${juliet}@localhost` }, xml('query', { xmlns: LAST, seconds: '5' }));
    assert.deepEqual(await refusal(client.xmpp.iqCaller.request(set)), { condition: 'not-allowed', type: 'cancel' });
    assert.deepEqual(await refusal(client.xmpp.iqCaller.request(xml('iq', { type: 'set', id: 'set2', to: 'localhost' }, xml('query', { xmlns: LAST })))), {
      condition: 'not-allowed',
      type: 'cancel',
    });
  });

  it('§4 Examples 6-8: a query to a full JID reaches the client only from someone who may see the presence', async function () {
    const [juliet, romeo, paris] = (await users('juliet', 'romeo', 'paris')) as [string, string, string];
    await subscription(juliet, romeo, 'both');
    const { stream: balcony, jid: julietJid } = await rawLogin(server.ports.c2s, juliet, PASSWORD, 'balcony');
    raws.push(balcony);
    const romeoClient = await login(romeo, 'tcp', 'orchard');
    const parisClient = await login(paris, 'websocket', 'ball');

    const asked = romeoClient.xmpp.iqCaller.request(lastGet(julietJid, 'last2'));
    const delivered = await balcony.element('iq');
    assert.equal(delivered.attrs.from, romeoClient.jid);
    assert.equal(delivered.attrs.type, 'get');
    assert.ok(delivered.getChild('query', LAST));
    balcony.write(`<iq from='${julietJid}' id='${String(delivered.attrs.id)}' to='${romeoClient.jid}' type='result'><query xmlns='${LAST}' seconds='123'/></iq>`);
    const answer = await asked;
    assert.equal(answer.attrs.from, julietJid);
    assert.deepEqual(activity(answer), { seconds: 123, text: '' });

    // "the user's server MUST NOT deliver the IQ-get to an available resource but instead MUST return a <forbidden/> error"
    assert.deepEqual(await refusal(parisClient.xmpp.iqCaller.request(lastGet(julietJid, 'last4'))), { condition: 'forbidden', type: 'auth' });
    await balcony.silence(/<iq/, 300);
  });

  it('§6 Examples 12-13: the server advertises jabber:iq:last', async function () {
    const [romeo] = (await users('romeo')) as [string];
    const client = await login(romeo, 'tls', 'orchard');
    const info = await client.xmpp.iqCaller.request(xml('iq', { type: 'get', id: 'disco1', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
    const features = info.getChild('query')?.getChildren('feature').map((f) => f.attrs.var as string) ?? [];
    assert.ok(features.includes(LAST), features.join(' '));
  });
});
