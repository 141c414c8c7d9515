// Stanzas on their way to a session that ends go back into routing (src/stream/undelivered.ts), for every
// transport: a delivery still under way when a TCP or WebSocket session is taken out of routing ends in
// offline storage (chat message) or in an error to the sender (iq get), not in a closed socket. The BOSH
// queue at an inactivity timeout is tested with Strophe.js in test/bosh.test.ts.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { connect, type ClientTransport, type TestClient } from './support/clients.js';
import { startTestServer, type TestServer } from './support/server.js';
// What the server hands its sessions is built with its own element class (the router checks children with instanceof).
import { xml as serverXml } from '../src/xml/element.js';

const PASSWORD = 'und3livered';
const later = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('stanzas for a session that ended are routed again', function () {
  let server: TestServer;
  const clients: TestClient[] = [];
  let count = 0;

  before(async function () {
    server = await startTestServer({ c2s: { requireTls: false } });
  });

  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
  });

  after(async function () {
    await server?.stop();
  });

  async function login(prefix: string, transport: ClientTransport): Promise<{ client: TestClient; name: string }> {
    const name = `${prefix}${++count}`;
    await server.addUser(name, PASSWORD);
    const client = await connect(server, { transport, username: name, password: PASSWORD, resource: 'r' });
    clients.push(client);
    return { client, name };
  }

  async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
    let value = await read();
    for (let tries = 0; !done(value) && tries < 150; tries++) value = await later(20).then(read);
    return value;
  }

  for (const transport of ['tcp', 'websocket'] as const) {
    it(`${transport}: a message delivered as the session ends goes offline, an iq get is bounced`, async function () {
      // Three logins and a logout: on a saturated 2-core machine (CI beside load runs) this took over 30 s once.
      this.timeout(90_000);
      const sender = await login('sender', 'websocket');
      const { client: recipient, name } = await login('recipient', transport);
      await recipient.xmpp.send(xml('presence'));
      const full = `${name}@localhost/r`;
      const session = server.server.sessions.get(full);
      assert.ok(session);
      await recipient.stop();
      clients.splice(clients.indexOf(recipient), 1);
      await until(async () => server.server.sessions.get(full), (s) => s === undefined);

      // What a delivery that had looked the session up before it ended does next.
      session.send(serverXml('message', { from: sender.client.jid, to: full, type: 'chat', id: 'late' }, serverXml('body', null, 'too late?')));
      session.send(serverXml('iq', { from: sender.client.jid, to: full, type: 'get', id: 'late-iq' }, serverXml('ping', { xmlns: 'urn:xmpp:ping' })));
      session.send(serverXml('presence', { from: sender.client.jid, to: full }));

      const bounced = await sender.client.next((s) => s.is('iq') && s.attrs.id === 'late-iq', 5000);
      assert.equal(bounced.attrs.type, 'error');
      assert.ok(bounced.getChild('error')?.getChild('service-unavailable'), bounced.toString());
      const stored = await until(() => server.server.stores.offline.list(name, 10), (list) => list.length > 0);
      assert.equal(stored.length, 1);
      assert.match(stored[0]?.stanza ?? '', /too late\?/);

      const back = await connect(server, { transport, username: name, password: PASSWORD, resource: 'again' });
      clients.push(back);
      await back.xmpp.send(xml('presence'));
      const delivered = await back.next((s) => s.is('message') && s.attrs.id === 'late', 5000);
      assert.equal(delivered.getChildText('body'), 'too late?');
    });
  }

  it('leaves a message to the bare JID alone when another resource of the same priority got its own copy', async function () {
    const sender = await login('sender', 'websocket');
    const { client: first, name } = await login('twice', 'tcp');
    await first.xmpp.send(xml('presence'));
    const second = await connect(server, { transport: 'websocket', username: name, password: PASSWORD, resource: 'other' });
    clients.push(second);
    await second.xmpp.send(xml('presence'));
    await later(100);
    const session = server.server.sessions.get(`${name}@localhost/r`);
    assert.ok(session);
    await first.stop();
    clients.splice(clients.indexOf(first), 1);
    await until(async () => server.server.sessions.get(`${name}@localhost/r`), (s) => s === undefined);

    session.send(serverXml('message', { from: sender.client.jid, to: `${name}@localhost`, type: 'chat', id: 'bare' }, serverXml('body', null, 'to both')));
    session.send(serverXml('message', { from: sender.client.jid, to: `${name}@localhost/r`, type: 'chat', id: 'full' }, serverXml('body', null, 'to the first')));
    const got = await second.next((s) => s.is('message') && s.attrs.id !== undefined, 5000);
    assert.equal(got.attrs.id, 'full', 'the full-JID message falls back to the other resource (RFC 6121 §8.5.3.2.1); the bare one is not sent twice');
    await assert.rejects(second.next((s) => s.is('message') && s.attrs.id === 'bare', 500));
  });
});
