// XEP-0045 §6 discovery of the service, its rooms and their occupants, §7.10 registering with a room and §7.12
// the reserved nickname, with real clients.
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import {
  admin,
  Clients,
  configure,
  createRoom,
  DATA,
  DISCO_INFO,
  DISCO_ITEMS,
  enter,
  formSubmit,
  iq,
  item,
  refusal,
  refusedEntry,
  SERVICE,
  xml,
} from './test-kit.js';

const REGISTER = 'jabber:iq:register';

describe('XEP-0045 discovery and registration', function () {
  let server: TestServer;
  const clients = new Clients(() => server);

  before(async function () {
    server = await startTestServer();
  });
  afterEach(() => clients.stopAll());
  after(async function () {
    await server?.stop();
  });

  it('§6.1, §6.2: the server lists the chat service, which says it is a text conference service speaking MUC', async function () {
    const [a] = (await clients.users('hag')) as [string];
    const hag = await clients.login(a, 'websocket', 'pda');
    const services = await iq(hag, 'get', 'localhost', xml('query', { xmlns: DISCO_ITEMS }));
    assert.ok(services.getChild('query')?.getChildren('item').some((i) => i.attrs.jid === SERVICE));
    const info = await iq(hag, 'get', SERVICE, xml('query', { xmlns: DISCO_INFO }));
    const query = info.getChild('query');
    assert.deepEqual({ ...query?.getChild('identity')?.attrs }, { category: 'conference', type: 'text', name: 'Chatrooms' });
    const features = query?.getChildren('feature').map((f) => f.attrs.var) ?? [];
    assert.ok(features.includes('http://jabber.org/protocol/muc'));
    assert.ok(features.includes('http://jabber.org/protocol/muc#stable_id'));
    assert.equal(await refusal(iq(hag, 'get', SERVICE, xml('query', { xmlns: DISCO_INFO, node: 'nothing' }))), 'item-not-found');
    assert.equal(await refusal(iq(hag, 'get', SERVICE, xml('vCard', { xmlns: 'vcard-temp' }))), 'service-unavailable');
  });

  it('§6.3: the service lists public rooms only, with their names; locked and hidden rooms stay out', async function () {
    const [a, b] = (await clients.users('crone', 'hag')) as [string, string];
    const crone = await clients.login(a, 'tcp');
    const hag = await clients.login(b, 'websocket');
    const heath = clients.room('heath');
    const coven = clients.room('coven');
    const locked = clients.room('locked');
    await createRoom(crone, heath, 'firstwitch', { 'muc#roomconfig_roomname': 'A Lonely Heath' });
    await createRoom(crone, coven, 'firstwitch', { 'muc#roomconfig_publicroom': '0' });
    await enter(crone, locked, 'firstwitch');
    const rooms = await iq(hag, 'get', SERVICE, xml('query', { xmlns: DISCO_ITEMS }));
    const items = rooms.getChild('query')?.getChildren('item') ?? [];
    assert.deepEqual({ ...items.find((i) => i.attrs.jid === heath)?.attrs }, { jid: heath, name: 'A Lonely Heath' });
    assert.equal(items.find((i) => i.attrs.jid === coven), undefined);
    assert.equal(items.find((i) => i.attrs.jid === locked), undefined);
  });

  it('§6.4: a room describes itself with features and the muc#roominfo form; unknown or locked rooms are item-not-found', async function () {
    const [a, b] = (await clients.users('crone', 'hag')) as [string, string];
    const crone = await clients.login(a, 'tcp');
    const hag = await clients.login(b, 'websocket');
    const room = clients.room('coven');
    await createRoom(crone, room, 'firstwitch', { 'muc#roomconfig_roomdesc': 'The place for all good witches!', 'muc#roomconfig_persistentroom': '1', 'muc#roomconfig_membersonly': '1' });
    await crone.xmpp.send(xml('message', { to: room, type: 'groupchat' }, xml('subject', {}, 'Spells')));
    const info = await iq(hag, 'get', room, xml('query', { xmlns: DISCO_INFO }));
    const query = info.getChild('query');
    assert.deepEqual({ ...query?.getChild('identity')?.attrs }, { category: 'conference', type: 'text', name: room.slice(0, room.indexOf('@')) });
    const features = query?.getChildren('feature').map((f) => f.attrs.var) ?? [];
    for (const f of ['http://jabber.org/protocol/muc', 'muc_persistent', 'muc_membersonly', 'muc_unmoderated', 'muc_unsecured', 'muc_public', 'muc_semianonymous']) {
      assert.ok(features.includes(f), `${f} is advertised`);
    }
    const form = query?.getChild('x', DATA);
    const values = new Map(form?.getChildren('field').map((f) => [f.attrs.var, f.getChildText('value')]));
    assert.equal(values.get('FORM_TYPE'), 'http://jabber.org/protocol/muc#roominfo');
    assert.equal(values.get('muc#roominfo_description'), 'The place for all good witches!');
    assert.equal(values.get('muc#roominfo_subject'), 'Spells');
    assert.equal(values.get('muc#roominfo_occupants'), '1');
    assert.equal(values.get('muc#roomconfig_changesubject'), '0');

    assert.equal(await refusal(iq(hag, 'get', clients.room('nowhere'), xml('query', { xmlns: DISCO_INFO }))), 'item-not-found');
    const locked = clients.room('locked');
    await enter(crone, locked, 'firstwitch');
    assert.equal(await refusal(iq(hag, 'get', locked, xml('query', { xmlns: DISCO_INFO }))), 'item-not-found');
    assert.equal(await refusal(iq(hag, 'get', room, xml('query', { xmlns: DISCO_INFO, node: 'http://jabber.org/protocol/muc#traffic' }))), 'service-unavailable');
  });

  it('§6.5: a public open room lists its occupants to anyone; a members-only one only to its occupants', async function () {
    const [a, b] = (await clients.users('crone', 'hag')) as [string, string];
    const crone = await clients.login(a, 'tcp');
    const hag = await clients.login(b, 'websocket');
    const open = clients.room('open');
    await createRoom(crone, open, 'firstwitch');
    const items = await iq(hag, 'get', open, xml('query', { xmlns: DISCO_ITEMS }));
    assert.deepEqual(items.getChild('query')?.getChildren('item').map((i) => ({ ...i.attrs })), [{ jid: `${open}/firstwitch` }]);
    const closed = clients.room('closed');
    await createRoom(crone, closed, 'firstwitch', { 'muc#roomconfig_membersonly': '1' });
    assert.equal((await iq(hag, 'get', closed, xml('query', { xmlns: DISCO_ITEMS }))).getChild('query')?.getChildren('item').length, 0);
    assert.equal((await iq(crone, 'get', closed, xml('query', { xmlns: DISCO_ITEMS }))).getChild('query')?.getChildren('item').length, 1);
  });

  it('§7.10: registering makes the user a member with a reserved nickname; §7.12 tells it back; others get conflict', async function () {
    const [a, b, c] = (await clients.users('crone', 'hag', 'wicca')) as [string, string, string];
    const crone = await clients.login(a, 'tcp');
    const hag = await clients.login(b, 'websocket', 'pda');
    const wicca = await clients.login(c, 'tcp');
    const room = clients.room('coven');
    await createRoom(crone, room, 'firstwitch');
    const nothingReserved = await iq(hag, 'get', room, xml('query', { xmlns: DISCO_INFO, node: 'x-roomuser-item' }));
    assert.equal(nothingReserved.getChild('query')?.getChildren('identity').length, 0);

    const form = await iq(hag, 'get', room, xml('query', { xmlns: REGISTER }));
    const fields = form.getChild('query')?.getChild('x', DATA)?.getChildren('field').map((f) => f.attrs.var);
    assert.deepEqual(fields, ['FORM_TYPE', 'muc#register_roomnick']);
    assert.equal(await refusal(iq(hag, 'set', room, xml('query', { xmlns: REGISTER }, formSubmit({}, 'http://jabber.org/protocol/muc#register')))), 'bad-request');
    await iq(hag, 'set', room, xml('query', { xmlns: REGISTER }, formSubmit({ 'muc#register_roomnick': 'thirdwitch' }, 'http://jabber.org/protocol/muc#register')));

    const registered = await iq(hag, 'get', room, xml('query', { xmlns: REGISTER }));
    assert.ok(registered.getChild('query')?.getChild('registered'));
    assert.equal(registered.getChild('query')?.getChildText('username'), 'thirdwitch');
    const reserved = await iq(hag, 'get', room, xml('query', { xmlns: DISCO_INFO, node: 'x-roomuser-item' }));
    assert.deepEqual({ ...reserved.getChild('query')?.getChild('identity')?.attrs }, { category: 'conference', type: 'text', name: 'thirdwitch' });

    assert.equal(await refusedEntry(enter(wicca, room, 'thirdwitch')), 'conflict');
    assert.equal(await refusal(iq(wicca, 'set', room, xml('query', { xmlns: REGISTER }, formSubmit({ 'muc#register_roomnick': 'thirdwitch' }, 'http://jabber.org/protocol/muc#register')))), 'conflict');
    assert.equal(item(await enter(hag, room, 'thirdwitch')).affiliation, 'member');
    const members = await admin(crone, 'get', room, xml('item', { affiliation: 'member' }));
    assert.deepEqual({ ...members.getChild('query')?.getChild('item')?.attrs }, { affiliation: 'member', jid: `${b}@localhost`, nick: 'thirdwitch' });

    // A members-only room does not let strangers register themselves in.
    await configure(crone, room, { 'muc#roomconfig_membersonly': '1' });
    assert.equal(await refusal(iq(wicca, 'get', room, xml('query', { xmlns: REGISTER }))), 'not-allowed');
  });
});
