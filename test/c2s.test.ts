// End-to-end: a real client (xmpp.js) logs in over TCP with STARTTLS, direct TLS and WebSocket,
// binds, and talks to other users and to the server (RFC 6120, RFC 6121 §8, XEP-0030, XEP-0199).
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { defineModule } from '../src/modules/api.js';
import { connect, type TestClient } from './support/clients.js';
import { describeBackends } from './support/backends.js';
import type { TestServer } from './support/server.js';

describeBackends('c2s with a real client', function (backend) {
  let server: TestServer;
  const clients: TestClient[] = [];
  const open = async (...args: Parameters<typeof connect>): Promise<TestClient> => {
    const c = await connect(...args);
    clients.push(c);
    return c;
  };

  before(async function () {
    server = await backend.start();
    await server.addUser('alice', 'wonderland');
    await server.addUser('bob', 'builder');
  });

  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
  });

  after(async function () {
    await server?.stop();
  });

  it('logs in over TCP with STARTTLS and SCRAM-SHA-1', async function () {
    const alice = await open(server, { transport: 'tcp', username: 'alice', password: 'wonderland', resource: 'laptop', mechanism: 'SCRAM-SHA-1' });
    assert.equal(alice.jid, 'alice@localhost/laptop');
    assert.equal((alice.xmpp as unknown as { socket: { secure?: boolean } }).socket.secure, true);
  });

  it('logs in over TCP with STARTTLS and PLAIN', async function () {
    const bob = await open(server, { transport: 'tcp', username: 'bob', password: 'builder', mechanism: 'PLAIN' });
    assert.match(bob.jid, /^bob@localhost\/.+/, 'the server generates a resource when the client asks for none');
  });

  it('logs in over direct TLS (XEP-0368)', async function () {
    const alice = await open(server, { transport: 'tls', username: 'alice', password: 'wonderland', resource: 'tls' });
    assert.equal(alice.jid, 'alice@localhost/tls');
  });

  it('logs in over WebSocket (RFC 7395)', async function () {
    const bob = await open(server, { transport: 'websocket', username: 'bob', password: 'builder', resource: 'web' });
    assert.equal(bob.jid, 'bob@localhost/web');
  });

  it('refuses a wrong password', async function () {
    await assert.rejects(connect(server, { transport: 'websocket', username: 'alice', password: 'nope' }), /not-authorized/);
    await assert.rejects(connect(server, { transport: 'tcp', username: 'nobody', password: 'nope' }), /not-authorized/);
  });

  it('delivers messages between users on different transports, with from stamped by the server', async function () {
    const alice = await open(server, { transport: 'tcp', username: 'alice', password: 'wonderland', resource: 'tcp' });
    const bob = await open(server, { transport: 'websocket', username: 'bob', password: 'builder', resource: 'ws' });
    await bob.xmpp.send(xml('presence'));
    await alice.xmpp.send(xml('presence'));

    await alice.xmpp.send(xml('message', { to: 'bob@localhost/ws', type: 'chat', id: 'm1' }, xml('body', {}, 'full JID')));
    const first = await bob.next((s) => s.is('message'));
    assert.equal(first.attrs.from, 'alice@localhost/tcp');
    assert.equal(first.getChildText('body'), 'full JID');

    await alice.xmpp.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'm2' }, xml('body', {}, 'bare JID')));
    const second = await bob.next((s) => s.is('message'));
    assert.equal(second.getChildText('body'), 'bare JID');

    await bob.xmpp.send(xml('message', { to: 'alice@localhost/tcp', type: 'chat', from: 'mallory@localhost' }, xml('body', {}, 'spoof')));
    // A forged 'from' is a stream error (RFC 6120 §8.1.2.1): bob's stream is closed, alice gets nothing.
    await assert.rejects(alice.next((s) => s.is('message'), 500));
  });

  it('answers a message to an unknown local user with service-unavailable (RFC 6121 §8.5.1)', async function () {
    const alice = await open(server, { transport: 'websocket', username: 'alice', password: 'wonderland' });
    await alice.xmpp.send(xml('message', { to: 'ghost@localhost', type: 'chat', id: 'g1' }, xml('body', {}, 'hello?')));
    const bounce = await alice.next((s) => s.is('message') && s.attrs.type === 'error');
    assert.equal(bounce.attrs.from, 'ghost@localhost');
    assert.ok(bounce.getChild('error')?.getChild('service-unavailable', 'urn:ietf:params:xml:ns:xmpp-stanzas'));
  });

  it('answers a groupchat message to a user\'s bare JID with service-unavailable (RFC 6121 §8.5.2.2.1)', async function () {
    const alice = await open(server, { transport: 'tcp', username: 'alice', password: 'wonderland' });
    await alice.xmpp.send(xml('message', { to: 'bob@localhost', type: 'groupchat', id: 'o1' }, xml('body', {}, 'are you there?')));
    const bounce = await alice.next((s) => s.is('message') && s.attrs.type === 'error');
    assert.equal(bounce.attrs.id, 'o1');
    assert.ok(bounce.getChild('error')?.getChild('service-unavailable', 'urn:ietf:params:xml:ns:xmpp-stanzas'));
  });

  it('answers an unknown server domain with remote-server-not-found', async function () {
    const alice = await open(server, { transport: 'tcp', username: 'alice', password: 'wonderland' });
    await assert.rejects(alice.xmpp.iqCaller.get(xml('query', { xmlns: 'jabber:iq:version' }), 'example.org'), /remote-server-not-found/);
  });

  it('answers disco#info with the features modules registered (XEP-0030)', async function () {
    const alice = await open(server, { transport: 'websocket', username: 'alice', password: 'wonderland' });
    const result = await alice.xmpp.iqCaller.get(xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), 'localhost');
    const query = result.getChild('query', 'http://jabber.org/protocol/disco#info') ?? result;
    const features = query.getChildren('feature').map((f) => f.attrs.var);
    for (const f of ['http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items', 'urn:xmpp:ping', 'jabber:iq:version']) assert.ok(features.includes(f), `missing ${f}`);
    const identity = query.getChild('identity');
    assert.equal(identity?.attrs.category, 'server');
    assert.equal(identity?.attrs.type, 'im');
    await assert.rejects(alice.xmpp.iqCaller.get(xml('query', { xmlns: 'http://jabber.org/protocol/disco#info', node: 'nope' }), 'localhost'), /item-not-found/);
  });

  it('answers ping (XEP-0199) and software version (XEP-0092)', async function () {
    const bob = await open(server, { transport: 'tcp', username: 'bob', password: 'builder' });
    const pong = await bob.xmpp.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    assert.equal(pong.attrs.type, 'result');
    const version = await bob.xmpp.iqCaller.get(xml('query', { xmlns: 'jabber:iq:version' }), 'localhost');
    const query = version.getChild('query') ?? version;
    assert.equal(query.getChildText('name'), 'Ratatosk');
  });

  it('answers an iq nobody handles with service-unavailable', async function () {
    const bob = await open(server, { transport: 'websocket', username: 'bob', password: 'builder' });
    await assert.rejects(bob.xmpp.iqCaller.get(xml('query', { xmlns: 'urn:example:nothing' }), 'localhost'), /service-unavailable/);
  });

  it('replaces the older session when the same full JID binds again (conflict)', async function () {
    const first = await open(server, { transport: 'tcp', username: 'alice', password: 'wonderland', resource: 'phone' });
    const closed = new Promise<string>((resolve) => first.xmpp.on('error', (err: Error) => resolve(String((err as Error & { condition?: string }).condition ?? err.message))));
    const second = await open(server, { transport: 'websocket', username: 'alice', password: 'wonderland', resource: 'phone' });
    assert.equal(second.jid, 'alice@localhost/phone');
    assert.equal(await closed, 'conflict');
    const pong = await second.xmpp.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    assert.equal(pong.attrs.type, 'result');
    assert.equal(server.server.sessions.resources('alice@localhost').length, 1);
  });

  it("answers bind only after the 'session:binding' listeners finished (a cluster's directory registration), and 'session:bound' after the answer", async function () {
    const order: string[] = [];
    const name = `bind-order-${backend.name}`;
    await server.server.modules.start(defineModule({
      name,
      specs: [],
      setup(ctx) {
        ctx.hook('session:binding', async (session) => {
          if (session.jid.resource !== 'ordered') return;
          await new Promise((resolve) => setTimeout(resolve, 300));
          order.push('binding done');
        });
        ctx.hook('session:bound', (session) => {
          if (session.jid.resource === 'ordered') order.push('bound');
        });
      },
    }));
    try {
      await open(server, { transport: 'websocket', username: 'bob', password: 'builder', resource: 'ordered' });
      order.push('bind result read');
      // 'bound' is emitted once the result is written: it may come just before or after the client reads it.
      assert.equal(order[0], 'binding done', `order: ${order.join(', ')}`);
      assert.ok(order.includes('bind result read'), `order: ${order.join(', ')}`);
    } finally {
      await server.server.modules.stop(name);
    }
  });
});
