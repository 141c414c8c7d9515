// RFC 6121 §4: initial presence and probes, broadcast to subscribers only, unavailable presence on a clean
// close and on a dropped socket, directed presence, and probes that reveal nothing; on both back ends.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { describeBackends } from '../../test/support/backends.js';
import type { TestServer } from '../../test/support/server.js';
import { befriend, Clients, isPresence, isPush, nothing, PASSWORD, pushed } from './test-kit.js';

describeBackends('RFC 6121 presence', function (backend) {
  let server: TestServer | undefined;
  const clients = new Clients(() => server as TestServer);
  let serial = 0;
  const users = async (...prefixes: string[]): Promise<string[]> => {
    const names = prefixes.map((p) => `${p}${++serial}`);
    for (const name of names) await (server as TestServer).addUser(name, PASSWORD);
    return names;
  };

  before(async function () {
    // Plaintext logins for the raw client whose socket is dropped.
    server = await backend.start({ c2s: { requireTls: false } });
  });
  afterEach(() => clients.stopAll());
  after(async function () {
    await server?.stop();
  });

  it("sends a newcomer its contacts' presence (probes) and tells them it arrived (§4.2, §4.3)", async function () {
    const [a, b] = (await users('juliet', 'romeo')) as [string, string];
    await befriend(server as TestServer, a, b);
    const juliet = await clients.online(a, 'tcp', 'balcony', xml('presence', {}, xml('status', {}, 'waiting'), xml('priority', {}, '5')));

    const romeo = await clients.online(b, 'websocket', 'orchard');
    const hers = await romeo.next(isPresence(`${a}@localhost/balcony`));
    assert.equal(hers.getChildText('status'), 'waiting', 'the last presence she sent, as she sent it');
    assert.equal(hers.attrs.to, `${b}@localhost/orchard`);
    await juliet.next(isPresence(`${b}@localhost/orchard`));

    // A second resource of Romeo's sees the first, and the first sees it (§4.2.2).
    const second = await clients.online(b, 'tcp', 'garden');
    await second.next(isPresence(`${b}@localhost/orchard`));
    await second.next(isPresence(`${a}@localhost/balcony`));
    await romeo.next(isPresence(`${b}@localhost/garden`));
    await juliet.next(isPresence(`${b}@localhost/garden`));
  });

  it('broadcasts presence to subscribers only (§4.4)', async function () {
    const [a, b, c] = (await users('juliet', 'romeo', 'paris')) as [string, string, string];
    await befriend(server as TestServer, a, b);
    const romeo = await clients.online(b, 'tcp', 'orchard');
    const paris = await clients.online(c, 'websocket', 'ball');
    const juliet = await clients.online(a, 'websocket', 'balcony');
    await romeo.next(isPresence(`${a}@localhost/balcony`));

    await juliet.xmpp.send(xml('presence', {}, xml('show', {}, 'dnd')));
    assert.equal((await romeo.next(isPresence(`${a}@localhost/balcony`))).getChildText('show'), 'dnd');
    assert.equal((await juliet.next(isPresence(`${a}@localhost/balcony`))).getChildText('show'), 'dnd', 'her own resources too');
    await nothing(paris, isPresence(`${a}@localhost/balcony`));
  });

  it('broadcasts unavailable presence when a client closes its stream cleanly (§4.5)', async function () {
    const [a, b] = (await users('juliet', 'romeo')) as [string, string];
    await befriend(server as TestServer, a, b);
    const romeo = await clients.online(b, 'websocket', 'orchard');
    const juliet = await clients.online(a, 'tcp', 'balcony');
    await romeo.next(isPresence(`${a}@localhost/balcony`));
    await juliet.stop();
    await romeo.next(isPresence(`${a}@localhost/balcony`, 'unavailable'));
  });

  it('broadcasts unavailable presence once when the client says so and then leaves (§4.5.1)', async function () {
    const [a, b] = (await users('juliet', 'romeo')) as [string, string];
    await befriend(server as TestServer, a, b);
    const romeo = await clients.online(b, 'tcp', 'orchard');
    const juliet = await clients.online(a, 'websocket', 'balcony');
    await romeo.next(isPresence(`${a}@localhost/balcony`));
    await juliet.xmpp.send(xml('presence', { type: 'unavailable' }, xml('status', {}, 'gone to bed')));
    assert.equal((await romeo.next(isPresence(`${a}@localhost/balcony`, 'unavailable'))).getChildText('status'), 'gone to bed');
    await juliet.stop();
    await nothing(romeo, isPresence(`${a}@localhost/balcony`, 'unavailable'));
  });

  it('broadcasts unavailable presence when the socket drops without a goodbye (§4.5)', async function () {
    const [a, b] = (await users('juliet', 'romeo')) as [string, string];
    await befriend(server as TestServer, a, b);
    const romeo = await clients.online(b, 'websocket', 'orchard');
    const raw = await clients.raw(a, 'raw');
    await romeo.next(isPresence(`${a}@localhost/raw`));
    raw.destroy();
    await romeo.next(isPresence(`${a}@localhost/raw`, 'unavailable'));
  });

  it('broadcasts unavailable presence for a session replaced by a new login with the same resource (conflict)', async function () {
    const [a, b] = (await users('juliet', 'romeo')) as [string, string];
    await befriend(server as TestServer, a, b);
    const romeo = await clients.online(b, 'tcp', 'orchard');
    await clients.online(a, 'tcp', 'balcony');
    await romeo.next(isPresence(`${a}@localhost/balcony`));
    const again = await clients.login(a, 'websocket', 'balcony');
    await romeo.next(isPresence(`${a}@localhost/balcony`, 'unavailable'));
    await again.xmpp.send(xml('presence'));
    await romeo.next(isPresence(`${a}@localhost/balcony`));
  });

  it("broadcasts one presence to every contact's available resources, each copy to its full JID and through its own filters (§4.4.2)", async function () {
    const [a, b, c] = (await users('juliet', 'romeo', 'nurse')) as [string, string, string];
    await befriend(server as TestServer, a, b);
    await befriend(server as TestServer, a, c);
    const orchard = await clients.online(b, 'websocket', 'orchard');
    const garden = await clients.online(b, 'tcp', 'garden');
    const nurse = await clients.online(c, 'tcp', 'kitchen');
    // One of Romeo's resources does not want Juliet's presence (XEP-0016 presence-in, that session's active list).
    const privacy = 'jabber:iq:privacy';
    const deny = xml('item', { type: 'jid', value: `${a}@localhost`, action: 'deny', order: '1' }, xml('presence-in'));
    await garden.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('query', { xmlns: privacy }, xml('list', { name: 'quiet' }, deny, xml('item', { action: 'allow', order: '2' })))));
    await garden.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('query', { xmlns: privacy }, xml('active', { name: 'quiet' }))));
    const juliet = await clients.online(a, 'tcp', 'balcony');
    await Promise.all([orchard, nurse].map((client) => client.next(isPresence(`${a}@localhost/balcony`))));

    await juliet.xmpp.send(xml('presence', {}, xml('show', {}, 'away')));
    const [toOrchard, toNurse, own] = await Promise.all([orchard, nurse, juliet].map((client) => client.next(isPresence(`${a}@localhost/balcony`))));
    assert.equal(toOrchard?.attrs.to, `${b}@localhost/orchard`);
    assert.equal(toNurse?.attrs.to, `${c}@localhost/kitchen`);
    assert.equal(own?.attrs.to, `${a}@localhost/balcony`);
    for (const copy of [toOrchard, toNurse, own]) assert.equal(copy?.getChildText('show'), 'away');
    await nothing(garden, isPresence(`${a}@localhost/balcony`));
  });

  it('tells directed-presence recipients when the sender goes away, however it goes (§4.6.3)', async function () {
    const [a, c] = (await users('juliet', 'nurse')) as [string, string];
    const nurse = await clients.online(c, 'tcp', 'kitchen');
    const juliet = await clients.online(a, 'websocket', 'balcony');
    await juliet.xmpp.send(xml('presence', { to: `${c}@localhost/kitchen` }, xml('status', {}, 'come here')));
    assert.equal((await nurse.next(isPresence(`${a}@localhost/balcony`))).getChildText('status'), 'come here');
    await juliet.xmpp.send(xml('presence', { type: 'unavailable' }));
    await nurse.next(isPresence(`${a}@localhost/balcony`, 'unavailable'));

    const raw = await clients.raw(a, 'raw');
    raw.write(`<presence to='${c}@localhost'/>`);
    await nurse.next(isPresence(`${a}@localhost/raw`));
    raw.destroy();
    await nurse.next(isPresence(`${a}@localhost/raw`, 'unavailable'));
  });

  it('reveals no presence to a prober without a subscription, whatever its own roster claims (§4.3.2, §8.5.1)', async function () {
    const [a, m, n] = (await users('juliet', 'mallory', 'nobody')) as [string, string, string];
    const A = `${a}@localhost`;
    const M = `${m}@localhost`;
    const roster = (server as TestServer).server.stores.roster;
    const item = (jid: string, subscription: 'to' | 'both'): Parameters<typeof roster.setItem>[1] => ({ jid, subscription, ask: false, approved: false, groups: [] });
    // Juliet follows Mallory's presence, not the other way round; Mallory's roster claims both.
    await roster.setItem(a, item(M, 'to'));
    await roster.setItem(m, item(A, 'both'));
    const juliet = await clients.online(a, 'tcp', 'balcony');
    const mallory = await clients.online(m, 'websocket', 'shadow');
    await juliet.next(isPresence(`${M}/shadow`));
    const fromJuliet = (s: Parameters<Parameters<typeof mallory.next>[0]>[0]): boolean => s.is('presence') && String(s.attrs.from).startsWith(`${A}/`);
    await nothing(mallory, fromJuliet, 300);

    // Her own probes, to Juliet's bare or full JID or to a user who does not exist, get the same answer:
    // 'unsubscribed', which puts Mallory's roster right (A.3.4) and shows no presence.
    await mallory.xmpp.send(xml('presence', { to: A, type: 'probe' }));
    await mallory.xmpp.send(xml('presence', { to: `${A}/balcony`, type: 'probe' }));
    await mallory.xmpp.send(xml('presence', { to: `${n}x@localhost`, type: 'probe' }));
    await mallory.next(isPresence(A, 'unsubscribed'));
    assert.equal(pushed(await mallory.next(isPush(A))).item.attrs.subscription, 'from');
    await nothing(mallory, fromJuliet, 500);

    // A pending request gets no answer to its probes, not even 'unsubscribed' (that would cancel it).
    const [p] = (await users('paris')) as [string];
    const paris = await clients.online(p, 'tcp', 'ball');
    await paris.xmpp.send(xml('presence', { to: A, type: 'subscribe' }));
    await juliet.next(isPresence(`${p}@localhost`, 'subscribe'));
    await paris.xmpp.send(xml('presence', { to: A, type: 'probe' }));
    await nothing(paris, (s) => s.is('presence') && String(s.attrs.from).startsWith(A));
  });

  it('ignores presence errors to a bare JID (RFC 6121 §8.5.2.1.3)', async function () {
    const [a, b] = (await users('juliet', 'romeo')) as [string, string];
    const romeo = await clients.online(b, 'tcp', 'orchard');
    const juliet = await clients.online(a, 'websocket', 'balcony');
    await juliet.xmpp.send(xml('presence', { to: `${b}@localhost`, type: 'error' }, xml('error', { type: 'cancel' }, xml('item-not-found', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }))));
    await nothing(romeo, (s) => s.is('presence') && s.attrs.type === 'error');
  });
});
