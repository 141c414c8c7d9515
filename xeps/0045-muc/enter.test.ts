// XEP-0045 §7.1-§7.2 entering a room, §7.6 nickname changes, §7.7 availability, §7.14 exiting and §10.1.1
// room creation, walked with real xmpp.js clients over TCP and WebSocket.
import assert from 'node:assert/strict';
import type { Element } from 'ltx';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import {
  admin,
  Clients,
  configure,
  createRoom,
  enter,
  groupchat,
  isMessage,
  isPresence,
  isSelf,
  isSubject,
  item,
  MUC,
  nothing,
  refusedEntry,
  statuses,
  xml,
} from './test-kit.js';

describe('XEP-0045 entering and exiting rooms', function () {
  let server: TestServer;
  const clients = new Clients(() => server);

  before(async function () {
    server = await startTestServer();
  });
  afterEach(() => clients.stopAll());
  after(async function () {
    await server?.stop();
  });

  it('§10.1.1: entering a room that does not exist creates it, locked until its owner accepts a configuration (§7.2.10, §10.1.2)', async function () {
    const [a, b] = (await clients.users('crone', 'hag')) as [string, string];
    const crone = await clients.login(a, 'tcp', 'desktop');
    const hag = await clients.login(b, 'websocket', 'pda');
    const room = clients.room('coven');
    const self = await enter(crone, room, 'firstwitch');
    assert.deepEqual(statuses(self), [110, 201]);
    assert.deepEqual(item(self), { affiliation: 'owner', role: 'moderator', jid: `${a}@localhost/desktop` });
    assert.match(self.attrs.id ?? '', /^join-firstwitch-/, 'the self-presence reflects the id of the join');
    assert.equal((await crone.next(isSubject(room))).getChildText('subject'), '');

    assert.equal(await refusedEntry(enter(hag, room, 'thirdwitch')), 'item-not-found');
    // Example 155: the owner asks for an instant room.
    await crone.xmpp.iqCaller.request(xml('iq', { type: 'set', to: room }, xml('query', { xmlns: 'http://jabber.org/protocol/muc#owner' }, xml('x', { xmlns: 'jabber:x:data', type: 'submit' }))));
    const hagSelf = await enter(hag, room, 'thirdwitch');
    assert.deepEqual(statuses(hagSelf), [110]);
    assert.equal(item(hagSelf).role, 'participant');
  });

  it('§7.2.2: the newcomer gets the occupants first, its self-presence last, then history and the subject (§7.1)', async function () {
    const [a, b, c] = (await clients.users('crone', 'wicca', 'hag')) as [string, string, string];
    const crone = await clients.login(a, 'tcp', 'desktop');
    const wicca = await clients.login(b, 'websocket', 'laptop');
    const hag = await clients.login(c, 'tcp', 'pda');
    const room = clients.room('coven');
    await createRoom(crone, room, 'firstwitch');
    await enter(wicca, room, 'secondwitch', { subject: true });
    await groupchat(crone, room, 'Thrice the brinded cat hath mew\'d.');

    const seen: Element[] = [];
    const done = new Promise<void>((resolve) => {
      hag.xmpp.on('stanza', (s: Element) => {
        if (s.attrs.from?.startsWith(room) !== true) return;
        seen.push(s);
        if (isSubject(room)(s)) resolve();
      });
    });
    await hag.xmpp.send(xml('presence', { to: `${room}/thirdwitch` }, xml('x', { xmlns: MUC })));
    await done;
    const order = seen.map((s) => `${s.name} ${s.attrs.from?.slice(room.length)}${statuses(s).includes(110) ? ' self' : ''}${s.getChild('delay', 'urn:xmpp:delay') ? ' delayed' : ''}`);
    assert.deepEqual(order.slice(0, 2).sort(), ['presence /firstwitch', 'presence /secondwitch']);
    assert.deepEqual(order.slice(2), ['presence /thirdwitch self', 'message /firstwitch delayed', 'message ']);

    // Semi-anonymous (the default): only moderators see real JIDs (§7.2.4).
    const [crones] = seen.filter((s) => s.attrs.from === `${room}/firstwitch`);
    assert.deepEqual(item(crones as Element), { affiliation: 'owner', role: 'moderator' });
    const toOwner = await crone.next(isPresence(`${room}/thirdwitch`));
    assert.deepEqual(item(toOwner), { affiliation: 'none', role: 'participant', jid: `${c}@localhost/pda` });
    const toParticipant = await wicca.next(isPresence(`${room}/thirdwitch`));
    assert.deepEqual(item(toParticipant), { affiliation: 'none', role: 'participant' });
    assert.deepEqual(statuses(toParticipant), []);
  });

  it('§7.2.3: a non-anonymous room shows everyone the full JID and warns the newcomer with 100', async function () {
    const [a, b, c] = (await clients.users('crone', 'wicca', 'hag')) as [string, string, string];
    const crone = await clients.login(a, 'websocket');
    const wicca = await clients.login(b, 'tcp', 'laptop');
    const hag = await clients.login(c, 'tcp', 'pda');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch', { 'muc#roomconfig_whois': 'anyone' });
    await enter(wicca, room, 'secondwitch');
    const self = await enter(hag, room, 'thirdwitch');
    assert.deepEqual(statuses(self), [100, 110]);
    assert.equal(item(await wicca.next(isPresence(`${room}/thirdwitch`))).jid, `${c}@localhost/pda`);
  });

  it('§7.2.1: presence to the bare room JID, or a blank nickname, is jid-malformed', async function () {
    const [a] = (await clients.users('hag')) as [string];
    const hag = await clients.login(a);
    const room = clients.room();
    await hag.xmpp.send(xml('presence', { to: room, id: 'n1' }, xml('x', { xmlns: MUC })));
    const error = await hag.next((s) => s.attrs.type === 'error' && s.attrs.id === 'n1');
    assert.equal(error.attrs.from, room);
    assert.equal(error.getChild('error')?.attrs.type, 'modify');
    assert.ok(error.getChild('error')?.getChild('jid-malformed'));
    assert.equal(await refusedEntry(enter(hag, room, '   ')), 'jid-malformed');
  });

  it('§7.2.5: a password-protected room wants the right password (not-authorized)', async function () {
    const [a, b] = (await clients.users('crone', 'hag')) as [string, string];
    const crone = await clients.login(a);
    const hag = await clients.login(b, 'websocket');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch', { 'muc#roomconfig_passwordprotectedroom': '1', 'muc#roomconfig_roomsecret': 'cauldronburn' });
    assert.equal(await refusedEntry(enter(hag, room, 'thirdwitch')), 'not-authorized');
    assert.equal(await refusedEntry(enter(hag, room, 'thirdwitch', { password: 'toil' })), 'not-authorized');
    assert.deepEqual(statuses(await enter(hag, room, 'thirdwitch', { password: 'cauldronburn' })), [110]);
  });

  it('§7.2.6: a members-only room refuses non-members (registration-required); §7.2.7: outcasts are forbidden', async function () {
    const [a, b, c] = (await clients.users('crone', 'hag', 'cambridge')) as [string, string, string];
    const crone = await clients.login(a);
    const hag = await clients.login(b, 'websocket');
    const cambridge = await clients.login(c, 'tcp');
    const members = clients.room();
    await createRoom(crone, members, 'firstwitch', { 'muc#roomconfig_membersonly': '1' });
    assert.equal(await refusedEntry(enter(hag, members, 'thirdwitch')), 'registration-required');
    await admin(crone, 'set', members, xml('item', { affiliation: 'member', jid: `${b}@localhost` }));
    assert.equal(item(await enter(hag, members, 'thirdwitch')).affiliation, 'member');

    const open = clients.room();
    await createRoom(crone, open, 'firstwitch');
    await admin(crone, 'set', open, xml('item', { affiliation: 'outcast', jid: `${c}@localhost` }, xml('reason', {}, 'Treason')));
    const error = await enter(cambridge, open, 'cambridge').catch((err: { stanza: Element }) => err.stanza);
    assert.equal(error.getChild('error')?.attrs.type, 'auth');
    assert.ok(error.getChild('error')?.getChild('forbidden'));
    assert.ok(error.getChild('x', MUC), 'the bounce carries the join element back');
  });

  it('§7.2.8: a nickname in use is a conflict, except for another resource of the same user', async function () {
    const [a, b] = (await clients.users('crone', 'hag')) as [string, string];
    const crone = await clients.login(a);
    const hag = await clients.login(b, 'websocket', 'pda');
    const hagLaptop = await clients.login(b, 'tcp', 'laptop');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    assert.equal(await refusedEntry(enter(hag, room, 'firstwitch')), 'conflict');
    await enter(hag, room, 'thirdwitch');
    const second = await enter(hagLaptop, room, 'thirdwitch', { subject: true });
    assert.deepEqual(statuses(second), [110]);
    await groupchat(crone, room, 'to both resources');
    await hag.next(isMessage(`${room}/firstwitch`));
    await hagLaptop.next(isMessage(`${room}/firstwitch`));
    // One resource leaves; the nickname stays with the other, and the room still shows it.
    await hagLaptop.xmpp.send(xml('presence', { to: `${room}/thirdwitch`, type: 'unavailable' }));
    assert.deepEqual(statuses(await hagLaptop.next(isPresence(`${room}/thirdwitch`, 'unavailable'))), [110]);
    await nothing(crone, isPresence(`${room}/thirdwitch`, 'unavailable'));
    await groupchat(crone, room, 'only the pda now');
    await hag.next((s) => isMessage(`${room}/firstwitch`)(s) && s.getChildText('body') === 'only the pda now');
  });

  it('§7.2.9: a full room refuses newcomers with service-unavailable (wait), but lets an owner in', async function () {
    const [a, b, c, d] = (await clients.users('crone', 'wicca', 'hag', 'hecate')) as [string, string, string, string];
    const crone = await clients.login(a);
    const wicca = await clients.login(b, 'websocket');
    const hag = await clients.login(c);
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch', { 'muc#roomconfig_maxusers': '2', 'muc#roomconfig_roomowners': [`${a}@localhost`, `${d}@localhost`] });
    await enter(wicca, room, 'secondwitch');
    const refused = await enter(hag, room, 'thirdwitch').catch((err: { stanza: Element }) => err.stanza);
    assert.ok(refused.getChild('error')?.getChild('service-unavailable'));
    assert.equal(refused.getChild('error')?.attrs.type, 'wait');
    const hecate = await clients.login(d, 'websocket');
    assert.equal(item(await enter(hecate, room, 'hecate')).affiliation, 'owner');
  });

  it('§7.2.13-§7.2.15: history with delay from the room, trimmed by maxstanzas, maxchars, seconds and since; the subject last', async function () {
    const [a, b] = (await clients.users('crone', 'hecate')) as [string, string];
    const crone = await clients.login(a, 'websocket');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    for (const line of ['Thrice the brinded cat hath mew\'d.', 'Thrice and once the hedge-pig whined.', 'Harpier cries \'Tis time, \'tis time.']) {
      await groupchat(crone, room, line);
      await crone.next((s) => isMessage(`${room}/firstwitch`)(s) && s.getChildText('body') === line);
    }
    await crone.xmpp.send(xml('message', { to: room, type: 'groupchat' }, xml('subject', {}, 'Fire Burn and Cauldron Bubble!')));
    await crone.next(isSubject(room));

    const history = async (attrs: Record<string, string> | undefined): Promise<string[]> => {
      const hecate = await clients.login(b, 'tcp', `broom${Math.random().toString(36).slice(2)}`);
      const bodies: string[] = [];
      const done = new Promise<Element>((resolve) => {
        hecate.xmpp.on('stanza', (s: Element) => {
          if (isSubject(room)(s)) resolve(s);
          else if (s.is('message') && s.getChild('body')) bodies.push(s.getChildText('body') ?? '');
        });
      });
      const join = xml('x', { xmlns: MUC });
      if (attrs !== undefined) join.append(xml('history', attrs));
      await hecate.xmpp.send(xml('presence', { to: `${room}/hecate-${Math.random().toString(36).slice(2, 8)}` }, join));
      const subject = await done;
      assert.equal(subject.getChildText('subject'), 'Fire Burn and Cauldron Bubble!');
      assert.equal(subject.attrs.from, `${room}/firstwitch`);
      assert.equal(subject.getChild('delay', 'urn:xmpp:delay')?.attrs.from, room);
      await hecate.stop();
      return bodies;
    };

    const hecate = await clients.login(b, 'tcp', 'broom');
    const all: Element[] = [];
    const subjectSeen = new Promise<void>((resolve) => hecate.xmpp.on('stanza', (s: Element) => (isSubject(room)(s) ? resolve() : s.is('message') && all.push(s))));
    await hecate.xmpp.send(xml('presence', { to: `${room}/hecate` }, xml('x', { xmlns: MUC })));
    await subjectSeen;
    assert.equal(all.length, 3);
    const delay = all[0]?.getChild('delay', 'urn:xmpp:delay');
    assert.equal(delay?.attrs.from, room, 'the delay is from the room (§7.2.13)');
    assert.ok(Date.now() - Date.parse(delay?.attrs.stamp ?? '') < 60_000);
    assert.equal(all[0]?.attrs.from, `${room}/firstwitch`);
    await hecate.stop();

    assert.deepEqual(await history({ maxstanzas: '2' }), ['Thrice and once the hedge-pig whined.', 'Harpier cries \'Tis time, \'tis time.']);
    assert.deepEqual(await history({ maxchars: '0' }), []);
    assert.equal((await history({ seconds: '3600' })).length, 3);
    assert.deepEqual(await history({ since: new Date(Date.now() + 60_000).toISOString() }), []);
    assert.equal((await history({ since: '1970-01-01T00:00:00Z' })).length, 3);
    // maxchars counts whole stanzas: room for one, not two.
    assert.equal((await history({ maxchars: '400' })).length, 1);
  });

  it('§7.2.18: presence without the MUC element from a non-occupant gets the explicit kick (110, 307, 333)', async function () {
    const [a, b] = (await clients.users('crone', 'hag')) as [string, string];
    const crone = await clients.login(a);
    const hag = await clients.login(b, 'websocket');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    await hag.xmpp.send(xml('presence', { to: `${room}/thirdwitch` }));
    const kick = await hag.next(isPresence(`${room}/thirdwitch`, 'unavailable'));
    assert.deepEqual(statuses(kick), [110, 307, 333]);
    assert.deepEqual(item(kick), { affiliation: 'none', role: 'none' });
    await nothing(crone, isPresence(`${room}/thirdwitch`));
  });

  it('§7.6: a nickname change is unavailable with 303 and the new nick, then presence from the new nick; taken ones conflict', async function () {
    const [a, b] = (await clients.users('crone', 'hag')) as [string, string];
    const crone = await clients.login(a, 'tcp');
    const hag = await clients.login(b, 'websocket', 'pda');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    await enter(hag, room, 'thirdwitch');
    await crone.next(isPresence(`${room}/thirdwitch`));

    await hag.xmpp.send(xml('presence', { to: `${room}/oldhag`, id: 'ifd1c35' }));
    const gone = await hag.next(isPresence(`${room}/thirdwitch`, 'unavailable'));
    assert.deepEqual(statuses(gone), [110, 303]);
    assert.equal(item(gone).nick, 'oldhag');
    assert.equal(item(gone).role, 'participant');
    const back = await hag.next(isPresence(`${room}/oldhag`));
    assert.deepEqual(statuses(back), [110]);
    const seen = await crone.next(isPresence(`${room}/thirdwitch`, 'unavailable'));
    assert.deepEqual(statuses(seen), [303]);
    assert.deepEqual(item(seen), { affiliation: 'none', role: 'participant', jid: `${b}@localhost/pda`, nick: 'oldhag' });
    await crone.next(isPresence(`${room}/oldhag`));

    await hag.xmpp.send(xml('presence', { to: `${room}/firstwitch`, id: 'taken' }));
    const conflict = await hag.next((s) => s.attrs.id === 'taken');
    assert.equal(conflict.attrs.type, 'error');
    assert.ok(conflict.getChild('error')?.getChild('conflict'));
    await groupchat(hag, room, 'still here as oldhag');
    assert.equal((await crone.next(isMessage(`${room}/oldhag`))).getChildText('body'), 'still here as oldhag');
  });

  it('§7.7: a change of availability reaches every occupant with the role and affiliation', async function () {
    const [a, b] = (await clients.users('crone', 'wicca')) as [string, string];
    const crone = await clients.login(a, 'websocket');
    const wicca = await clients.login(b, 'tcp', 'laptop');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    await enter(wicca, room, 'oldhag');
    await crone.next(isPresence(`${room}/oldhag`));
    await wicca.xmpp.send(xml('presence', { to: `${room}/oldhag` }, xml('show', {}, 'xa'), xml('status', {}, 'gone where the goblins go')));
    const update = await crone.next(isPresence(`${room}/oldhag`));
    assert.equal(update.getChildText('show'), 'xa');
    assert.equal(update.getChildText('status'), 'gone where the goblins go');
    assert.deepEqual(item(update), { affiliation: 'none', role: 'participant', jid: `${b}@localhost/laptop` });
    assert.equal((await wicca.next(isSelf(`${room}/oldhag`))).getChildText('show'), 'xa');
  });

  it('§7.14: exiting tells the occupant (110) and the others (role none); the last one out ends a temporary room', async function () {
    const [a, b] = (await clients.users('crone', 'wicca')) as [string, string];
    const crone = await clients.login(a, 'tcp');
    const wicca = await clients.login(b, 'websocket', 'laptop');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    await enter(wicca, room, 'oldhag');
    await wicca.xmpp.send(xml('presence', { to: `${room}/oldhag`, type: 'unavailable' }, xml('status', {}, 'gone where the goblins go')));
    const own = await wicca.next(isPresence(`${room}/oldhag`, 'unavailable'));
    assert.deepEqual(statuses(own), [110]);
    assert.equal(item(own).role, 'none');
    const seen = await crone.next(isPresence(`${room}/oldhag`, 'unavailable'));
    assert.equal(seen.getChildText('status'), 'gone where the goblins go');
    assert.deepEqual(item(seen), { affiliation: 'none', role: 'none', jid: `${b}@localhost/laptop` });
    // §17.3.5: unavailable presence from a non-occupant is ignored.
    await wicca.xmpp.send(xml('presence', { to: `${room}/oldhag`, type: 'unavailable' }));
    await nothing(crone, isPresence(`${room}/oldhag`, 'unavailable'));

    await crone.xmpp.send(xml('presence', { to: `${room}/firstwitch`, type: 'unavailable' }));
    await crone.next(isPresence(`${room}/firstwitch`, 'unavailable'));
    assert.deepEqual(statuses(await enter(wicca, room, 'oldhag')), [110, 201], 'the room was gone; entering created it anew');
  });

  it('§7.14: a client that drops off is taken out of the room', async function () {
    const [a, b] = (await clients.users('crone', 'wicca')) as [string, string];
    const crone = await clients.login(a, 'websocket');
    const wicca = await clients.login(b, 'tcp', 'laptop');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    await enter(wicca, room, 'oldhag');
    await wicca.stop();
    assert.equal(item(await crone.next(isPresence(`${room}/oldhag`, 'unavailable'))).role, 'none');
    await admin(crone, 'get', room, xml('item', { role: 'participant' })).then((result) => assert.equal(result.getChild('query')?.getChildren('item').length, 0));
  });

  it('§18.1.2, §11.1: an occupant whose client bounces room traffic with a delivery error is removed (333)', async function () {
    const [a, b] = (await clients.users('harfleur', 'pistol')) as [string, string];
    const gower = await clients.login(a, 'tcp', 'cell');
    const pistol = await clients.login(b, 'websocket', 'harfleur');
    const room = clients.room('harfleur');
    await createRoom(gower, room, 'gower');
    await enter(pistol, room, 'pistol');
    // A bounce that says nothing about delivery changes nothing.
    await pistol.xmpp.send(xml('message', { to: room, type: 'error' }, xml('error', { type: 'cancel' }, xml('feature-not-implemented', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }))));
    await nothing(gower, isPresence(`${room}/pistol`, 'unavailable'));
    await pistol.xmpp.send(xml('presence', { to: `${room}/pistol`, type: 'error' }, xml('error', { type: 'wait' }, xml('recipient-unavailable', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }))));
    const removed = await gower.next(isPresence(`${room}/pistol`, 'unavailable'));
    assert.deepEqual(statuses(removed), [333]);
    assert.equal(item(removed).role, 'none');
  });

  it('§7.2.1, §17.3.3: entering again from the same full JID resynchronises that client only', async function () {
    const [a, b] = (await clients.users('crone', 'wicca')) as [string, string];
    const crone = await clients.login(a, 'tcp');
    const wicca = await clients.login(b, 'websocket');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    await enter(wicca, room, 'oldhag', { subject: true });
    await crone.next(isPresence(`${room}/oldhag`));
    await wicca.xmpp.send(xml('presence', { to: `${room}/oldhag` }, xml('x', { xmlns: MUC })));
    await wicca.next(isPresence(`${room}/firstwitch`));
    await wicca.next(isSelf(`${room}/oldhag`));
    await wicca.next(isSubject(room));
    await nothing(crone, isPresence(`${room}/oldhag`));
  });

  it('§17.3.1: a presence probe or subscription to the room neither enters nor exits', async function () {
    const [a, b] = (await clients.users('crone', 'wicca')) as [string, string];
    const crone = await clients.login(a, 'tcp');
    const wicca = await clients.login(b, 'websocket');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    await wicca.xmpp.send(xml('presence', { to: `${room}/oldhag`, type: 'probe' }));
    await nothing(crone, isPresence(`${room}/oldhag`));
    await configure(crone, room, { 'muc#roomconfig_roomname': 'still fine' });
  });
});
