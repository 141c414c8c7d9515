// XEP-0280 Message Carbons on one node, with real xmpp.js clients: alice on TCP and on WebSocket, bob as
// the third party. Each of alice's enabled resources sees the copies of what the other sent (§8) and
// received (§7); private and no-copy messages are not copied (§9); a resource that did not enable, or
// disabled, gets none; enable/disable answer bad-request for a wrong shape (§4, §5).
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { connect, type ClientTransport, type TestClient } from '../../test/support/clients.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { CARBONS, carbonOf, chat, enable, forwarded, isMessage, nothing } from './test-kit.js';

describe('XEP-0280 Message Carbons (one node)', function () {
  let server: TestServer;
  const clients: TestClient[] = [];
  let tcp: TestClient;
  let ws: TestClient;
  let bob: TestClient;

  const login = async (username: string, resource: string, transport: ClientTransport, priority?: number): Promise<TestClient> => {
    const client = await connect(server, { transport, username, password: 'secret', resource });
    clients.push(client);
    if (priority !== undefined) {
      await client.xmpp.send(xml('presence', {}, xml('priority', {}, String(priority))));
      await client.next((s) => s.is('presence') && s.attrs.from === client.jid);
    }
    return client;
  };

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer({ c2s: { requireTls: false } });
    for (const user of ['alice', 'bob', 'carol']) await server.addUser(user, 'secret');
    tcp = await login('alice', 'tcp', 'tcp', 5);
    ws = await login('alice', 'ws', 'websocket', 1);
    bob = await login('bob', 'home', 'tcp', 0);
    await enable(tcp);
    await enable(ws);
  });

  after(async function () {
    await Promise.all(clients.map((c) => c.stop()));
    await server?.stop();
  });

  it('§3: the server and the account advertise urn:xmpp:carbons:2', async function () {
    for (const to of ['localhost', 'alice@localhost']) {
      const info = await tcp.xmpp.iqCaller.request(xml('iq', { type: 'get', to }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
      const features = (info.getChild('query')?.getChildren('feature') ?? []).map((f) => f.attrs.var as string);
      assert.ok(features.includes(CARBONS), `${to}: ${features.join(' ')}`);
    }
  });

  it('§7: a message to one resource is copied to the other, wrapped as <received/> from the bare JID', async function () {
    await bob.xmpp.send(chat(tcp.jid, 'r1', 'to your TCP client', xml('thread', {}, 'th-1')));
    const original = await tcp.next(isMessage('r1'));
    assert.equal(original.getChildText('body'), 'to your TCP client');
    const carbon = await ws.next(carbonOf('received', 'r1'));
    assert.deepEqual({ from: carbon.attrs.from, to: carbon.attrs.to, type: carbon.attrs.type }, { from: 'alice@localhost', to: ws.jid, type: 'chat' });
    const inner = forwarded(carbon, 'received');
    assert.deepEqual({ ...inner.attrs }, { to: tcp.jid, type: 'chat', id: 'r1', xmlns: 'jabber:client', from: bob.jid });
    assert.equal(inner.getChildText('body'), 'to your TCP client');
    assert.equal(inner.getChildText('thread'), 'th-1');
    // The addressed resource gets the original only.
    await nothing(tcp, carbonOf('received', 'r1'), 'the addressed resource got a copy too');
  });

  it('§7 both ways: the TCP client sees what the WebSocket client received', async function () {
    await bob.xmpp.send(chat(ws.jid, 'r2', 'to your WebSocket client'));
    await ws.next(isMessage('r2'));
    const carbon = await tcp.next(carbonOf('received', 'r2'));
    assert.equal(carbon.attrs.to, tcp.jid);
    assert.equal(forwarded(carbon, 'received').getChildText('body'), 'to your WebSocket client');
  });

  it('§8: what one resource sends is copied to the other as <sent/>, both ways', async function () {
    await ws.xmpp.send(chat(bob.jid, 's1', 'from the browser'));
    assert.equal((await bob.next(isMessage('s1'))).attrs.from, ws.jid);
    const toTcp = await tcp.next(carbonOf('sent', 's1'));
    assert.deepEqual({ from: toTcp.attrs.from, to: toTcp.attrs.to, type: toTcp.attrs.type }, { from: 'alice@localhost', to: tcp.jid, type: 'chat' });
    assert.deepEqual({ from: forwarded(toTcp, 'sent').attrs.from, to: forwarded(toTcp, 'sent').attrs.to }, { from: ws.jid, to: bob.jid });

    await tcp.xmpp.send(chat('bob@localhost', 's2', 'from the desktop'));
    await bob.next(isMessage('s2'));
    const toWs = await ws.next(carbonOf('sent', 's2'));
    assert.equal(forwarded(toWs, 'sent').attrs.from, tcp.jid);
    // §8: not to the sender itself.
    await nothing(tcp, carbonOf('sent', 's2'), 'the sender got a copy of its own message');
  });

  it('§7: a message to the bare JID goes to the highest priority; the other resource gets a copy, never both', async function () {
    await bob.xmpp.send(chat('alice@localhost', 'b1', 'to your account'));
    await tcp.next(isMessage('b1'));
    const carbon = await ws.next(carbonOf('received', 'b1'));
    assert.equal(forwarded(carbon, 'received').attrs.to, 'alice@localhost');
    await nothing(ws, isMessage('b1'), 'the lower priority got the original');

    // Equal priorities: RFC 6121 §8.5.2.1.1 gives it to both, so neither gets a copy.
    await ws.xmpp.send(xml('presence', {}, xml('priority', {}, '5')));
    await ws.next((s) => s.is('presence') && s.attrs.from === ws.jid);
    try {
      await bob.xmpp.send(chat('alice@localhost', 'b2', 'to both'));
      await tcp.next(isMessage('b2'));
      await ws.next(isMessage('b2'));
      await bob.xmpp.send(chat(tcp.jid, 'b2-control', 'control'));
      await ws.next(carbonOf('received', 'b2-control'));
      await nothing(ws, carbonOf('received', 'b2'), 'a resource that got the original also got a copy');
      await nothing(tcp, carbonOf('received', 'b2'), 'a resource that got the original also got a copy');
    } finally {
      await ws.xmpp.send(xml('presence', {}, xml('priority', {}, '1')));
      await ws.next((s) => s.is('presence') && s.attrs.from === ws.jid);
    }
  });

  it('§7: a message to the bare JID that no resource gets (stored offline) is copied to an enabled resource of negative priority', async function () {
    const negative = await login('carol', 'neg', 'websocket', -1);
    await enable(negative);
    await bob.xmpp.send(chat('carol@localhost', 'o1', 'for later'));
    const carbon = await negative.next(carbonOf('received', 'o1'));
    assert.equal(forwarded(carbon, 'received').attrs.to, 'carol@localhost');
    await nothing(negative, isMessage('o1'), 'a negative priority resource got the original');
    await negative.stop();
  });

  it('a message the addressed resource\'s filters stop (XEP-0191 blocking) is not copied to the others', async function () {
    const carol = await login('carol', 'blocked', 'tcp');
    const BLOCKING = 'urn:xmpp:blocking';
    await tcp.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('block', { xmlns: BLOCKING }, xml('item', { jid: 'carol@localhost' }))));
    try {
      await carol.xmpp.send(chat(tcp.jid, 'k1', 'let me in'));
      const refused = await carol.next((s) => s.is('message') && s.attrs.id === 'k1');
      assert.equal(refused.attrs.type, 'error');
      await bob.xmpp.send(chat(tcp.jid, 'k-control', 'control'));
      await ws.next(carbonOf('received', 'k-control'));
      await nothing(ws, carbonOf('received', 'k1'), 'a blocked message reached the other resource as a copy');
    } finally {
      await tcp.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('unblock', { xmlns: BLOCKING }, xml('item', { jid: 'carol@localhost' }))));
      await carol.stop();
    }
  });

  it('§9: messages with <private/> or <no-copy/> are not copied (a plain one sent after them is)', async function () {
    await ws.xmpp.send(chat(bob.jid, 'p1', 'private', xml('private', { xmlns: CARBONS })));
    await bob.next(isMessage('p1'));
    await ws.xmpp.send(chat(bob.jid, 'p2', 'no-copy', xml('no-copy', { xmlns: 'urn:xmpp:hints' })));
    await bob.next(isMessage('p2'));
    await bob.xmpp.send(chat(ws.jid, 'p3', 'private to alice', xml('private', { xmlns: CARBONS }), xml('no-copy', { xmlns: 'urn:xmpp:hints' })));
    await ws.next(isMessage('p3'));
    await bob.xmpp.send(chat(ws.jid, 'p4', 'no-copy to alice', xml('no-copy', { xmlns: 'urn:xmpp:hints' })));
    await ws.next(isMessage('p4'));
    // Positive control, sent after all four: its copy arrives, so theirs would have arrived before it.
    await ws.xmpp.send(chat(bob.jid, 'p-control', 'plain'));
    await tcp.next(carbonOf('sent', 'p-control'));
    for (const id of ['p1', 'p2']) await nothing(tcp, carbonOf('sent', id), `${id} was copied`);
    for (const id of ['p3', 'p4']) await nothing(tcp, carbonOf('received', id), `${id} was copied`);
  });

  it('§6: groupchat, headline, error and normal messages without a body or IM payload are not copied; normal with a body, chat states and receipts are', async function () {
    const normal = (id: string, ...children: Element[]): Element => xml('message', { to: tcp.jid, id }, ...children);
    await bob.xmpp.send(xml('message', { to: tcp.jid, type: 'groupchat', id: 'e0' }, xml('body', {}, 'not from a room')));
    await bob.xmpp.send(xml('message', { to: tcp.jid, type: 'headline', id: 'e1' }, xml('body', {}, 'news')));
    await bob.xmpp.send(xml('message', { to: tcp.jid, type: 'error', id: 'e6' }, xml('body', {}, 'bounced'), xml('error', { type: 'cancel' }, xml('item-not-found', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }))));
    await bob.xmpp.send(normal('e2', xml('subject', {}, 'no body')));
    await bob.xmpp.send(normal('e3', xml('body', {}, 'normal with a body')));
    await bob.xmpp.send(normal('e4', xml('received', { xmlns: 'urn:xmpp:receipts', id: 'r1' })));
    await bob.xmpp.send(normal('e5', xml('active', { xmlns: 'http://jabber.org/protocol/chatstates' })));
    for (const id of ['e0', 'e1', 'e6', 'e2', 'e3', 'e4', 'e5']) await tcp.next((s) => s.is('message') && s.attrs.id === id && !s.getChild('received', CARBONS));
    for (const id of ['e3', 'e4', 'e5']) await ws.next(carbonOf('received', id));
    for (const id of ['e0', 'e1', 'e6', 'e2']) await nothing(ws, carbonOf('received', id), `${id} was copied`);
  });

  it('§4, §5: a resource that did not enable gets no copies; one that disabled stops getting them', async function () {
    const plain = await login('alice', 'plain', 'websocket');
    await bob.xmpp.send(chat(tcp.jid, 'n1', 'who sees this?'));
    await tcp.next(isMessage('n1'));
    await ws.next(carbonOf('received', 'n1'));
    await nothing(plain, carbonOf('received', 'n1'), 'a resource without Carbons got a copy');

    await enable(ws, false);
    // §10.1: disabling twice is no error.
    await enable(ws, false);
    await enable(plain);
    try {
      await bob.xmpp.send(chat(tcp.jid, 'n2', 'and this?'));
      await tcp.next(isMessage('n2'));
      await plain.next(carbonOf('received', 'n2'));
      await nothing(ws, carbonOf('received', 'n2'), 'a resource that disabled Carbons got a copy');
    } finally {
      await enable(ws);
      await enable(ws);
    }
  });

  it('messages between two resources of the account: the addressee gets the original, the others a <sent/> copy', async function () {
    const third = await login('alice', 'third', 'tcp');
    await enable(third);
    await tcp.xmpp.send(chat(ws.jid, 'self1', 'note to self'));
    await ws.next(isMessage('self1'));
    const carbon = await third.next(carbonOf('sent', 'self1'));
    assert.equal(forwarded(carbon, 'sent').attrs.from, tcp.jid);
    await tcp.xmpp.send(chat(bob.jid, 'self-control', 'control'));
    await ws.next(carbonOf('sent', 'self-control'));
    await nothing(ws, carbonOf('sent', 'self1'), 'the addressee got a copy as well');
    await nothing(ws, carbonOf('received', 'self1'), 'the addressee got a copy as well');
    await nothing(tcp, carbonOf('sent', 'self1'), 'the sender got a copy');
    await third.stop();
  });

  it('§6 MUC rules: groupchat and private messages from occupants are not copied; a private message the user sends is', async function () {
    const room = 'carbons@conference.localhost';
    const enter = async (client: TestClient, nick: string): Promise<void> => {
      await client.xmpp.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: 'http://jabber.org/protocol/muc' })));
      await client.next((s) => s.is('presence') && s.attrs.from === `${room}/${nick}` && s.attrs.type === undefined);
    };
    await enter(tcp, 'alice');
    await tcp.xmpp.iqCaller.request(xml('iq', { type: 'set', to: room }, xml('query', { xmlns: 'http://jabber.org/protocol/muc#owner' }, xml('x', { xmlns: 'jabber:x:data', type: 'submit' }))));
    await enter(bob, 'bob');
    try {
      await bob.xmpp.send(xml('message', { to: room, type: 'groupchat', id: 'g1' }, xml('body', {}, 'to the room')));
      await tcp.next((s) => s.is('message') && s.attrs.id === 'g1' && s.attrs.type === 'groupchat');
      await bob.xmpp.send(chat(`${room}/alice`, 'pm1', 'psst, alice'));
      const pm = await tcp.next(isMessage('pm1'));
      assert.equal(pm.attrs.from, `${room}/bob`);
      assert.ok(pm.getChild('x', 'http://jabber.org/protocol/muc#user'), pm.toString());
      // Positive control, sent after: the private message alice sends from TCP is copied to her WebSocket client.
      await tcp.xmpp.send(chat(`${room}/bob`, 'pm2', 'psst, bob', xml('x', { xmlns: 'http://jabber.org/protocol/muc#user' })));
      await bob.next(isMessage('pm2'));
      const sent = await ws.next(carbonOf('sent', 'pm2'));
      assert.equal(forwarded(sent, 'sent').attrs.to, `${room}/bob`);
      await nothing(ws, carbonOf('received', 'g1'), 'a groupchat message was copied');
      await nothing(ws, carbonOf('received', 'pm1'), 'a private message from an occupant was copied');
    } finally {
      await tcp.xmpp.send(xml('presence', { to: `${room}/alice`, type: 'unavailable' }));
      await bob.xmpp.send(xml('presence', { to: `${room}/bob`, type: 'unavailable' }));
    }
  });

  describe('bad input (§4, §5)', function () {
    const refusal = async (iq: Element): Promise<Element> => {
      const id = `bad-${Math.random().toString(36).slice(2)}`;
      iq.attrs.id = id;
      await tcp.xmpp.send(iq);
      return tcp.next((s) => s.is('iq') && s.attrs.id === id);
    };
    const condition = (reply: Element): string | undefined => reply.getChild('error')?.children.find((c): c is Element => typeof c !== 'string' && c.attrs.xmlns === 'urn:ietf:params:xml:ns:xmpp-stanzas')?.name;

    for (const [what, iq] of [
      ['enable with a payload', () => xml('iq', { type: 'set' }, xml('enable', { xmlns: CARBONS }, xml('x', { xmlns: 'jabber:x:data', type: 'submit' })))],
      ['enable with text', () => xml('iq', { type: 'set' }, xml('enable', { xmlns: CARBONS }, 'please'))],
      ['disable with a payload', () => xml('iq', { type: 'set' }, xml('disable', { xmlns: CARBONS }, xml('all', {})))],
      ['enable with an extra child in the iq', () => xml('iq', { type: 'set' }, xml('enable', { xmlns: CARBONS }), xml('disable', { xmlns: CARBONS }))],
      ['enable as a get', () => xml('iq', { type: 'get' }, xml('enable', { xmlns: CARBONS }))],
      ['disable as a get', () => xml('iq', { type: 'get' }, xml('disable', { xmlns: CARBONS }))],
    ] as const) {
      it(`${what}: bad-request, and the session's state is unchanged`, async function () {
        const reply = await refusal(iq());
        assert.equal(reply.attrs.type, 'error', reply.toString());
        assert.equal(condition(reply), 'bad-request', reply.toString());
        // Still enabled (positive control: a copy arrives).
        await bob.xmpp.send(chat(ws.jid, `after-${what}`, 'still copied'));
        await tcp.next(carbonOf('received', `after-${what}`));
      });
    }

    it('a good enable is answered with an empty result', async function () {
      const reply = await refusal(xml('iq', { type: 'set' }, xml('enable', { xmlns: CARBONS })));
      assert.equal(reply.attrs.type, 'result');
      assert.equal(reply.children.length, 0);
    });
  });
});

describe('XEP-0280 with stream management (XEP-0198): copies a session never took stay its own', function () {
  this.timeout(30_000);
  const RESUME_TIMEOUT = 2;
  let server: TestServer;
  const clients: TestClient[] = [];

  before(async function () {
    server = await startTestServer({ c2s: { requireTls: false }, stream_management: { resumeTimeout: RESUME_TIMEOUT } });
    for (const user of ['juliet', 'romeo']) await server.addUser(user, 'secret');
  });

  after(async function () {
    await Promise.all(clients.map((c) => c.stop()));
    await server?.stop();
  });

  it('copies held for a session whose resumption timed out go neither to offline storage nor to the other resources', async function () {
    const login = async (username: string, resource: string): Promise<TestClient> => {
      const client = await connect(server, { transport: 'tcp', username, password: 'secret', resource });
      clients.push(client);
      return client;
    };
    const phone = await login('juliet', 'phone');
    // Bound but not available: a message for the phone that comes back from it goes to offline storage (RFC 6121 §8.5.2.2.1).
    const desk = await login('juliet', 'desk');
    const romeo = await login('romeo', 'home');
    await enable(phone);
    await enable(desk);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // xmpp.js enables stream management with resumption by itself; its socket is under `.socket.socket`.
    const managed = phone.xmpp as unknown as { streamManagement: { enabled: boolean }; socket: { socket: { destroy(): void } } };
    assert.equal(managed.streamManagement.enabled, true, 'xmpp.js enabled stream management');
    phone.xmpp.reconnect.stop();
    managed.socket.socket.destroy();
    for (let waited = 0; server.server.sessions.get(phone.jid)?.connected !== false; waited += 20) {
      if (waited > 10_000) throw new Error(`the phone session was not kept: ${server.server.sessions.get(phone.jid) ? 'still connected' : 'gone'}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // While the phone is away: a received and a sent copy wait for it, and one message addressed to it (the control).
    await romeo.xmpp.send(chat(desk.jid, 'sm1', 'to the desk'));
    await desk.next(isMessage('sm1'));
    await desk.xmpp.send(chat(romeo.jid, 'sm2', 'from the desk'));
    await romeo.next(isMessage('sm2'));
    await romeo.xmpp.send(chat(phone.jid, 'sm3', 'to the phone'));
    for (let waited = 0; server.server.sessions.get(phone.jid) !== undefined; waited += 50) {
      if (waited > RESUME_TIMEOUT * 1000 + 5000) throw new Error('the phone session did not end');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The control reaches offline storage; the copies, routed with it if at all, would be there by then.
    let stored = await server.server.stores.offline.list('juliet');
    for (let tries = 0; !stored.some((m) => m.stanza.includes('id="sm3"')) && tries < 100; tries++) stored = await new Promise((resolve) => setTimeout(resolve, 20)).then(() => server.server.stores.offline.list('juliet'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    stored = await server.server.stores.offline.list('juliet');
    assert.deepEqual(
      stored.map((m) => /^<message[^>]* id="([^"]+)"/.exec(m.stanza)?.[1] ?? m.stanza),
      ['sm3'],
      stored.map((m) => m.stanza).join('\n'),
    );
    // The desk got the copy of sm3 (the phone's session still held it); the phone's copies of sm1 and sm2 stay away.
    await desk.next(carbonOf('received', 'sm3'));
    await nothing(desk, (s) => carbonOf('received', 'sm1')(s) || carbonOf('sent', 'sm2')(s), 'a copy made for the phone came to the desk');
  });
});
