// XEP-0191 Blocking Command walked through the spec's examples with real xmpp.js clients, on both
// storage back ends: the block list, block and unblock with their pushes and error cases, and what
// a block does to each kind of stanza in each direction and to presence.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { describeBackends } from '../../test/support/backends.js';
import type { TestClient } from '../../test/support/clients.js';
import type { TestServer } from '../../test/support/server.js';
import {
  BLOCKING, BLOCKING_ERRORS, chat, Clients, contacts, drain, errorOf, freshUsers, isError, isMessage, isPresence, isPush, jid, quiet, refused, request,
} from './test-kit.js';

const blocklist = (): Element => xml('blocklist', { xmlns: BLOCKING });
const block = (...jids: string[]): Element => xml('block', { xmlns: BLOCKING }, ...jids.map((j) => xml('item', { jid: j })));
const unblock = (...jids: string[]): Element => xml('unblock', { xmlns: BLOCKING }, ...jids.map((j) => xml('item', { jid: j })));
const items = (el: Element | undefined): string[] => (el?.getChildren('item') ?? []).map((i) => i.attrs.jid as string);

/** XEP-0045 §7.2: enters `room` as `nick` and waits for the self-presence (status 110). */
async function enterRoom(client: TestClient, room: string, nick: string): Promise<void> {
  await client.xmpp.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: 'http://jabber.org/protocol/muc' })));
  await client.next((s) => isPresence(`${room}/${nick}`)(s) && s.getChild('x', 'http://jabber.org/protocol/muc#user')?.getChildren('status').some((c) => c.attrs.code === '110') === true);
}

describeBackends('XEP-0191 Blocking Command', (backend) => {
  let server: TestServer;
  const clients = new Clients(() => server);

  before(async function () {
    server = await backend.start();
  });
  afterEach(async function () {
    await clients.stopAll();
  });
  after(async function () {
    await server?.stop();
  });

  it('§3.1 Examples 1-2: advertises urn:xmpp:blocking', async function () {
    const { juliet } = await freshUsers(server, 'juliet');
    const c = await clients.login(juliet, 'chamber');
    const result = await request(c, 'get', xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), 'localhost');
    assert.ok(result.getChild('query')?.getChildren('feature').some((f) => f.attrs.var === BLOCKING));
  });

  it('§3.2 Examples 3-5 and §3.3 Examples 6-8: the block list, a block, and pushes to the resources that asked for it', async function () {
    const { juliet } = await freshUsers(server, 'juliet');
    const chamber = await clients.login(juliet, 'chamber');
    const balcony = await clients.login(juliet, 'balcony', 'tcp');
    const garden = await clients.login(juliet, 'garden');
    const empty = await request(chamber, 'get', blocklist());
    assert.equal(empty.getChild('blocklist', BLOCKING)?.toString(), `<blocklist xmlns="${BLOCKING}"/>`);
    await request(balcony, 'get', blocklist());

    const result = await request(chamber, 'set', block('romeo@montague.net', 'iago@shakespeare.lit'));
    assert.equal(result.children.length, 0, 'an empty result');
    for (const c of [chamber, balcony]) {
      const push = await c.next(isPush(BLOCKING, 'block'));
      assert.equal(push.attrs.to, c.jid);
      assert.deepEqual(items(push.getChild('block', BLOCKING)), ['romeo@montague.net', 'iago@shakespeare.lit']);
    }
    await quiet(garden, isPush(BLOCKING, 'block'), 200);
    assert.deepEqual(items((await request(garden, 'get', blocklist())).getChild('blocklist', BLOCKING)), ['iago@shakespeare.lit', 'romeo@montague.net']);
  });

  it('§3.3: a block without items is bad-request; a malformed JID is jid-malformed; nothing is stored', async function () {
    const { juliet } = await freshUsers(server, 'juliet');
    const c = await clients.login(juliet, 'chamber');
    assert.deepEqual(await refused(request(c, 'set', block())), { condition: 'bad-request', type: 'modify', app: undefined });
    assert.deepEqual(await refused(request(c, 'set', block('romeo@montague.net', '@montague.net'))), { condition: 'jid-malformed', type: 'modify', app: undefined });
    assert.deepEqual(await refused(request(c, 'set', xml('block', { xmlns: BLOCKING }, xml('item')))), { condition: 'jid-malformed', type: 'modify', app: undefined });
    assert.deepEqual(items((await request(c, 'get', blocklist())).getChild('blocklist', BLOCKING)), []);
  });

  it('§3.3: from a blocked JID, message and iq get are service-unavailable; presence and iq results vanish', async function () {
    const { juliet, romeo } = await freshUsers(server, 'juliet', 'romeo');
    const j = await clients.login(juliet, 'chamber');
    const r = await clients.login(romeo, 'orchard');
    await request(j, 'set', block(jid(romeo)));

    await r.xmpp.send(chat(j.jid, 'But soft!'));
    const bounced = await r.next(isError('message', j.jid));
    assert.deepEqual(errorOf(bounced), { condition: 'service-unavailable', type: 'cancel', app: undefined });
    assert.deepEqual(await refused(request(r, 'get', xml('query', { xmlns: 'jabber:iq:version' }), j.jid)), { condition: 'service-unavailable', type: 'cancel', app: undefined });
    await r.xmpp.send(xml('iq', { type: 'result', id: 'stray', to: j.jid }));
    await r.xmpp.send(xml('presence', { to: j.jid }));
    await r.xmpp.send(xml('presence', { to: jid(juliet), type: 'subscribe' }));
    await quiet(j, (s) => s.attrs.from?.startsWith(jid(romeo)) === true);
    await quiet(r, (s) => s.is('presence') && s.attrs.type === 'error', 100);
    assert.deepEqual(await server.server.stores.subscriptionRequests.list(juliet), []);
    assert.equal(await server.server.stores.roster.getItem(juliet, jid(romeo)), undefined, 'the roster is not touched');
  });

  it('§3.3 Example 9: to a blocked JID, the user gets not-acceptable with <blocked/>', async function () {
    const { juliet, romeo } = await freshUsers(server, 'juliet', 'romeo');
    const j = await clients.login(juliet, 'chamber');
    const r = await clients.login(romeo, 'orchard');
    await request(j, 'set', block(jid(romeo)));
    await j.xmpp.send(chat(jid(romeo), 'Can you hear me now?'));
    const error = await j.next(isError('message', jid(romeo)));
    assert.equal(error.attrs.to, j.jid);
    assert.deepEqual(errorOf(error), { condition: 'not-acceptable', type: 'cancel', app: BLOCKING_ERRORS });
    assert.equal(error.getChild('error')?.getChild('blocked', BLOCKING_ERRORS)?.toString(), `<blocked xmlns="${BLOCKING_ERRORS}"/>`);
    assert.equal(error.getChildText('body'), 'Can you hear me now?');
    assert.deepEqual(await refused(request(j, 'get', xml('ping', { xmlns: 'urn:xmpp:ping' }), r.jid)), { condition: 'not-acceptable', type: 'cancel', app: BLOCKING_ERRORS });
    await quiet(r, (s) => s.attrs.from?.startsWith(jid(juliet)) === true, 100);
  });

  it('§3.3: blocking sends unavailable presence to the blocked contact, and to the user for the contact', async function () {
    const { juliet, romeo, nurse } = await freshUsers(server, 'juliet', 'romeo', 'nurse');
    await contacts(server, juliet, romeo, { a: 'both', b: 'both' });
    await contacts(server, juliet, nurse, { a: 'both', b: 'both' });
    const j = await clients.login(juliet, 'chamber');
    const r = await clients.login(romeo, 'orchard');
    const n = await clients.login(nurse, 'kitchen');
    await r.xmpp.send(xml('presence'));
    await n.xmpp.send(xml('presence'));
    await j.xmpp.send(xml('presence'));
    await j.next(isPresence(r.jid));
    await r.next(isPresence(j.jid));
    await n.next(isPresence(j.jid));
    // A probe answer and a broadcast may both bring the same presence.
    await Promise.all([drain(j, isPresence(r.jid)), drain(r, isPresence(j.jid)), drain(n, isPresence(j.jid))]);

    await request(j, 'set', block(jid(romeo)));
    await r.next(isPresence(j.jid, 'unavailable'));
    await j.next(isPresence(r.jid, 'unavailable'));
    await quiet(n, isPresence(j.jid, 'unavailable'), 100);

    // While blocked, juliet's presence changes do not reach romeo.
    await j.xmpp.send(xml('presence', {}, xml('show', {}, 'away')));
    await n.next((s) => isPresence(j.jid)(s) && s.getChildText('show') === 'away');
    await quiet(r, isPresence(j.jid));

    // §3.4: unblocking sends romeo juliet's current presence, and juliet learns romeo's again.
    await request(j, 'set', unblock(jid(romeo)));
    const current = await r.next(isPresence(j.jid));
    assert.equal(current.getChildText('show'), 'away');
    await j.next(isPresence(r.jid));
  });

  it('§3.3: blocking a room withdraws its occupants\' presence while the user is in it, and nothing once the user has left', async function () {
    const { juliet, romeo } = await freshUsers(server, 'juliet', 'romeo');
    const j = await clients.login(juliet, 'chamber');
    const r = await clients.login(romeo, 'orchard');
    const room = `crypt-${juliet}@conference.localhost`;
    // An instant room (XEP-0045 §10.1.2), so that others may enter.
    await enterRoom(r, room, 'romeo');
    await request(r, 'set', xml('query', { xmlns: 'http://jabber.org/protocol/muc#owner' }, xml('x', { xmlns: 'jabber:x:data', type: 'submit' })), room);

    // In the room: the block owes juliet unavailable presence for romeo's occupant JID.
    await enterRoom(j, room, 'juliet');
    await request(j, 'set', block(room));
    await j.next(isPresence(`${room}/romeo`, 'unavailable'));
    await request(j, 'set', unblock(room));

    // Out of the room (XEP-0045 §7.14), romeo's occupant presence is no longer juliet's to withdraw.
    await enterRoom(j, room, 'juliet');
    await j.xmpp.send(xml('presence', { to: `${room}/juliet`, type: 'unavailable' }));
    await j.next(isPresence(`${room}/juliet`, 'unavailable'));
    await request(j, 'set', block(room));
    // Positive control: juliet's session still gets what is hers, after the block.
    await r.xmpp.send(chat(j.jid, 'still here'));
    await j.next(isMessage(r.jid, 'still here'));
    await quiet(j, isPresence(`${room}/romeo`, 'unavailable'));
  });

  it('§3.4 Examples 10-12: unblocking one JID pushes it and lets its stanzas through again', async function () {
    const { juliet, romeo, iago } = await freshUsers(server, 'juliet', 'romeo', 'iago');
    const j = await clients.login(juliet, 'chamber');
    const r = await clients.login(romeo, 'orchard');
    const i = await clients.login(iago, 'pda');
    await request(j, 'get', blocklist());
    await request(j, 'set', block(jid(romeo), jid(iago)));
    await j.next(isPush(BLOCKING, 'block'));

    await request(j, 'set', unblock(jid(romeo)));
    const push = await j.next(isPush(BLOCKING, 'unblock'));
    assert.deepEqual(items(push.getChild('unblock', BLOCKING)), [jid(romeo)]);
    await r.xmpp.send(chat(j.jid, 'free again'));
    await j.next(isMessage(r.jid, 'free again'));
    await i.xmpp.send(chat(j.jid, 'still blocked'));
    assert.equal(errorOf(await i.next(isError('message', j.jid))).condition, 'service-unavailable');
  });

  it('§3.5 Examples 13-15: unblock all empties the list and pushes an empty <unblock/>', async function () {
    const { juliet, romeo } = await freshUsers(server, 'juliet', 'romeo');
    const j = await clients.login(juliet, 'chamber');
    const r = await clients.login(romeo, 'orchard');
    await request(j, 'get', blocklist());
    await request(j, 'set', block(jid(romeo), 'iago@shakespeare.lit', 'example.org'));
    await request(j, 'set', unblock());
    const push = await j.next(isPush(BLOCKING, 'unblock'));
    assert.equal(push.getChild('unblock', BLOCKING)?.toString(), `<unblock xmlns="${BLOCKING}"/>`);
    assert.deepEqual(items((await request(j, 'get', blocklist())).getChild('blocklist', BLOCKING)), []);
    await r.xmpp.send(chat(j.jid, 'all clear'));
    await j.next(isMessage(r.jid, 'all clear'));
  });

  it('JID matching: a full JID blocks one resource; a domain blocks every address at it but not the server', async function () {
    const { juliet, romeo } = await freshUsers(server, 'juliet', 'romeo');
    const j = await clients.login(juliet, 'chamber');
    const pda = await clients.login(romeo, 'pda');
    const home = await clients.login(romeo, 'home');
    await request(j, 'set', block(pda.jid));
    await pda.xmpp.send(chat(j.jid, 'from pda'));
    assert.equal(errorOf(await pda.next(isError('message', j.jid))).condition, 'service-unavailable');
    await home.xmpp.send(chat(j.jid, 'from home'));
    await j.next(isMessage(home.jid, 'from home'));

    await request(j, 'set', block('localhost'));
    await home.xmpp.send(chat(j.jid, 'from home again'));
    assert.equal(errorOf(await home.next(isError('message', j.jid))).condition, 'service-unavailable');
    // The server itself is not a contact: its answers still arrive.
    await request(j, 'get', xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), 'localhost');
  });

  it('applies across sessions: a message for an offline user from a blocked JID is refused, not stored', async function () {
    const { juliet, romeo } = await freshUsers(server, 'juliet', 'romeo');
    const j = await clients.login(juliet, 'chamber');
    await request(j, 'set', block(jid(romeo)));
    await j.stop();
    const r = await clients.login(romeo, 'orchard');
    await r.xmpp.send(chat(jid(juliet), 'are you there?'));
    assert.equal(errorOf(await r.next(isError('message', jid(juliet)))).condition, 'service-unavailable');
    assert.equal(await server.server.stores.offline.count(juliet), 0);

    // The next session is protected from its first stanza.
    const again = await clients.login(juliet, 'balcony');
    await r.xmpp.send(chat(again.jid, 'and now?'));
    assert.equal(errorOf(await r.next(isError('message', again.jid))).condition, 'service-unavailable');
    assert.deepEqual(items((await request(again, 'get', blocklist())).getChild('blocklist', BLOCKING)), [jid(romeo)]);
  });

  it('the block list comes before privacy lists: an allow-all active list does not lift a block', async function () {
    const { juliet, romeo } = await freshUsers(server, 'juliet', 'romeo');
    const j = await clients.login(juliet, 'chamber');
    const r = await clients.login(romeo, 'orchard');
    const privacy = 'jabber:iq:privacy';
    await request(j, 'set', xml('query', { xmlns: privacy }, xml('list', { name: 'open' }, xml('item', { type: 'jid', value: jid(romeo), action: 'allow', order: '1' }))));
    await request(j, 'set', xml('query', { xmlns: privacy }, xml('active', { name: 'open' })));
    await request(j, 'set', block(jid(romeo)));
    await r.xmpp.send(chat(j.jid, 'let me in'));
    assert.equal(errorOf(await r.next(isError('message', j.jid))).condition, 'service-unavailable');
  });
});
