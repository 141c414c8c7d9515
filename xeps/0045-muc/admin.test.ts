// XEP-0045 muc#admin walked through its examples: §8.2 kicking, §8.3-§8.5 voice, §9.1-§9.2 bans, §9.3-§9.5
// membership, §9.6-§9.8 moderators, §10.3-§10.8 owners and admins, and the errors each use case names.
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { admin, Clients, createRoom, enter, isPresence, item, MUC_USER, refusal, refusedEntry, statuses, xml } from './test-kit.js';

describe('XEP-0045 moderator, admin and owner lists (muc#admin)', function () {
  let server: TestServer;
  const clients = new Clients(() => server);

  before(async function () {
    server = await startTestServer();
  });
  afterEach(() => clients.stopAll());
  after(async function () {
    await server?.stop();
  });

  const listed = (result: { getChild(name: string): { getChildren(name: string): { attrs: Record<string, string | undefined> }[] } | undefined }): Record<string, string | undefined>[] =>
    (result.getChild('query')?.getChildren('item') ?? []).map((i) => ({ ...i.attrs }));

  it('§8.2: a moderator kicks an occupant (307, actor, reason); lower affiliations cannot kick higher ones', async function () {
    const [a, b, c] = (await clients.users('fluellen', 'pistol', 'gower')) as [string, string, string];
    const fluellen = await clients.login(a, 'tcp', 'pda');
    const pistol = await clients.login(b, 'websocket', 'harfleur');
    const gower = await clients.login(c, 'tcp', 'cell');
    const room = clients.room('harfleur');
    await createRoom(fluellen, room, 'Fluellen');
    await enter(pistol, room, 'pistol');
    await enter(gower, room, 'gower');
    await gower.next(isPresence(`${room}/pistol`)).catch(() => undefined);

    await admin(fluellen, 'set', room, xml('item', { nick: 'pistol', role: 'none' }, xml('reason', {}, 'Avaunt, you cullion!')));
    const kicked = await pistol.next(isPresence(`${room}/pistol`, 'unavailable'));
    assert.deepEqual(statuses(kicked), [110, 307]);
    const kickedItem = kicked.getChild('x', MUC_USER)?.getChild('item');
    assert.equal(kickedItem?.attrs.role, 'none');
    assert.equal(kickedItem?.getChild('actor')?.attrs.nick, 'Fluellen');
    assert.equal(kickedItem?.getChildText('reason'), 'Avaunt, you cullion!');
    const told = await gower.next(isPresence(`${room}/pistol`, 'unavailable'));
    assert.deepEqual(statuses(told), [307]);

    // A participant is no moderator: forbidden; a mere moderator may not kick an owner: not-allowed.
    assert.equal(await refusal(admin(gower, 'set', room, xml('item', { nick: 'Fluellen', role: 'none' }))), 'forbidden');
    await admin(fluellen, 'set', room, xml('item', { nick: 'gower', role: 'moderator' })).catch(() => undefined);
    assert.equal(await refusal(admin(gower, 'set', room, xml('item', { nick: 'Fluellen', role: 'none' }))), 'not-allowed');
    assert.equal(await refusal(admin(fluellen, 'set', room, xml('item', { nick: 'nobody', role: 'none' }))), 'item-not-found');
  });

  it('§8.3-§8.5: voice is granted and revoked by nick, announced to all, and listed for moderators', async function () {
    const [a, b, c] = (await clients.users('crone', 'hag', 'wicca')) as [string, string, string];
    const crone = await clients.login(a, 'tcp', 'desktop');
    const hag = await clients.login(b, 'websocket', 'pda');
    const wicca = await clients.login(c, 'tcp', 'laptop');
    const room = clients.room('coven');
    await createRoom(crone, room, 'firstwitch', { 'muc#roomconfig_moderatedroom': '1' });
    assert.equal(item(await enter(hag, room, 'thirdwitch')).role, 'visitor');
    await enter(wicca, room, 'secondwitch');

    await admin(crone, 'set', room, xml('item', { nick: 'thirdwitch', role: 'participant' }, xml('reason', {}, 'A worthy witch indeed!')));
    const voiced = await wicca.next((s) => isPresence(`${room}/thirdwitch`)(s) && item(s).role === 'participant');
    assert.equal(voiced.getChild('x', MUC_USER)?.getChild('item')?.getChildText('reason'), 'A worthy witch indeed!');
    const list = await admin(crone, 'get', room, xml('item', { role: 'participant' }));
    assert.deepEqual(listed(list), [{ affiliation: 'none', jid: `${b}@localhost/pda`, nick: 'thirdwitch', role: 'participant' }]);

    await admin(crone, 'set', room, xml('item', { nick: 'thirdwitch', role: 'visitor' }));
    await hag.next((s) => isPresence(`${room}/thirdwitch`)(s) && item(s).role === 'visitor' && statuses(s).includes(110));
    // §8.4: voice is never revoked from an owner.
    await admin(crone, 'set', room, xml('item', { nick: 'secondwitch', role: 'moderator' }));
    assert.equal(await refusal(admin(wicca, 'set', room, xml('item', { nick: 'firstwitch', role: 'visitor' }))), 'not-allowed');
    // §17.4.4: role and affiliation in one item.
    assert.equal(await refusal(admin(crone, 'set', room, xml('item', { nick: 'thirdwitch', role: 'participant', affiliation: 'member' }))), 'bad-request');
    assert.equal(await refusal(admin(hag, 'get', room, xml('item', { role: 'participant' }))), 'forbidden');
  });

  it('§9.1, §9.2: an admin bans by bare JID (301), the ban list shows it, and the outcast cannot come back', async function () {
    const [a, b, c] = (await clients.users('kinghenryv', 'earlofcambridge', 'exeter')) as [string, string, string];
    const king = await clients.login(a, 'tcp', 'throne');
    const cambridge = await clients.login(b, 'websocket', 'stabber');
    const exeter = await clients.login(c, 'tcp', 'pda');
    const room = clients.room('southampton');
    await createRoom(king, room, 'The ♚');
    await enter(cambridge, room, 'cambridge');
    await enter(exeter, room, 'exeter');

    await admin(king, 'set', room, xml('item', { affiliation: 'outcast', jid: `${b}@localhost` }, xml('reason', {}, 'Treason')));
    const banned = await cambridge.next(isPresence(`${room}/cambridge`, 'unavailable'));
    assert.deepEqual(statuses(banned), [110, 301]);
    assert.equal(item(banned).affiliation, 'outcast');
    assert.equal(banned.getChild('x', MUC_USER)?.getChild('item')?.getChild('actor')?.attrs.nick, 'The ♚');
    assert.deepEqual(statuses(await exeter.next(isPresence(`${room}/cambridge`, 'unavailable'))), [301]);

    const list = await admin(king, 'get', room, xml('item', { affiliation: 'outcast' }));
    const [entry] = list.getChild('query')?.getChildren('item') ?? [];
    assert.deepEqual(entry?.attrs, { affiliation: 'outcast', jid: `${b}@localhost` });
    assert.equal(entry?.getChildText('reason'), 'Treason');
    assert.equal(await refusedEntry(enter(cambridge, room, 'cambridge')), 'forbidden');

    // §9.1: no self-ban (conflict); a non-admin may not ban (forbidden); the delta lifts a ban.
    assert.equal(await refusal(admin(king, 'set', room, xml('item', { affiliation: 'outcast', jid: `${a}@localhost` }))), 'conflict');
    assert.equal(await refusal(admin(exeter, 'set', room, xml('item', { affiliation: 'outcast', jid: `${a}@localhost` }))), 'forbidden');
    assert.equal(await refusal(admin(exeter, 'get', room, xml('item', { affiliation: 'outcast' }))), 'forbidden');
    await admin(king, 'set', room, xml('item', { affiliation: 'none', jid: `${b}@localhost` }));
    await enter(cambridge, room, 'cambridge');
  });

  it('§9.1: an admin may not ban an owner (not-allowed); a batch with one refused change changes nothing (§9.2)', async function () {
    const [a, b, c] = (await clients.users('bard', 'wicca', 'hecate')) as [string, string, string];
    const bard = await clients.login(a);
    const wicca = await clients.login(b, 'websocket');
    const room = clients.room();
    await createRoom(bard, room, 'bard');
    await admin(bard, 'set', room, xml('item', { affiliation: 'admin', jid: `${b}@localhost` }));
    assert.equal(
      await refusal(admin(wicca, 'set', room, xml('item', { affiliation: 'outcast', jid: `${c}@localhost` }), xml('item', { affiliation: 'outcast', jid: `${a}@localhost` }))),
      'not-allowed',
    );
    const bans = await admin(bard, 'get', room, xml('item', { affiliation: 'outcast' }));
    assert.deepEqual(listed(bans), []);
    // §10.6: only owners change the admin list.
    assert.equal(await refusal(admin(wicca, 'set', room, xml('item', { affiliation: 'admin', jid: `${c}@localhost` }))), 'forbidden');
  });

  it('§9.3-§9.5: membership is granted and revoked; in a members-only room losing it removes the occupant (321)', async function () {
    const [a, b, c] = (await clients.users('crone', 'hag', 'hecate')) as [string, string, string];
    const crone = await clients.login(a, 'tcp', 'desktop');
    const hag = await clients.login(b, 'websocket', 'pda');
    const room = clients.room('coven');
    await createRoom(crone, room, 'firstwitch');
    await enter(hag, room, 'thirdwitch');
    await admin(crone, 'set', room, xml('item', { affiliation: 'member', jid: `${b}@localhost`, nick: 'thirdwitch' }, xml('reason', {}, 'A worthy witch indeed!')));
    const member = await crone.next((s) => isPresence(`${room}/thirdwitch`)(s) && item(s).affiliation === 'member');
    assert.equal(item(member).role, 'participant');
    await admin(crone, 'set', room, xml('item', { affiliation: 'member', jid: `${c}@localhost` }));
    const list = await admin(crone, 'get', room, xml('item', { affiliation: 'member' }));
    assert.deepEqual(listed(list), [
      { affiliation: 'member', jid: `${b}@localhost`, nick: 'thirdwitch' },
      { affiliation: 'member', jid: `${c}@localhost` },
    ].sort((x, y) => (x.jid < y.jid ? -1 : 1)));
    // §9.5: in a semi-anonymous room a mere participant does not see the member list.
    assert.equal(await refusal(admin(hag, 'get', room, xml('item', { affiliation: 'member' }))), 'forbidden');

    // In an open room revoking membership only changes the affiliation.
    await admin(crone, 'set', room, xml('item', { affiliation: 'none', jid: `${b}@localhost` }));
    assert.equal(item(await crone.next((s) => isPresence(`${room}/thirdwitch`)(s) && item(s).affiliation === 'none')).role, 'participant');

    await admin(crone, 'set', room, xml('item', { affiliation: 'member', jid: `${b}@localhost` }));
    await crone.xmpp.iqCaller.request(
      xml('iq', { type: 'set', to: room }, xml('query', { xmlns: 'http://jabber.org/protocol/muc#owner' }, xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, xml('field', { var: 'muc#roomconfig_membersonly' }, xml('value', {}, '1'))))),
    );
    await admin(crone, 'set', room, xml('item', { affiliation: 'none', jid: `${b}@localhost` }));
    const removed = await hag.next(isPresence(`${room}/thirdwitch`, 'unavailable'));
    assert.deepEqual(statuses(removed), [110, 321]);
    assert.deepEqual(statuses(await crone.next(isPresence(`${room}/thirdwitch`, 'unavailable'))), [321]);
    assert.equal(await refusedEntry(enter(hag, room, 'thirdwitch')), 'registration-required');
  });

  it('§9.6-§9.8: admins grant and revoke moderator status and list the moderators; never from an admin or owner', async function () {
    const [a, b, c] = (await clients.users('crone', 'hag', 'wicca')) as [string, string, string];
    const crone = await clients.login(a, 'tcp', 'desktop');
    const hag = await clients.login(b, 'websocket', 'pda');
    const wicca = await clients.login(c, 'tcp', 'laptop');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    await enter(hag, room, 'thirdwitch');
    await enter(wicca, room, 'secondwitch');
    await admin(crone, 'set', room, xml('item', { nick: 'thirdwitch', role: 'moderator' }, xml('reason', {}, 'A worthy witch indeed!')));
    await wicca.next((s) => isPresence(`${room}/thirdwitch`)(s) && item(s).role === 'moderator');
    const moderators = await admin(crone, 'get', room, xml('item', { role: 'moderator' }));
    assert.deepEqual(listed(moderators).map((i) => i.nick).sort(), ['firstwitch', 'thirdwitch']);
    // A moderator who is no admin may neither grant moderator status nor take it from an owner.
    assert.equal(await refusal(admin(hag, 'set', room, xml('item', { nick: 'secondwitch', role: 'moderator' }))), 'forbidden');
    assert.equal(await refusal(admin(hag, 'set', room, xml('item', { nick: 'firstwitch', role: 'participant' }))), 'not-allowed');
    await admin(crone, 'set', room, xml('item', { nick: 'thirdwitch', role: 'participant' }));
    await wicca.next((s) => isPresence(`${room}/thirdwitch`)(s) && item(s).role === 'participant');
    await admin(crone, 'set', room, xml('item', { affiliation: 'admin', jid: `${c}@localhost` }));
    assert.equal(item(await hag.next((s) => isPresence(`${room}/secondwitch`)(s) && item(s).affiliation === 'admin')).role, 'moderator');
    assert.equal(await refusal(admin(wicca, 'set', room, xml('item', { nick: 'firstwitch', role: 'participant' }))), 'not-allowed');
  });

  it('§10.3-§10.8: owners manage the owner and admin lists; the last owner cannot leave the list (conflict)', async function () {
    const [a, b, c] = (await clients.users('crone', 'hecate', 'wicca')) as [string, string, string];
    const crone = await clients.login(a, 'tcp', 'desktop');
    const hecate = await clients.login(b, 'websocket', 'broom');
    const wicca = await clients.login(c, 'tcp', 'laptop');
    const room = clients.room('coven');
    await createRoom(crone, room, 'firstwitch');
    await enter(hecate, room, 'hecate');
    await admin(crone, 'set', room, xml('item', { affiliation: 'owner', jid: `${b}@localhost/broom` }, xml('reason', {}, 'A worthy witch indeed!')));
    assert.deepEqual(item(await crone.next((s) => isPresence(`${room}/hecate`)(s) && item(s).affiliation === 'owner')), {
      affiliation: 'owner',
      jid: `${b}@localhost/broom`,
      role: 'moderator',
    });
    const owners = await admin(crone, 'get', room, xml('item', { affiliation: 'owner' }));
    assert.deepEqual(listed(owners).map((i) => i.jid), [`${a}@localhost`, `${b}@localhost`]);
    await admin(crone, 'set', room, xml('item', { affiliation: 'admin', jid: `${b}@localhost` }));
    assert.equal(item(await crone.next((s) => isPresence(`${room}/hecate`)(s) && item(s).affiliation === 'admin')).role, 'moderator');
    await admin(crone, 'set', room, xml('item', { affiliation: 'admin', jid: `${c}@localhost` }));
    const admins = await admin(crone, 'get', room, xml('item', { affiliation: 'admin' }));
    assert.deepEqual(listed(admins), [
      { affiliation: 'admin', jid: `${b}@localhost`, nick: 'hecate' },
      { affiliation: 'admin', jid: `${c}@localhost` },
    ]);
    // §10.5, §10.8: non-owners are forbidden, in a semi-anonymous room even from reading the lists.
    assert.equal(await refusal(admin(hecate, 'set', room, xml('item', { affiliation: 'owner', jid: `${c}@localhost` }))), 'forbidden');
    assert.equal(await refusal(admin(hecate, 'get', room, xml('item', { affiliation: 'owner' }))), 'forbidden');
    assert.equal(await refusal(admin(wicca, 'get', room, xml('item', { affiliation: 'admin' }))), 'forbidden');
    assert.equal(await refusal(admin(crone, 'set', room, xml('item', { affiliation: 'member', jid: `${a}@localhost` }))), 'conflict');
    assert.deepEqual(listed(await admin(crone, 'get', room, xml('item', { affiliation: 'owner' }))).map((i) => i.jid), [`${a}@localhost`]);
  });
});
