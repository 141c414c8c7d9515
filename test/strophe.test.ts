// Strophe.js, a second real client library, logs in over WebSocket (RFC 7395) with SCRAM-SHA-256
// and chats with an xmpp.js client on TCP.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { $msg, $pres } from 'strophe.js';
import { connect, type TestClient } from './support/clients.js';
import { describeBackends } from './support/backends.js';
import type { TestServer } from './support/server.js';
import { connectStrophe, StropheAuthError, type StropheClient } from './support/strophe.js';

describeBackends('Strophe.js over WebSocket', function (backend) {
  let server: TestServer;
  const stropheClients: StropheClient[] = [];
  const xmppClients: TestClient[] = [];

  before(async function () {
    server = await backend.start();
    await server.addUser('juliet', 'r0m30myr0m30');
    await server.addUser('romeo', 'j-u-l-i-e-t');
  });

  afterEach(async function () {
    await Promise.all([...stropheClients.splice(0).map((c) => c.stop()), ...xmppClients.splice(0).map((c) => c.stop())]);
  });

  after(async function () {
    await server?.stop();
  });

  it('logs in with SCRAM-SHA-256 and binds the requested resource', async function () {
    const juliet = await connectStrophe(server, { transport: 'websocket', username: 'juliet', password: 'r0m30myr0m30', resource: 'balcony', mechanisms: ['SCRAM-SHA-256'] });
    stropheClients.push(juliet);
    assert.equal(juliet.jid, 'juliet@localhost/balcony');
    assert.equal(juliet.connection.connected, true);
    // The mechanism on the wire, and the server's proof in <success/> (RFC 5802 server-final-message).
    const auth = juliet.sent.find((frame) => frame.includes('<auth '));
    assert.match(auth ?? '', /mechanism="SCRAM-SHA-256"/);
    const success = juliet.received.find((frame) => frame.includes('<success'));
    assert.match(Buffer.from(/>([^<]+)<\/success>/.exec(success ?? '')?.[1] ?? '', 'base64').toString(), /^v=[A-Za-z0-9+/=]+$/);
    assert.ok(server.server.sessions.get('juliet@localhost/balcony'), 'the server has the session');
  });

  it('exchanges chat messages with an xmpp.js client on TCP', async function () {
    const juliet = await connectStrophe(server, { transport: 'websocket', username: 'juliet', password: 'r0m30myr0m30', resource: 'web', mechanisms: ['SCRAM-SHA-256'] });
    stropheClients.push(juliet);
    const romeo = await connect(server, { transport: 'tcp', username: 'romeo', password: 'j-u-l-i-e-t', resource: 'tcp' });
    xmppClients.push(romeo);

    juliet.send($msg({ to: 'romeo@localhost/tcp', type: 'chat', id: 's1' }).c('body').t('Wherefore art thou?'));
    const fromStrophe = await romeo.next((s) => s.is('message'));
    assert.equal(fromStrophe.attrs.from, 'juliet@localhost/web');
    assert.equal(fromStrophe.attrs.type, 'chat');
    assert.equal(fromStrophe.getChildText('body'), 'Wherefore art thou?');

    // To the bare JID: delivered to the available resource, so Strophe announces itself first.
    juliet.send($pres());
    await romeo.xmpp.send(xml('message', { to: 'juliet@localhost', type: 'chat', id: 'x1' }, xml('body', {}, 'Here, by the orchard wall.')));
    const toStrophe = await juliet.next((s) => s.tagName === 'message');
    assert.equal(toStrophe.getAttribute('from'), 'romeo@localhost/tcp');
    assert.equal(toStrophe.getAttribute('to'), 'juliet@localhost');
    assert.equal(toStrophe.getAttribute('type'), 'chat');
    assert.equal(toStrophe.getElementsByTagName('body')[0]?.textContent, 'Here, by the orchard wall.');
  });

  it('reports a wrong password through the auth-failure status with not-authorized', async function () {
    await assert.rejects(
      connectStrophe(server, { transport: 'websocket', username: 'juliet', password: 'tybalt', mechanisms: ['SCRAM-SHA-256'] }),
      (err: unknown) => err instanceof StropheAuthError && err.condition === 'not-authorized',
    );
  });
});
