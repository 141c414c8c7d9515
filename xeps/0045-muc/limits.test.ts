// The [muc] limits, each refused with XEP-0045's own error: occupants per room (§7.2.9 service-unavailable),
// rooms per user (§10.1.1 not-allowed), messages per occupant (a service policy, §7.4: policy-violation) and
// the history a room keeps (§7.2.13).
import assert from 'node:assert/strict';
import type { Element } from 'ltx';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { Clients, condition, configure, createRoom, enter, groupchat, iq, isMessage, isPresence, isSubject, MUC, MUC_OWNER, refusal, refusedEntry, xml } from './test-kit.js';

describe('XEP-0045 service limits', function () {
  let server: TestServer;
  const clients = new Clients(() => server);

  before(async function () {
    server = await startTestServer({ muc: { maxOccupants: 3, maxRoomsPerUser: 2, maxHistory: 3, historyMaxChars: 100_000, messageRate: 1, messageBurst: 3 } });
  });
  afterEach(() => clients.stopAll());
  after(async function () {
    await server?.stop();
  });

  it('max_occupants: a room holds at most that many (service-unavailable), and no owner may raise its maximum beyond', async function () {
    const [a, b, c, d] = (await clients.users('crone', 'wicca', 'hag', 'hecate')) as [string, string, string, string];
    const crone = await clients.login(a, 'tcp');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    assert.equal(await refusal(configure(crone, room, { 'muc#roomconfig_maxusers': '4' })), 'not-acceptable');
    await enter(await clients.login(b, 'websocket'), room, 'secondwitch');
    await enter(await clients.login(c, 'tcp'), room, 'thirdwitch');
    assert.equal(await refusedEntry(enter(await clients.login(d, 'websocket'), room, 'hecate')), 'service-unavailable');
  });

  it('max_rooms_per_user: a user owning that many rooms may not create another (not-allowed), persistent ones included', async function () {
    const [a] = (await clients.users('crone')) as [string];
    const crone = await clients.login(a, 'tcp');
    const first = clients.room();
    const second = clients.room();
    await createRoom(crone, first, 'firstwitch', { 'muc#roomconfig_persistentroom': '1' });
    await createRoom(crone, second, 'firstwitch');
    const third = clients.room();
    assert.equal(await refusedEntry(enter(crone, third, 'firstwitch')), 'not-allowed');
    // The temporary room goes when she leaves it; the persistent one stays and still counts.
    await crone.xmpp.send(xml('presence', { to: `${second}/firstwitch`, type: 'unavailable' }));
    await crone.next(isPresence(`${second}/firstwitch`, 'unavailable'));
    await crone.xmpp.send(xml('presence', { to: `${first}/firstwitch`, type: 'unavailable' }));
    await crone.next(isPresence(`${first}/firstwitch`, 'unavailable'));
    await createRoom(crone, third, 'firstwitch');
    assert.equal(await refusedEntry(enter(crone, clients.room(), 'firstwitch')), 'not-allowed');
  });

  it('message_rate: an occupant sending faster than the rate beyond the burst is refused with policy-violation (wait)', async function () {
    const [a] = (await clients.users('crone')) as [string];
    const crone = await clients.login(a, 'websocket');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    for (let i = 0; i < 6; i++) await crone.xmpp.send(xml('message', { to: room, type: 'groupchat', id: `r${i}` }, xml('body', {}, `message ${i}`)));
    const refused = await crone.next((s) => s.is('message') && s.attrs.type === 'error');
    assert.equal(condition(refused), 'policy-violation');
    assert.equal(refused.getChild('error')?.attrs.type, 'wait');
    const through: string[] = [];
    for (let i = 0; i < 3; i++) through.push((await crone.next(isMessage(`${room}/firstwitch`, 'groupchat'))).attrs.id ?? '');
    assert.deepEqual(through, ['r0', 'r1', 'r2']);
  });

  it('max_history: a room keeps the last messages only, and sends no more than muc#maxhistoryfetch', async function () {
    const [a, b] = (await clients.users('crone', 'hecate')) as [string, string];
    const crone = await clients.login(a, 'tcp');
    const room = clients.room();
    await createRoom(crone, room, 'firstwitch');
    for (let i = 0; i < 5; i++) {
      await groupchat(crone, room, `line ${i}`);
      await crone.next(isMessage(`${room}/firstwitch`, 'groupchat'));
      // Stay under message_rate.
      await new Promise((resolve) => setTimeout(resolve, i >= 2 ? 1000 : 0));
    }
    const history = async (nick: string): Promise<string[]> => {
      const hecate = await clients.login(b, 'websocket', nick);
      const bodies: string[] = [];
      const done = new Promise<void>((resolve) => hecate.xmpp.on('stanza', (s: Element) => (isSubject(room)(s) ? resolve() : s.getChild('body') && bodies.push(s.getChildText('body') ?? ''))));
      await hecate.xmpp.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: MUC }, xml('history', { maxstanzas: '50' }))));
      await done;
      return bodies;
    };
    assert.deepEqual(await history('h1'), ['line 2', 'line 3', 'line 4']);
    await iq(crone, 'set', room, xml('query', { xmlns: MUC_OWNER }, xml('x', { xmlns: 'jabber:x:data', type: 'submit' }, xml('field', { var: 'muc#maxhistoryfetch' }, xml('value', {}, '1')))));
    assert.deepEqual(await history('h2'), ['line 4']);
    assert.equal(await refusal(configure(crone, room, { 'muc#maxhistoryfetch': '10' })), 'not-acceptable');
  });
});
