// XEP-0045 muc#owner walked through its examples: §10.1.3 reserved rooms and the configuration form, §10.2
// later configuration and §10.2.1 notifications, 322 when a room turns members-only, §10.9 destruction.
import assert from 'node:assert/strict';
import type { Element } from 'ltx';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import {
  Clients,
  configure,
  createRoom,
  DATA,
  DISCO_INFO,
  enter,
  iq,
  isMessage,
  isPresence,
  item,
  MUC_OWNER,
  MUC_USER,
  refusal,
  refusedEntry,
  statuses,
  xml,
} from './test-kit.js';
import { mucStores } from './store/index.js';

function fields(form: Element | undefined): Map<string, Element> {
  return new Map((form?.getChildren('field') ?? []).filter((f) => f.attrs.var !== undefined).map((f) => [f.attrs.var as string, f]));
}

describe('XEP-0045 room configuration and destruction (muc#owner)', function () {
  let server: TestServer;
  const clients = new Clients(() => server);

  before(async function () {
    server = await startTestServer();
  });
  afterEach(() => clients.stopAll());
  after(async function () {
    await server?.stop();
  });

  it('§10.1.3: the owner of a new room gets the configuration form, submits it, and the room opens as configured', async function () {
    const [a, b] = (await clients.users('crone', 'hag')) as [string, string];
    const crone = await clients.login(a, 'tcp', 'desktop');
    const hag = await clients.login(b, 'websocket', 'pda');
    const room = clients.room('coven');
    await enter(crone, room, 'firstwitch', { subject: true });
    const result = await iq(crone, 'get', room, xml('query', { xmlns: MUC_OWNER }));
    const form = result.getChild('query', MUC_OWNER)?.getChild('x', DATA);
    assert.equal(form?.attrs.type, 'form');
    const byVar = fields(form);
    assert.equal(byVar.get('FORM_TYPE')?.getChildText('value'), 'http://jabber.org/protocol/muc#roomconfig');
    for (const name of [
      'muc#roomconfig_roomname', 'muc#roomconfig_roomdesc', 'muc#roomconfig_persistentroom', 'muc#roomconfig_publicroom', 'muc#roomconfig_membersonly',
      'muc#roomconfig_moderatedroom', 'muc#roomconfig_passwordprotectedroom', 'muc#roomconfig_roomsecret', 'muc#roomconfig_whois', 'muc#roomconfig_maxusers',
      'muc#roomconfig_changesubject', 'muc#roomconfig_allowinvites', 'muc#roomconfig_allowpm', 'muc#roomconfig_getmemberlist', 'muc#roomconfig_presencebroadcast',
      'muc#maxhistoryfetch', 'muc#roomconfig_roomadmins', 'muc#roomconfig_roomowners',
    ]) assert.ok(byVar.has(name), `${name} is in the form`);
    assert.equal(byVar.get('muc#roomconfig_whois')?.getChildText('value'), 'moderators');
    assert.deepEqual(byVar.get('muc#roomconfig_roomowners')?.getChildren('value').map((v) => v.getText()), [`${a}@localhost`]);
    assert.equal(byVar.get('muc#roomconfig_roomsecret')?.attrs.type, 'text-private');

    // Example 163, but with a blank password: not-acceptable, and the room stays locked.
    const blank = { 'muc#roomconfig_passwordprotectedroom': '1', 'muc#roomconfig_roomsecret': '' };
    assert.equal(await refusal(configure(crone, room, blank)), 'not-acceptable');
    assert.equal(await refusedEntry(enter(hag, room, 'thirdwitch')), 'item-not-found');
    assert.equal(await refusal(configure(crone, room, { 'muc#roomconfig_maxusers': 'lots' })), 'bad-request');
    assert.equal(await refusal(configure(crone, room, { 'muc#roomconfig_moderatedroom': 'maybe' })), 'bad-request');

    await configure(crone, room, {
      'muc#roomconfig_roomname': 'A Dark Cave',
      'muc#roomconfig_roomdesc': 'The place for all good witches!',
      'muc#roomconfig_changesubject': '1',
      'muc#roomconfig_maxusers': '10',
      'muc#roomconfig_publicroom': '0',
      'muc#roomconfig_moderatedroom': '1',
      'muc#roomconfig_passwordprotectedroom': '1',
      'muc#roomconfig_roomsecret': 'cauldronburn',
      'muc#roomconfig_whois': 'anyone',
      'muc#maxhistoryfetch': '20',
      'muc#roomconfig_roomadmins': [`${b}@localhost`],
    });
    const self = await enter(hag, room, 'thirdwitch', { password: 'cauldronburn' });
    assert.deepEqual(item(self), { affiliation: 'admin', role: 'moderator', jid: `${b}@localhost/pda` });
    assert.deepEqual(statuses(self), [100, 110]);
    const info = await iq(hag, 'get', room, xml('query', { xmlns: DISCO_INFO }));
    const features = info.getChild('query')?.getChildren('feature').map((f) => f.attrs.var) ?? [];
    for (const f of ['muc_hidden', 'muc_moderated', 'muc_passwordprotected', 'muc_nonanonymous', 'muc_temporary', 'muc_open']) assert.ok(features.includes(f), f);
    assert.equal(info.getChild('query')?.getChild('identity')?.attrs.name, 'A Dark Cave');
  });

  it('§10.1.3: cancelling the initial configuration destroys the room; §10.2: later cancels change nothing', async function () {
    const [a] = (await clients.users('crone')) as [string];
    const crone = await clients.login(a, 'websocket', 'desktop');
    const room = clients.room();
    await enter(crone, room, 'firstwitch', { subject: true });
    await iq(crone, 'set', room, xml('query', { xmlns: MUC_OWNER }, xml('x', { xmlns: DATA, type: 'cancel' })));
    const gone = await crone.next(isPresence(`${room}/firstwitch`, 'unavailable'));
    assert.ok(gone.getChild('x', MUC_USER)?.getChild('destroy'));
    assert.deepEqual(statuses(await enter(crone, room, 'firstwitch', { subject: true })), [110, 201]);
    await iq(crone, 'set', room, xml('query', { xmlns: MUC_OWNER }, xml('x', { xmlns: DATA, type: 'submit' })));
    await iq(crone, 'set', room, xml('query', { xmlns: MUC_OWNER }, xml('x', { xmlns: DATA, type: 'cancel' })));
    await iq(crone, 'get', room, xml('query', { xmlns: DISCO_INFO }));

    // An owner who leaves before configuring destroys the room (§10.1.3).
    const unconfigured = clients.room();
    await enter(crone, unconfigured, 'firstwitch', { subject: true });
    await crone.xmpp.send(xml('presence', { to: `${unconfigured}/firstwitch`, type: 'unavailable' }));
    const left = await crone.next(isPresence(`${unconfigured}/firstwitch`, 'unavailable'));
    assert.ok(left.getChild('x', MUC_USER)?.getChild('destroy'));
    assert.equal(await refusal(iq(crone, 'get', unconfigured, xml('query', { xmlns: DISCO_INFO }))), 'item-not-found');
  });

  it('§10.2: only owners read or change the configuration (forbidden)', async function () {
    const [a, b] = (await clients.users('crone', 'wicca')) as [string, string];
    const crone = await clients.login(a);
    const wicca = await clients.login(b, 'websocket', 'laptop');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    await enter(wicca, room, 'secondwitch');
    assert.equal(await refusal(iq(wicca, 'get', room, xml('query', { xmlns: MUC_OWNER }))), 'forbidden');
    assert.equal(await refusal(configure(wicca, room, { 'muc#roomconfig_roomname': 'Mine now' })), 'forbidden');
    assert.equal(await refusal(iq(crone, 'set', room, xml('query', { xmlns: MUC_OWNER }))), 'bad-request');
  });

  it('§10.2.1: occupants hear of configuration changes (104; 172 when the room becomes non-anonymous)', async function () {
    const [a, b] = (await clients.users('crone', 'wicca')) as [string, string];
    const crone = await clients.login(a, 'tcp');
    const wicca = await clients.login(b, 'websocket');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    await enter(wicca, room, 'secondwitch', { subject: true });
    await configure(crone, room, { 'muc#roomconfig_roomname': 'A Dark Cave' });
    const changed = await wicca.next(isMessage(room, 'groupchat'));
    assert.deepEqual(statuses(changed), [104]);
    await configure(crone, room, { 'muc#roomconfig_whois': 'anyone' });
    assert.deepEqual(statuses(await wicca.next(isMessage(room, 'groupchat'))), [172]);
    await configure(crone, room, { 'muc#roomconfig_whois': 'moderators' });
    assert.deepEqual(statuses(await wicca.next(isMessage(room, 'groupchat'))), [173]);
  });

  it('§10.2: a room that turns members-only removes its non-members with 322', async function () {
    const [a, b, c] = (await clients.users('crone', 'wicca', 'hag')) as [string, string, string];
    const crone = await clients.login(a, 'tcp');
    const wicca = await clients.login(b, 'websocket');
    const hag = await clients.login(c, 'tcp');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    await enter(wicca, room, 'secondwitch');
    await enter(hag, room, 'thirdwitch');
    await iq(crone, 'set', room, xml('query', { xmlns: 'http://jabber.org/protocol/muc#admin' }, xml('item', { affiliation: 'member', jid: `${c}@localhost` })));
    await configure(crone, room, { 'muc#roomconfig_membersonly': '1' });
    const removed = await wicca.next(isPresence(`${room}/secondwitch`, 'unavailable'));
    assert.deepEqual(statuses(removed), [110, 322]);
    assert.deepEqual(statuses(await hag.next(isPresence(`${room}/secondwitch`, 'unavailable'))), [322]);
    assert.equal(await refusedEntry(enter(wicca, room, 'secondwitch')), 'registration-required');
  });

  it('§10.9: the owner destroys the room; each occupant gets one unavailable presence with the venue and reason', async function () {
    const [a, b] = (await clients.users('crone', 'wicca')) as [string, string];
    const crone = await clients.login(a, 'tcp', 'desktop');
    const wicca = await clients.login(b, 'websocket', 'laptop');
    const room = clients.room('heath');
    await createRoom(crone, room, 'firstwitch', { 'muc#roomconfig_persistentroom': '1' });
    await enter(wicca, room, 'secondwitch');
    assert.equal(
      await refusal(iq(wicca, 'set', room, xml('query', { xmlns: MUC_OWNER }, xml('destroy', { jid: `coven@conference.localhost` }, xml('reason', {}, 'Macbeth doth come.'))))),
      'forbidden',
    );
    await iq(crone, 'set', room, xml('query', { xmlns: MUC_OWNER }, xml('destroy', { jid: 'coven@conference.localhost' }, xml('reason', {}, 'Macbeth doth come.'))));
    for (const [client, nick] of [[crone, 'firstwitch'], [wicca, 'secondwitch']] as const) {
      const gone = await client.next(isPresence(`${room}/${nick}`, 'unavailable'));
      assert.deepEqual(item(gone), { affiliation: 'none', role: 'none', jid: client === crone ? `${a}@localhost/desktop` : `${b}@localhost/laptop` });
      const destroy = gone.getChild('x', MUC_USER)?.getChild('destroy');
      assert.equal(destroy?.attrs.jid, 'coven@conference.localhost');
      assert.equal(destroy?.getChildText('reason'), 'Macbeth doth come.');
    }
    assert.equal(await server.server.stores.module('muc', mucStores).get(room), undefined, 'a persistent room leaves the store too');
    assert.equal(await refusal(iq(wicca, 'get', room, xml('query', { xmlns: DISCO_INFO }))), 'item-not-found');
  });
});
