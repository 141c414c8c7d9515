// XEP-0313 against a real server on both back ends, with real xmpp.js clients: alice on TCP and on WebSocket
// and bob converse; a new device of alice pages the archive backwards in pages of 10 and gets every message
// once, in order; a room's archive the same; filters (with, start, end, ids, after-id, before-id), preferences
// (never, with a positive control), stanza-ids (stamped, forged ones removed, on offline messages) and bad input.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { describeBackends } from '../../test/support/backends.js';
import { connect, type ClientTransport, type TestClient } from '../../test/support/clients.js';
import type { TestServer } from '../../test/support/server.js';
import { createRoom, enterRoom, MAM, pageBackwards, query, refusal, SID } from './test-kit.js';

const MAX_PAGE = 20;
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';

const sidBy = (stanza: Element, by: string): string[] => stanza.getChildren('stanza-id', SID).filter((s) => s.attrs.by === by).map((s) => s.attrs.id as string);
const withBody = (body: string) => (s: Element): boolean => s.is('message') && s.getChildText('body') === body;

describeBackends('XEP-0313 message archive', (backend) => {
  let server: TestServer;
  const clients: TestClient[] = [];
  const login = async (username: string, resource: string, transport: ClientTransport = 'tcp', available = true): Promise<TestClient> => {
    const client = await connect(server, { transport, username, password: 'secret', resource });
    clients.push(client);
    if (available) {
      await client.xmpp.send(xml('presence'));
      await client.next((s) => s.is('presence') && s.attrs.from === client.jid);
    }
    return client;
  };
  const chat = (from: TestClient, to: string, body: string, ...extra: Element[]): Promise<void> => from.xmpp.send(xml('message', { to, type: 'chat' }, xml('body', {}, body), ...extra));

  let aliceTcp: TestClient;
  let aliceWs: TestClient;
  let bob: TestClient;
  const conversation: string[] = [];
  const bobGot: Element[] = [];

  before(async function () {
    this.timeout(60_000);
    server = await backend.start({ c2s: { requireTls: false }, mam: { maxPage: MAX_PAGE } });
    for (const user of ['alice', 'bob', 'carol', 'dave', 'erin', 'fred']) await server.addUser(user, 'secret');
    aliceTcp = await login('alice', 'tcp', 'tcp');
    aliceWs = await login('alice', 'ws', 'websocket');
    bob = await login('bob', 'home');
  });

  after(async function () {
    await Promise.all(clients.map((c) => c.stop()));
    await server?.stop();
  });

  it('two resources and a contact converse; a new device pages back in tens and gets every message once, in order', async function () {
    this.timeout(30_000);
    for (let i = 0; i < 35; i++) {
      const body = `m${i} <&> ü`;
      conversation.push(body);
      if (i % 3 === 1) {
        await chat(bob, 'alice@localhost', body);
        await Promise.all([aliceTcp.next(withBody(body)), aliceWs.next(withBody(body))]);
      } else {
        await chat(i % 3 === 0 ? aliceTcp : aliceWs, 'bob@localhost', body);
        bobGot.push(await bob.next(withBody(body)));
      }
    }
    const device = await login('alice', 'new', 'tcp', false);
    const { results, pages } = await pageBackwards(device, 10);
    assert.deepEqual(results.map((r) => r.body), conversation);
    assert.equal(pages, 4);
    assert.equal(new Set(results.map((r) => r.id)).size, results.length, 'ids are unique');
    assert.deepEqual([...results.map((r) => r.id)].sort(), results.map((r) => r.id), 'ids sort as the messages came');
    for (const [i, r] of results.entries()) {
      assert.ok(!Number.isNaN(Date.parse(r.stamp)), `delay stamp ${r.stamp}`);
      assert.equal(r.message.attrs.from, i % 3 === 1 ? 'bob@localhost/home' : i % 3 === 0 ? 'alice@localhost/tcp' : 'alice@localhost/ws');
    }
    // The contact's archive holds the same conversation, and the stanza-id on what he received names it.
    const bobs = await pageBackwards(bob, 10);
    assert.deepEqual(bobs.results.map((r) => r.body), conversation);
    const received = bobGot[0];
    assert.ok(received !== undefined);
    const [id] = sidBy(received, 'bob@localhost');
    assert.ok(id !== undefined, `no stanza-id by bob@localhost on ${received.toString()}`);
    const byId = await query(bob, { fields: { ids: [id] } });
    assert.deepEqual(byId.results.map((r) => [r.id, r.body]), [[id, conversation[0]]]);
  });

  it('filters: with, start and end, ids, after-id and before-id; max is clamped to max_page', async function () {
    const carol = await login('carol', 'pc');
    const since = new Date(Date.now() + 2).toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (const body of ['c1', 'c2', 'c3']) {
      await chat(carol, 'alice@localhost', body);
      await aliceTcp.next(withBody(body));
    }
    const fromCarol = await query(aliceTcp, { fields: { with: 'carol@localhost' } });
    assert.deepEqual(fromCarol.results.map((r) => r.body), ['c1', 'c2', 'c3']);
    assert.equal(fromCarol.complete, true);
    assert.deepEqual((await query(aliceTcp, { fields: { with: 'carol@localhost/pc' } })).results.map((r) => r.body), ['c1', 'c2', 'c3']);
    assert.deepEqual((await query(aliceTcp, { fields: { with: 'carol@localhost/elsewhere' } })).results, []);
    assert.deepEqual((await query(aliceTcp, { fields: { start: since } })).results.map((r) => r.body), ['c1', 'c2', 'c3']);
    const upTo = await query(aliceTcp, { fields: { end: since } });
    assert.equal(upTo.results.length, MAX_PAGE, 'no max: a page of max_page');
    assert.equal(upTo.complete, false);
    assert.deepEqual(upTo.results.map((r) => r.body), conversation.slice(0, MAX_PAGE));
    const clamped = await query(aliceTcp, { max: 100_000, before: '' });
    assert.equal(clamped.results.length, MAX_PAGE, 'max over the limit is clamped');
    assert.equal(clamped.complete, false);
    assert.deepEqual(clamped.results.map((r) => r.body), [...conversation, 'c1', 'c2', 'c3'].slice(-MAX_PAGE));

    const all = (await pageBackwards(aliceTcp, 10)).results;
    const idOf = (body: string): string => all.find((r) => r.body === body)?.id ?? assert.fail(`no ${body}`);
    const ids = await query(aliceTcp, { fields: { ids: [idOf('c2'), idOf(conversation[0] ?? '')] } });
    assert.deepEqual(ids.results.map((r) => r.body), [conversation[0], 'c2']);
    assert.deepEqual((await query(aliceTcp, { fields: { 'after-id': idOf(conversation[33] ?? '') } })).results.map((r) => r.body), [conversation[34], 'c1', 'c2', 'c3']);
    assert.deepEqual((await query(aliceTcp, { fields: { 'before-id': idOf(conversation[2] ?? '') } })).results.map((r) => r.body), conversation.slice(0, 2));
    assert.deepEqual((await query(aliceTcp, { fields: { 'after-id': idOf('c1'), with: 'carol@localhost' }, max: 1 })).results.map((r) => r.body), ['c2']);
    // Forward paging with RSM <after/> reaches the end with complete='true'.
    const tail = await query(aliceTcp, { after: idOf(conversation[32] ?? ''), max: 10 });
    assert.deepEqual(tail.results.map((r) => r.body), [conversation[33], conversation[34], 'c1', 'c2', 'c3']);
    assert.equal(tail.complete, true);
  });

  it('bad input: unknown field and bad date are bad-request, unknown ids item-not-found, bad prefs bad-request', async function () {
    assert.equal(await refusal(query(aliceTcp, { fields: { colour: 'blue' } })), 'bad-request');
    assert.equal(await refusal(query(aliceTcp, { fields: { start: 'yesterday' } })), 'bad-request');
    assert.equal(await refusal(query(aliceTcp, { fields: { end: '2026-13-45T99:00:00Z' } })), 'bad-request');
    assert.equal(await refusal(query(aliceTcp, { fields: { with: '@@' } })), 'bad-request');
    assert.equal(await refusal(query(aliceTcp, { fields: { 'after-id': 'nosuchid' } })), 'item-not-found');
    assert.equal(await refusal(query(aliceTcp, { fields: { 'before-id': 'nosuchid' } })), 'item-not-found');
    assert.equal(await refusal(query(aliceTcp, { after: 'nosuchid' })), 'item-not-found');
    assert.equal(await refusal(query(aliceTcp, { before: 'nosuchid' })), 'item-not-found');
    // bob's id is not in alice's archive.
    const bobsId = (await query(bob, { max: 1 })).first ?? assert.fail('bob has an archive');
    assert.equal(await refusal(query(aliceTcp, { after: bobsId })), 'item-not-found');
    assert.equal(await refusal(query(aliceTcp, { max: -1 } as never)), 'bad-request');
    const prefs = (mode: string): Promise<Element> => aliceTcp.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('prefs', { xmlns: MAM, default: mode })));
    assert.equal(await refusal(prefs('sometimes')), 'bad-request');
    // Positive control: the same queries with good values answer.
    assert.ok((await query(aliceTcp, { fields: { start: '2000-01-01T00:00:00Z' }, max: 1 })).results.length === 1);
    await prefs('always');
  });

  it('§5 preferences: with default="never" nothing is archived and no stanza-id is stamped; "always" again archives', async function () {
    const dave = await login('dave', 'pc');
    const setPrefs = (mode: string, never: string[] = []): Promise<Element> =>
      dave.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('prefs', { xmlns: MAM, default: mode }, xml('always'), xml('never', {}, ...never.map((j) => xml('jid', {}, j))))));
    await setPrefs('never');
    const got = await dave.xmpp.iqCaller.request(xml('iq', { type: 'get' }, xml('prefs', { xmlns: MAM })));
    assert.equal(got.getChild('prefs', MAM)?.attrs.default, 'never');
    await chat(bob, 'dave@localhost', 'secret1');
    const secret = await dave.next(withBody('secret1'));
    assert.deepEqual(sidBy(secret, 'dave@localhost'), []);
    await setPrefs('always');
    await chat(bob, 'dave@localhost', 'open1');
    const open = await dave.next(withBody('open1'));
    assert.equal(sidBy(open, 'dave@localhost').length, 1, 'positive control: stamped when archived');
    // A JID on the never list is not archived even when the default is always.
    await setPrefs('always', ['bob@localhost']);
    await chat(bob, 'dave@localhost', 'secret2');
    await dave.next(withBody('secret2'));
    assert.deepEqual((await query(dave)).results.map((r) => r.body), ['open1']);
    // The sender's archive kept all three (his own preferences are the default, always).
    assert.deepEqual((await query(bob, { fields: { with: 'dave@localhost' } })).results.map((r) => r.body), ['secret1', 'open1', 'secret2']);
  });

  it('XEP-0359: a stanza-id a client forged for the recipient\'s archive is removed, origin-id kept; offline messages are stamped too', async function () {
    await chat(bob, 'alice@localhost', 'forged', xml('stanza-id', { xmlns: SID, by: 'alice@localhost', id: 'forged-id' }), xml('origin-id', { xmlns: SID, id: 'bobs-origin-1' }));
    const received = await aliceTcp.next(withBody('forged'));
    const ids = sidBy(received, 'alice@localhost');
    assert.equal(ids.length, 1);
    assert.notEqual(ids[0], 'forged-id');
    const archived = (await query(aliceTcp, { fields: { ids: [ids[0] ?? ''] } })).results;
    assert.deepEqual(archived.map((r) => r.body), ['forged']);
    // The sender's origin-id travels and is archived as it was; no stanza-id in the archived copy.
    assert.equal(received.getChild('origin-id', SID)?.attrs.id, 'bobs-origin-1');
    assert.equal(archived[0]?.message.getChild('origin-id', SID)?.attrs.id, 'bobs-origin-1');
    assert.equal(archived[0]?.message.getChild('stanza-id', SID), undefined);
    // erin is offline: the message is archived and stamped before the offline store keeps it.
    await chat(bob, 'erin@localhost', 'while away');
    const erin = await connect(server, { transport: 'tcp', username: 'erin', password: 'secret', resource: 'pc' });
    clients.push(erin);
    await erin.xmpp.send(xml('presence'));
    const later = await erin.next(withBody('while away'));
    const [erinId] = sidBy(later, 'erin@localhost');
    assert.ok(erinId !== undefined, later.toString());
    assert.deepEqual((await query(erin)).results.map((r) => [r.id, r.body]), [[erinId, 'while away']]);
  });

  it('a message the offline store refuses (full) is bounced and not archived; the 100 it kept are', async function () {
    this.timeout(30_000);
    for (let i = 0; i < 101; i++) await bob.xmpp.send(xml('message', { to: 'fred@localhost', type: 'chat', id: `off${i}` }, xml('body', {}, `off${i}`)));
    const bounced = await bob.next((s) => s.is('message') && s.attrs.type === 'error' && s.attrs.id === 'off100');
    assert.ok(bounced.getChild('error') !== undefined);
    const fred = await login('fred', 'pc', 'tcp', false);
    const { results } = await pageBackwards(fred, MAX_PAGE);
    assert.deepEqual(results.map((r) => r.body), Array.from({ length: 100 }, (_, i) => `off${i}`));
  });

  it('§6 a room\'s archive: stamped by the room, paged back in tens by a new device, closed to non-members; disco features', async function () {
    this.timeout(30_000);
    const room = 'lounge@conference.localhost';
    await createRoom(aliceTcp, room, 'A');
    await enterRoom(bob, room, 'B');
    const said: string[] = [];
    for (let i = 0; i < 25; i++) {
      const body = `g${i}`;
      said.push(body);
      await (i % 2 === 0 ? aliceTcp : bob).xmpp.send(xml('message', { to: room, type: 'groupchat' }, xml('body', {}, body), xml('stanza-id', { xmlns: SID, by: room, id: 'forged' })));
      const [toAlice] = await Promise.all([aliceTcp.next(withBody(body)), bob.next(withBody(body))]);
      const ids = sidBy(toAlice, room);
      assert.equal(ids.length, 1, toAlice.toString());
      assert.notEqual(ids[0], 'forged');
    }
    const device = await login('alice', 'new-room', 'tcp', false);
    const { results, pages } = await pageBackwards(device, 10, room);
    assert.deepEqual(results.map((r) => r.body), said);
    assert.equal(pages, 3);
    assert.deepEqual(results.slice(0, 2).map((r) => r.message.attrs.from), [`${room}/A`, `${room}/B`]);
    // Not an occupant, no affiliation: forbidden; the same query by a member's device answers (above).
    const carol = await login('carol', 'room-check', 'tcp', false);
    assert.equal(await refusal(query(carol, { to: room })), 'forbidden');
    assert.equal(await refusal(query(carol, { to: 'nosuchroom@conference.localhost' })), 'item-not-found');
    const features = async (to: string): Promise<string[]> => {
      const info = await device.xmpp.iqCaller.request(xml('iq', { type: 'get', to }, xml('query', { xmlns: DISCO_INFO })));
      return (info.getChild('query')?.getChildren('feature') ?? []).map((f) => f.attrs.var as string);
    };
    for (const to of [room, 'alice@localhost']) {
      const list = await features(to);
      assert.ok(list.includes(MAM) && list.includes(`${MAM}#extended`), `${to}: ${list.join(' ')}`);
    }
  });
});
