// RFC 6121 §3: the subscription handshake between real clients (TCP and WebSocket), requests kept for an
// offline user, pre-approval, cancelling and unsubscribing, and roster removal (§2.5.2), on both back ends.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { describeBackends } from '../../test/support/backends.js';
import type { TestServer } from '../../test/support/server.js';
import { befriend, Clients, isPresence, isPush, nothing, PASSWORD, pushed, rosterGet, rosterSet } from './test-kit.js';

describeBackends('RFC 6121 presence subscriptions', function (backend) {
  let server: TestServer | undefined;
  const clients = new Clients(() => server as TestServer);
  let serial = 0;
  const users = async (...prefixes: string[]): Promise<string[]> => {
    const names = prefixes.map((p) => `${p}${++serial}`);
    for (const name of names) await (server as TestServer).addUser(name, PASSWORD);
    return names;
  };
  const item = (push: ReturnType<typeof pushed>): [string, string, string | undefined, string | undefined] => [
    push.item.attrs.jid as string,
    push.item.attrs.subscription as string,
    push.item.attrs.ask as string | undefined,
    push.item.attrs.approved as string | undefined,
  ];

  before(async function () {
    server = await backend.start();
  });
  afterEach(() => clients.stopAll());
  after(async function () {
    await server?.stop();
  });

  it('walks the whole handshake between two online users, both ways (§3.1, §3.1.5, Appendix A)', async function () {
    const [a, b] = await users('juliet', 'romeo') as [string, string];
    const A = `${a}@localhost`;
    const B = `${b}@localhost`;
    const juliet = await clients.online(a, 'tcp', 'balcony');
    const romeo = await clients.online(b, 'websocket', 'orchard');

    // Juliet asks for Romeo's presence (§3.1.1); her server stamps her bare JID (§3.1.2).
    await juliet.xmpp.send(xml('presence', { to: B, type: 'subscribe' }));
    assert.deepEqual(item(pushed(await juliet.next(isPush(B)))), [B, 'none', 'subscribe', undefined]);
    await romeo.next(isPresence(A, 'subscribe'));

    // Romeo approves (§3.1.4): both rosters change, Juliet gets 'subscribed' and Romeo's presence.
    await romeo.xmpp.send(xml('presence', { to: A, type: 'subscribed' }));
    assert.deepEqual(item(pushed(await romeo.next(isPush(A)))), [A, 'from', undefined, undefined]);
    assert.deepEqual(item(pushed(await juliet.next(isPush(B)))), [B, 'to', undefined, undefined]);
    await juliet.next(isPresence(B, 'subscribed'));
    await juliet.next(isPresence(`${B}/orchard`));

    // And back: Romeo subscribes to Juliet.
    await romeo.xmpp.send(xml('presence', { to: A, type: 'subscribe' }));
    assert.deepEqual(item(pushed(await romeo.next(isPush(A)))), [A, 'from', 'subscribe', undefined]);
    await juliet.next(isPresence(B, 'subscribe'));
    await juliet.xmpp.send(xml('presence', { to: B, type: 'subscribed' }));
    assert.deepEqual(item(pushed(await juliet.next(isPush(B)))), [B, 'both', undefined, undefined]);
    assert.deepEqual(item(pushed(await romeo.next(isPush(A)))), [A, 'both', undefined, undefined]);
    await romeo.next(isPresence(A, 'subscribed'));
    await romeo.next(isPresence(`${A}/balcony`));

    // Presence now flows both ways (§4.4).
    await juliet.xmpp.send(xml('presence', {}, xml('show', {}, 'away')));
    assert.equal((await romeo.next(isPresence(`${A}/balcony`))).getChildText('show'), 'away');
    await romeo.xmpp.send(xml('presence', {}, xml('status', {}, 'under the window')));
    assert.equal((await juliet.next(isPresence(`${B}/orchard`))).getChildText('status'), 'under the window');
  });

  it('keeps a request for an offline user and delivers it at every login until answered (§3.1.3)', async function () {
    const [a, b] = await users('juliet', 'romeo') as [string, string];
    const A = `${a}@localhost`;
    const B = `${b}@localhost`;
    const juliet = await clients.online(a, 'websocket', 'balcony');
    await juliet.xmpp.send(xml('presence', { to: B, type: 'subscribe' }));
    await juliet.next(isPush(B));

    let romeo = await clients.login(b, 'tcp', 'orchard');
    await nothing(romeo, isPresence(A, 'subscribe'), 300);
    await romeo.xmpp.send(xml('presence'));
    const request = await romeo.next(isPresence(A, 'subscribe'));
    assert.ok(request.getChild('delay', 'urn:xmpp:delay'), 'a request delivered later carries a delay stamp');
    assert.equal((await rosterGet(romeo)).getChild('query', 'jabber:iq:roster')?.getChildren('item').length, 0, 'a request alone adds no roster item');
    await romeo.stop();

    romeo = await clients.login(b, 'tcp', 'orchard');
    await romeo.xmpp.send(xml('presence'));
    await romeo.next(isPresence(A, 'subscribe'));
    await romeo.xmpp.send(xml('presence', { to: A, type: 'subscribed' }));
    assert.deepEqual(item(pushed(await juliet.next(isPush(B)))), [B, 'to', undefined, undefined]);
    await juliet.next(isPresence(B, 'subscribed'));
    await romeo.stop();

    romeo = await clients.login(b, 'websocket', 'again');
    await romeo.xmpp.send(xml('presence'));
    await nothing(romeo, isPresence(A, 'subscribe'), 400);
  });

  it('pre-approves a request before it arrives (§3.4)', async function () {
    const [a, b] = await users('juliet', 'romeo') as [string, string];
    const A = `${a}@localhost`;
    const B = `${b}@localhost`;
    const juliet = await clients.online(a, 'tcp', 'balcony');
    const romeo = await clients.online(b, 'websocket', 'orchard');

    await romeo.xmpp.send(xml('presence', { to: A, type: 'subscribed' }));
    assert.deepEqual(item(pushed(await romeo.next(isPush(A)))), [A, 'none', undefined, 'true']);
    await nothing(juliet, isPresence(B, 'subscribed'), 300);

    await juliet.xmpp.send(xml('presence', { to: B, type: 'subscribe' }));
    assert.deepEqual(item(pushed(await romeo.next(isPush(A)))), [A, 'from', undefined, undefined]);
    await juliet.next(isPresence(B, 'subscribed'));
    const final = await juliet.next((s) => isPush(B)(s) && pushed(s).item.attrs.subscription === 'to');
    assert.deepEqual(item(pushed(final)), [B, 'to', undefined, undefined]);
    await juliet.next(isPresence(`${B}/orchard`));
    await nothing(romeo, isPresence(A, 'subscribe'), 200);
  });

  it('cancels with unsubscribed and unsubscribes with unsubscribe, with unavailable presence to match (§3.2, §3.3)', async function () {
    const [a, b] = await users('juliet', 'romeo') as [string, string];
    const A = `${a}@localhost`;
    const B = `${b}@localhost`;
    await befriend(server as TestServer, a, b);
    const juliet = await clients.online(a, 'tcp', 'balcony');
    const romeo = await clients.online(b, 'websocket', 'orchard');
    await juliet.next(isPresence(`${B}/orchard`));
    await romeo.next(isPresence(`${A}/balcony`)); // the answer to Romeo's probe (§4.3)

    // Juliet no longer wants Romeo's presence.
    await juliet.xmpp.send(xml('presence', { to: B, type: 'unsubscribe' }));
    assert.deepEqual(item(pushed(await juliet.next(isPush(B)))), [B, 'from', undefined, undefined]);
    await romeo.next(isPresence(A, 'unsubscribe'));
    assert.deepEqual(item(pushed(await romeo.next(isPush(A)))), [A, 'to', undefined, undefined]);
    await juliet.next(isPresence(`${B}/orchard`, 'unavailable'));

    // Juliet cancels Romeo's subscription to her.
    await juliet.xmpp.send(xml('presence', { to: B, type: 'unsubscribed' }));
    assert.deepEqual(item(pushed(await juliet.next(isPush(B)))), [B, 'none', undefined, undefined]);
    await romeo.next(isPresence(A, 'unsubscribed'));
    assert.deepEqual(item(pushed(await romeo.next(isPush(A)))), [A, 'none', undefined, undefined]);
    await romeo.next(isPresence(`${A}/balcony`, 'unavailable'));

    // Nothing left to cancel: not routed (A.2.4 "None").
    await juliet.xmpp.send(xml('presence', { to: B, type: 'unsubscribed' }));
    await nothing(romeo, isPresence(A, 'unsubscribed'), 300);
    await juliet.xmpp.send(xml('presence', {}, xml('status', {}, 'alone')));
    await nothing(romeo, isPresence(`${A}/balcony`), 300);
  });

  it('removing an item ends the subscriptions both ways (§2.5.2)', async function () {
    const [a, b] = await users('juliet', 'romeo') as [string, string];
    const A = `${a}@localhost`;
    const B = `${b}@localhost`;
    await befriend(server as TestServer, a, b);
    const juliet = await clients.online(a, 'websocket', 'balcony');
    const romeo = await clients.online(b, 'tcp', 'orchard');
    await juliet.next(isPresence(`${B}/orchard`));

    await rosterSet(juliet, { jid: B, subscription: 'remove' });
    assert.equal(pushed(await juliet.next(isPush(B))).item.attrs.subscription, 'remove');
    await romeo.next(isPresence(A, 'unsubscribe'));
    await romeo.next(isPresence(A, 'unsubscribed'));
    await romeo.next(isPresence(`${A}/balcony`, 'unavailable'));
    const last = await romeo.next((s) => isPush(A)(s) && pushed(s).item.attrs.subscription === 'none');
    assert.deepEqual(item(pushed(last)), [A, 'none', undefined, undefined]);
  });

  it('answers a request to a user who does not exist with unsubscribed (§8.5.1)', async function () {
    const [a] = await users('juliet') as [string];
    const juliet = await clients.online(a, 'tcp', 'balcony');
    await juliet.xmpp.send(xml('presence', { to: 'nobody@localhost', type: 'subscribe' }));
    assert.deepEqual(item(pushed(await juliet.next(isPush('nobody@localhost')))), ['nobody@localhost', 'none', 'subscribe', undefined]);
    await juliet.next(isPresence('nobody@localhost', 'unsubscribed'));
    assert.deepEqual(item(pushed(await juliet.next(isPush('nobody@localhost')))), ['nobody@localhost', 'none', undefined, undefined]);
  });

  it('records a request to another domain and routes it on (§3.1.2)', async function () {
    const [a] = await users('juliet') as [string];
    const juliet = await clients.online(a, 'websocket', 'balcony');
    await juliet.xmpp.send(xml('presence', { to: 'romeo@example.net/phone', type: 'subscribe' }));
    assert.deepEqual(item(pushed(await juliet.next(isPush('romeo@example.net')))), ['romeo@example.net', 'none', 'subscribe', undefined]);
  });
});
