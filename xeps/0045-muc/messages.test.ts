// XEP-0045 §7.4 messages to all occupants, §8.1 the subject, §7.5 private messages, §7.8 invitations (mediated,
// and XEP-0249 direct ones passing through), §7.13/§8.6 voice requests, §17.4 IQs through the room with
// XEP-0410 self-ping, and what a non-occupant cannot do; xmpp.js over TCP and WebSocket, Strophe.js too.
import assert from 'node:assert/strict';
import type { Element } from 'ltx';
import { $msg, $pres } from 'strophe.js';
import { connectStrophe, type StropheClient } from '../../test/support/strophe.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import {
  admin,
  Clients,
  condition,
  createRoom,
  DATA,
  DISCO_INFO,
  DISCO_ITEMS,
  enter,
  groupchat,
  iq,
  isMessage,
  isPresence,
  isSubject,
  MUC,
  MUC_USER,
  nothing,
  PASSWORD,
  refusal,
  statuses,
  xml,
} from './test-kit.js';

const PING = 'urn:xmpp:ping';

function errorReply(client: { next(match: (s: Element) => boolean, ms?: number): Promise<Element> }, id: string): Promise<Element> {
  return client.next((s) => s.attrs.type === 'error' && s.attrs.id === id);
}

describe('XEP-0045 messages, invitations and IQs in rooms', function () {
  let server: TestServer;
  const clients = new Clients(() => server);
  const strophes: StropheClient[] = [];

  before(async function () {
    server = await startTestServer();
  });
  afterEach(async () => {
    await Promise.all(strophes.splice(0).map((s) => s.stop()));
    await clients.stopAll();
  });
  after(async function () {
    await server?.stop();
  });

  it('§7.4: a groupchat message reaches every occupant from the sender\'s occupant JID, with the same id', async function () {
    const [a, b, c] = (await clients.users('crone', 'wicca', 'hag')) as [string, string, string];
    const crone = await clients.login(a, 'tcp', 'desktop');
    const wicca = await clients.login(b, 'websocket', 'laptop');
    const hag = await clients.login(c, 'tcp', 'pda');
    const room = clients.room('coven');
    await createRoom(crone, room, 'firstwitch');
    await enter(wicca, room, 'secondwitch', { subject: true });
    await enter(hag, room, 'thirdwitch', { subject: true });
    await hag.xmpp.send(
      xml('message', { to: room, type: 'groupchat', id: 'hysf1v37' }, xml('body', {}, 'Harpier cries: \'tis time, \'tis time.'), xml('x', { xmlns: MUC_USER }, xml('status', { code: '201' }))),
    );
    for (const [client, jid] of [[crone, `${a}@localhost/desktop`], [wicca, `${b}@localhost/laptop`], [hag, `${c}@localhost/pda`]] as const) {
      const got = await client.next(isMessage(`${room}/thirdwitch`, 'groupchat'));
      assert.equal(got.attrs.id, 'hysf1v37');
      assert.equal(got.attrs.to, jid);
      assert.equal(got.getChildText('body'), 'Harpier cries: \'tis time, \'tis time.');
      assert.equal(got.getChild('x', MUC_USER), undefined, 'client-made muc#user data is not reflected');
    }
  });

  it('§7.4: a non-occupant may not send to the room (not-acceptable), nor learn its occupants', async function () {
    const [a, b] = (await clients.users('crone', 'macbeth')) as [string, string];
    const crone = await clients.login(a);
    const macbeth = await clients.login(b, 'websocket');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch', { 'muc#roomconfig_publicroom': '0' });
    await macbeth.xmpp.send(xml('message', { to: room, type: 'groupchat', id: 'm1' }, xml('body', {}, 'Speak, if you can')));
    assert.equal(condition(await errorReply(macbeth, 'm1')), 'not-acceptable');
    await nothing(crone, isMessage(room.concat('/'), 'groupchat'));
    // §7.5: nor send a private message, whether the nick exists or not (so nicks do not leak).
    for (const nick of ['firstwitch', 'nobody']) {
      await macbeth.xmpp.send(xml('message', { to: `${room}/${nick}`, type: 'chat', id: `pm-${nick}` }, xml('body', {}, 'psst')));
      assert.equal(condition(await errorReply(macbeth, `pm-${nick}`)), 'not-acceptable');
    }
    // §6.5: a hidden room keeps its occupants private; §6.6: disco of an occupant is bad-request.
    const items = await iq(macbeth, 'get', room, xml('query', { xmlns: DISCO_ITEMS }));
    assert.equal(items.getChild('query')?.getChildren('item').length, 0);
    assert.equal(await refusal(iq(macbeth, 'get', `${room}/firstwitch`, xml('query', { xmlns: DISCO_INFO }))), 'bad-request');
    assert.equal(await refusal(admin(macbeth, 'get', room, xml('item', { role: 'participant' }))), 'forbidden');
    const visible = await iq(crone, 'get', room, xml('query', { xmlns: DISCO_ITEMS }));
    assert.deepEqual(visible.getChild('query')?.getChildren('item').map((i) => i.attrs.jid), [`${room}/firstwitch`]);
  });

  it('§7.4: a visitor in a moderated room is forbidden to speak; §17.2.1: non-groupchat messages are bad-request', async function () {
    const [a, b] = (await clients.users('crone', 'hag')) as [string, string];
    const crone = await clients.login(a);
    const hag = await clients.login(b, 'websocket');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch', { 'muc#roomconfig_moderatedroom': '1' });
    await enter(hag, room, 'thirdwitch', { subject: true });
    await hag.xmpp.send(xml('message', { to: room, type: 'groupchat', id: 'v1' }, xml('body', {}, 'may I?')));
    const refused = await errorReply(hag, 'v1');
    assert.equal(condition(refused), 'forbidden');
    assert.equal(refused.getChild('error')?.attrs.type, 'auth');
    await hag.xmpp.send(xml('message', { to: room, type: 'chat', id: 'c1' }, xml('body', {}, 'hello?')));
    assert.equal(condition(await errorReply(hag, 'c1')), 'bad-request');
    // §17.2.3: a room that does not exist.
    await hag.xmpp.send(xml('message', { to: clients.room('nowhere'), type: 'groupchat', id: 'n1' }, xml('body', {}, 'anyone?')));
    assert.equal(condition(await errorReply(hag, 'n1')), 'item-not-found');
  });

  it('§8.1: moderators change the subject; others are forbidden unless muc#roomconfig_changesubject allows them', async function () {
    const [a, b, c] = (await clients.users('crone', 'wicca', 'hag')) as [string, string, string];
    const crone = await clients.login(a);
    const wicca = await clients.login(b, 'websocket');
    const hag = await clients.login(c);
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    await enter(wicca, room, 'secondwitch', { subject: true });
    await wicca.xmpp.send(xml('message', { to: room, type: 'groupchat', id: 'lh2bs617' }, xml('subject', {}, 'Fire Burn and Cauldron Bubble!')));
    const refused = await errorReply(wicca, 'lh2bs617');
    assert.equal(condition(refused), 'forbidden');
    assert.equal(refused.getChildText('subject'), 'Fire Burn and Cauldron Bubble!');

    await crone.xmpp.send(xml('message', { to: room, type: 'groupchat', id: 's1' }, xml('subject', {}, 'Fire Burn and Cauldron Bubble!')));
    const changed = await wicca.next(isSubject(room));
    await crone.next(isSubject(room));
    assert.equal(changed.attrs.from, `${room}/firstwitch`);
    assert.equal(changed.attrs.id, 's1');
    // A subject with a body is an ordinary message (§8.1 note).
    await wicca.xmpp.send(xml('message', { to: room, type: 'groupchat' }, xml('subject', {}, 'not a change'), xml('body', {}, 'just talk')));
    await crone.next(isMessage(`${room}/secondwitch`));

    await iq(crone, 'set', room, xml('query', { xmlns: 'http://jabber.org/protocol/muc#owner' }, xml('x', { xmlns: DATA, type: 'submit' }, xml('field', { var: 'muc#roomconfig_changesubject' }, xml('value', {}, '1')))));
    await wicca.xmpp.send(xml('message', { to: room, type: 'groupchat' }, xml('subject', {})));
    assert.equal((await crone.next(isSubject(room))).getChildText('subject'), '');
    const late = await enter(hag, room, 'thirdwitch');
    assert.ok(late);
    const subject = await hag.next(isSubject(room));
    assert.equal(subject.getChildText('subject'), '');
    assert.ok(subject.getChild('delay', 'urn:xmpp:delay'), 'an actively cleared subject keeps its delay (§7.2.15)');
  });

  it('§7.5: private messages go to the occupant\'s real JIDs from the sender\'s occupant JID; errors for groupchat and unknown nicks', async function () {
    const [a, b] = (await clients.users('crone', 'wicca')) as [string, string];
    const crone = await clients.login(a, 'tcp', 'desktop');
    const cronePhone = await clients.login(a, 'websocket', 'phone');
    const wicca = await clients.login(b, 'websocket', 'laptop');
    const room = clients.room('coven');
    await createRoom(crone, room, 'firstwitch');
    await enter(cronePhone, room, 'firstwitch');
    await enter(wicca, room, 'secondwitch');
    await wicca.xmpp.send(xml('message', { to: `${room}/firstwitch`, type: 'chat', id: 'hgn27af1' }, xml('body', {}, 'I\'ll give thee a wind.'), xml('x', { xmlns: MUC_USER })));
    for (const client of [crone, cronePhone]) {
      const pm = await client.next(isMessage(`${room}/secondwitch`, 'chat'));
      assert.equal(pm.attrs.id, 'hgn27af1');
      assert.equal(pm.getChildText('body'), 'I\'ll give thee a wind.');
      assert.ok(pm.getChild('x', MUC_USER));
    }
    await wicca.xmpp.send(xml('message', { to: `${room}/firstwitch`, type: 'groupchat', id: 'bx71f29k' }, xml('body', {}, 'I\'ll give thee a wind.')));
    const bad = await errorReply(wicca, 'bx71f29k');
    assert.equal(condition(bad), 'bad-request');
    assert.equal(bad.attrs.from, `${room}/firstwitch`);
    assert.equal(bad.getChild('error')?.attrs.type, 'modify');
    await wicca.xmpp.send(xml('message', { to: `${room}/thirdwitch`, type: 'chat', id: 'nobody' }, xml('body', {}, 'hello?')));
    assert.equal(condition(await errorReply(wicca, 'nobody')), 'item-not-found');

    await iq(crone, 'set', room, xml('query', { xmlns: 'http://jabber.org/protocol/muc#owner' }, xml('x', { xmlns: DATA, type: 'submit' }, xml('field', { var: 'muc#roomconfig_allowpm' }, xml('value', {}, 'moderators')))));
    await wicca.xmpp.send(xml('message', { to: `${room}/firstwitch`, type: 'chat', id: 'nopm' }, xml('body', {}, 'psst')));
    assert.equal(condition(await errorReply(wicca, 'nopm')), 'forbidden');
  });

  it('§7.8.2: a mediated invitation reaches the invitee from the room; a decline goes back to the inviter', async function () {
    const [a, b] = (await clients.users('crone', 'hecate')) as [string, string];
    const crone = await clients.online(a, 'tcp', 'desktop');
    const hecate = await clients.online(b, 'websocket', 'broom');
    const room = clients.room('coven');
    await createRoom(crone, room, 'firstwitch', { 'muc#roomconfig_passwordprotectedroom': '1', 'muc#roomconfig_roomsecret': 'cauldronburn' });
    await crone.xmpp.send(
      xml('message', { to: room, id: 'nzd143v8' }, xml('x', { xmlns: MUC_USER }, xml('invite', { to: `${b}@localhost` }, xml('reason', {}, 'Hey Hecate, this is the place for all good witches!')))),
    );
    const invitation = await hecate.next(isMessage(room));
    assert.equal(invitation.attrs.id, 'nzd143v8');
    const invite = invitation.getChild('x', MUC_USER)?.getChild('invite');
    assert.equal(invite?.attrs.from, `${a}@localhost`);
    assert.equal(invite?.getChildText('reason'), 'Hey Hecate, this is the place for all good witches!');
    assert.equal(invitation.getChild('x', MUC_USER)?.getChildText('password'), 'cauldronburn');

    await hecate.xmpp.send(xml('message', { to: room, id: 'jk2vs61v' }, xml('x', { xmlns: MUC_USER }, xml('decline', { to: `${a}@localhost` }, xml('reason', {}, 'Sorry, I\'m too busy right now.')))));
    const declined = await crone.next(isMessage(room));
    assert.equal(declined.attrs.to, `${a}@localhost/desktop`);
    const decline = declined.getChild('x', MUC_USER)?.getChild('decline');
    assert.equal(decline?.attrs.from, `${b}@localhost`);
    assert.equal(decline?.getChildText('reason'), 'Sorry, I\'m too busy right now.');

    // Declines go only to someone who invited; unknown invitees are item-not-found.
    await hecate.xmpp.send(xml('message', { to: room, id: 'again' }, xml('x', { xmlns: MUC_USER }, xml('decline', { to: `${a}@localhost` }))));
    assert.equal(condition(await errorReply(hecate, 'again')), 'item-not-found');
    await crone.xmpp.send(xml('message', { to: room, id: 'ghost' }, xml('x', { xmlns: MUC_USER }, xml('invite', { to: 'nobody-here@localhost' }))));
    assert.equal(condition(await errorReply(crone, 'ghost')), 'item-not-found');
  });

  it('§9.5: in a members-only room only admins invite, unless members may; their invitees become members', async function () {
    const [a, b, c, d] = (await clients.users('crone', 'hag', 'hecate', 'wicca')) as [string, string, string, string];
    const crone = await clients.login(a, 'tcp');
    const hag = await clients.login(b, 'websocket');
    const hecate = await clients.online(c, 'tcp');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch', { 'muc#roomconfig_membersonly': '1' });
    await admin(crone, 'set', room, xml('item', { affiliation: 'member', jid: `${b}@localhost` }));
    await enter(hag, room, 'thirdwitch', { subject: true });
    await hag.xmpp.send(xml('message', { to: room, id: 'C6E14DF6' }, xml('x', { xmlns: MUC_USER }, xml('invite', { to: `${c}@localhost` }))));
    const refused = await errorReply(hag, 'C6E14DF6');
    assert.equal(condition(refused), 'forbidden');
    assert.equal(refused.getChild('error')?.attrs.type, 'auth');

    await crone.xmpp.send(xml('message', { to: room }, xml('x', { xmlns: MUC_USER }, xml('invite', { to: `${c}@localhost` }))));
    await hecate.next(isMessage(room));
    assert.equal((await enter(hecate, room, 'hecate')).getChild('x', MUC_USER)?.getChild('item')?.attrs.affiliation, 'member');

    await iq(crone, 'set', room, xml('query', { xmlns: 'http://jabber.org/protocol/muc#owner' }, xml('x', { xmlns: DATA, type: 'submit' }, xml('field', { var: 'muc#roomconfig_allowinvites' }, xml('value', {}, '1')))));
    await hag.xmpp.send(xml('message', { to: room }, xml('x', { xmlns: MUC_USER }, xml('invite', { to: `${d}@localhost` }))));
    const members = await admin(crone, 'get', room, xml('item', { affiliation: 'member' }));
    assert.deepEqual(members.getChild('query')?.getChildren('item').map((i) => i.attrs.jid).sort(), [`${b}@localhost`, `${c}@localhost`, `${d}@localhost`].sort());
  });

  it('XEP-0249: a direct invitation passes from client to client', async function () {
    const [a, b] = (await clients.users('crone', 'hecate')) as [string, string];
    const crone = await clients.login(a, 'tcp');
    const hecate = await clients.login(b, 'websocket', 'broom');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    await crone.xmpp.send(xml('message', { to: `${b}@localhost/broom` }, xml('x', { xmlns: 'jabber:x:conference', jid: room, reason: 'Hey Hecate, this is the place for all good witches!' })));
    const invitation = await hecate.next((s) => s.is('message') && s.getChild('x', 'jabber:x:conference') !== undefined);
    assert.equal(invitation.getChild('x', 'jabber:x:conference')?.attrs.jid, room);
    assert.equal(invitation.attrs.from, `${a}@localhost/res`);
  });

  it('XEP-0410: a self-ping is answered by the room for an occupant and refused with not-acceptable otherwise', async function () {
    const [a, b] = (await clients.users('juliet', 'romeo')) as [string, string];
    const juliet = await clients.login(a, 'websocket', 'client');
    const romeo = await clients.login(b, 'tcp');
    const room = clients.room('characters');
    await createRoom(juliet, room, 'JuliC');
    const info = await iq(juliet, 'get', room, xml('query', { xmlns: DISCO_INFO }));
    assert.ok(info.getChild('query')?.getChildren('feature').some((f) => f.attrs.var === 'http://jabber.org/protocol/muc#self-ping-optimization'));
    const pong = await iq(juliet, 'get', `${room}/JuliC`, xml('ping', { xmlns: PING }));
    assert.equal(pong.attrs.from, `${room}/JuliC`);
    assert.equal(await refusal(iq(romeo, 'get', `${room}/JuliC`, xml('ping', { xmlns: PING }))), 'not-acceptable');
    await juliet.xmpp.send(xml('presence', { to: `${room}/JuliC`, type: 'unavailable' }));
    await juliet.next(isPresence(`${room}/JuliC`, 'unavailable'));
    assert.equal(await refusal(iq(juliet, 'get', `${room}/JuliC`, xml('ping', { xmlns: PING }))), 'not-acceptable');
  });

  it('§17.4: an iq to another occupant is forwarded from the occupant JID and its answer comes back the same way', async function () {
    const [a, b] = (await clients.users('crone', 'wicca')) as [string, string];
    const crone = await clients.login(a, 'tcp');
    const wicca = await clients.login(b, 'websocket', 'laptop');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    await enter(wicca, room, 'secondwitch');
    wicca.xmpp.iqCallee.get('jabber:iq:version', 'query', () => xml('query', { xmlns: 'jabber:iq:version' }, xml('name', {}, 'Broomstick')));
    const seen = wicca.next((s) => s.is('iq') && s.attrs.type === 'get');
    const answer = await iq(crone, 'get', `${room}/secondwitch`, xml('query', { xmlns: 'jabber:iq:version' }));
    const forwarded = await seen;
    assert.equal(forwarded.attrs.from, `${room}/firstwitch`, 'the asker\'s real JID stays hidden');
    assert.equal(answer.attrs.from, `${room}/secondwitch`);
    assert.equal(answer.getChild('query')?.getChildText('name'), 'Broomstick');
    assert.equal(await refusal(iq(crone, 'get', `${room}/nobody`, xml('query', { xmlns: 'jabber:iq:version' }))), 'item-not-found');
  });

  it('§7.13, §8.6: a visitor asks for voice, a moderator approves, the visitor becomes a participant', async function () {
    const [a, b] = (await clients.users('crone', 'hag')) as [string, string];
    const crone = await clients.login(a, 'tcp', 'pda');
    const hag = await clients.login(b, 'websocket', 'pda');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch', { 'muc#roomconfig_moderatedroom': '1' });
    await enter(hag, room, 'thirdwitch', { subject: true });
    const request = xml(
      'x',
      { xmlns: DATA, type: 'submit' },
      xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'http://jabber.org/protocol/muc#request')),
      xml('field', { var: 'muc#role', type: 'list-single' }, xml('value', {}, 'participant')),
    );
    await hag.xmpp.send(xml('message', { to: room, id: 'yd53c486' }, request));
    const approval = await crone.next((s) => s.is('message') && s.attrs.from === room && s.getChild('x', DATA) !== undefined);
    const fields = new Map(approval.getChild('x', DATA)?.getChildren('field').map((f) => [f.attrs.var, f.getChildText('value')]));
    assert.equal(fields.get('muc#roomnick'), 'thirdwitch');
    assert.equal(fields.get('muc#jid'), `${b}@localhost/pda`);
    assert.equal(fields.get('muc#request_allow'), 'false');
    const submit = xml(
      'x',
      { xmlns: DATA, type: 'submit' },
      xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'http://jabber.org/protocol/muc#request')),
      xml('field', { var: 'muc#role' }, xml('value', {}, 'participant')),
      xml('field', { var: 'muc#jid' }, xml('value', {}, `${b}@localhost/pda`)),
      xml('field', { var: 'muc#roomnick' }, xml('value', {}, 'thirdwitch')),
      xml('field', { var: 'muc#request_allow' }, xml('value', {}, 'true')),
    );
    await crone.xmpp.send(xml('message', { to: room, id: 'approve' }, submit));
    const voiced = await hag.next((s) => isPresence(`${room}/thirdwitch`)(s) && s.getChild('x', MUC_USER)?.getChild('item')?.attrs.role === 'participant');
    assert.deepEqual(statuses(voiced), [110]);
    await groupchat(hag, room, 'at last');
    await crone.next(isMessage(`${room}/thirdwitch`, 'groupchat'));
  });

  it('Strophe.js over WebSocket enters a room, speaks and hears', async function () {
    const [a, b] = (await clients.users('crone', 'wicca')) as [string, string];
    const crone = await clients.login(a, 'tcp');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    const wicca = await connectStrophe(server, { transport: 'websocket', username: b, password: PASSWORD, resource: 'laptop' });
    strophes.push(wicca);
    wicca.send($pres({ to: `${room}/secondwitch` }).c('x', { xmlns: MUC }));
    const self = await wicca.next((s) => s.tagName === 'presence' && s.getAttribute('from') === `${room}/secondwitch`);
    const codes = Array.from(self.getElementsByTagName('status')).map((s) => s.getAttribute('code'));
    assert.deepEqual(codes, ['110']);
    wicca.send($msg({ to: room, type: 'groupchat', id: 'strophe1' }).c('body').t('from Strophe'));
    const heard = await crone.next(isMessage(`${room}/secondwitch`, 'groupchat'));
    assert.equal(heard.attrs.id, 'strophe1');
    await groupchat(crone, room, 'from xmpp.js');
    const back = await wicca.next((s) => s.tagName === 'message' && s.getAttribute('from') === `${room}/firstwitch` && s.getElementsByTagName('body').length > 0);
    assert.equal(back.getElementsByTagName('body')[0]?.textContent, 'from xmpp.js');
  });
});
