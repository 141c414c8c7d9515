// XEP-0045 rooms across nodes (xeps/0045-muc/cluster.ts): node processes on one private redis-server and one
// shared embedded store, clients over TCP, WebSocket (xmpp.js) and BOSH (Strophe.js) on different nodes in one
// room. The room lives on one node (its key in Redis says which); occupants elsewhere enter, talk, get private
// messages and kicks; a groupchat message costs one publish per node with occupants; every occupant sees one
// order; a session ending on another node leaves the room; a node dying takes its occupants out (333), and
// the death of the room's host tells occupants elsewhere (332), after which the room comes back on another node.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Element } from 'ltx';
import { $pres } from 'strophe.js';
import { ALIVE_TTL_MS, SWEEP_JITTER_MS, SWEEP_MS } from '../src/cluster/node-registry.js';
import { connect, type ClientTransport, type TestClient } from './support/clients.js';
import { addUsers, startNode, type NodeProcess } from './support/cluster.js';
import { startRedis, type RedisInstance } from './support/redis.js';
import { connectStrophe, type StropheClient } from './support/strophe.js';
import { admin, createRoom, enter, groupchat, isPresence, MUC, MUC_USER, statuses, xml } from '../xeps/0045-muc/test-kit.js';

const PASSWORD = 'secret';
const SERVICE = 'conference.localhost';
/** A node's death is seen within the heartbeat TTL plus one sweep (src/cluster/README.md), with slack for a loaded machine. */
const NODE_DOWN_BOUND_MS = ALIVE_TTL_MS + SWEEP_MS + SWEEP_JITTER_MS + 3000;

describe('MUC across nodes (XEP-0045 on a Redis cluster)', function () {
  this.timeout(30_000);
  let redis: RedisInstance | undefined;
  let dataDir = '';
  const nodes: NodeProcess[] = [];
  const clients: TestClient[] = [];
  const strophes: StropheClient[] = [];
  const node = (i: number): NodeProcess => nodes[i] as NodeProcess;
  let serial = 0;
  const roomName = (prefix: string): string => `${prefix}${++serial}@${SERVICE}`;

  const login = async (at: NodeProcess, username: string, transport: ClientTransport, resource = 'r'): Promise<TestClient> => {
    const client = await connect(at, { transport, username, password: PASSWORD, resource });
    clients.push(client);
    return client;
  };
  const bosh = async (at: NodeProcess, username: string): Promise<StropheClient> => {
    const client = await connectStrophe(at, { transport: 'bosh', username, password: PASSWORD, resource: 'bosh' });
    strophes.push(client);
    return client;
  };
  const redisClient = (): ReturnType<RedisInstance['client']> => (redis as RedisInstance).client();
  const hostOf = (room: string): Promise<string | null> => redisClient().get(`rt:place:{${room}}`);

  before(async function () {
    this.timeout(120_000);
    redis = await startRedis(this);
    dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-cluster-muc-'));
    await addUsers(dataDir, PASSWORD, 'alice', 'bob', 'carol', 'dave', 'erin', 'frank');
    for (const id of ['m1', 'm2']) nodes.push(await startNode({ id, redisUrl: redis.url, dataDir }));
  });

  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    await Promise.all(strophes.splice(0).map((c) => c.stop()));
    if (this.currentTest?.state === 'failed') for (const n of nodes) console.log(`--- log of ${n.id} ---\n${n.log().slice(-4000)}`);
  });

  after(async function () {
    this.timeout(30_000);
    await Promise.all(nodes.map((n) => (n.child.exitCode === null && n.child.signalCode === null ? n.kill() : undefined)));
    await redis?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('hosts a room on one node; occupants on the other enter over WebSocket and BOSH and see each other (§7.2)', async function () {
    const room = roomName('lobby');
    const alice = await login(node(0), 'alice', 'tcp');
    await createRoom(alice, room, 'Alice');
    assert.equal(await hostOf(room), 'm1');
    assert.deepEqual(await redisClient().smembers('rt:node:{m1}:places'), [room]);

    const bob = await login(node(1), 'bob', 'websocket');
    const bobSelf = await enter(bob, room, 'Bob');
    assert.ok(statuses(bobSelf).includes(110));
    await alice.next(isPresence(`${room}/Bob`));

    const carol = await bosh(node(1), 'carol');
    carol.send($pres({ to: `${room}/Carol` }).c('x', { xmlns: MUC }));
    const carolSelf = await carol.next((s) => s.tagName === 'presence' && s.getAttribute('from') === `${room}/Carol`);
    assert.ok([...Array.from(carolSelf.getElementsByTagName('status'))].some((s) => s.getAttribute('code') === '110'));
    await alice.next(isPresence(`${room}/Carol`));
    await bob.next(isPresence(`${room}/Carol`));
    // Still one room, on its first node.
    assert.equal(await hostOf(room), 'm1');
  });

  it('a groupchat message costs ONE publish to a node with several occupants, and every occupant sees one order (§7.4)', async function () {
    const room = roomName('order');
    const alice = await login(node(0), 'alice', 'tcp');
    await createRoom(alice, room, 'Alice');
    const dave = await login(node(0), 'dave', 'websocket');
    await enter(dave, room, 'Dave');
    const bob = await login(node(1), 'bob', 'websocket');
    await enter(bob, room, 'Bob');
    const carol = await bosh(node(1), 'carol');
    carol.send($pres({ to: `${room}/Carol` }).c('x', { xmlns: MUC }));
    await carol.next((s) => s.tagName === 'presence' && s.getAttribute('from') === `${room}/Carol` && s.getAttribute('type') === null);
    await bob.next(isPresence(`${room}/Carol`));

    const spy = redisClient();
    const published: string[] = [];
    spy.on('message', (_channel: string, payload: string) => {
      if (payload.includes('one-publish')) published.push(payload);
    });
    await spy.subscribe('rt:ch:{m2}');
    await groupchat(alice, room, 'to both nodes', 'one-publish');
    await bob.next((s) => s.is('message') && s.attrs.id === 'one-publish');
    await carol.next((s) => s.tagName === 'message' && s.getAttribute('id') === 'one-publish');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(published.length, 1, `publishes to m2: ${published.length}`);
    const header = JSON.parse(published[0]?.split('\n')[0] ?? '{}') as { t?: string[] };
    assert.deepEqual([...(header.t ?? [])].sort(), ['bob@localhost/r', 'carol@localhost/bosh']);

    // Bob (on m2) and Dave (on m1) talk at once; each occupant on either node sees the same sequence.
    const count = 15;
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < count; i++) {
      sends.push(groupchat(bob, room, `bob ${i}`, `o-b${i}`));
      sends.push(groupchat(dave, room, `dave ${i}`, `o-d${i}`));
    }
    await Promise.all(sends);
    const order = async (client: TestClient): Promise<string[]> => {
      const ids: string[] = [];
      while (ids.length < 2 * count) ids.push((await client.next((s) => s.is('message') && s.attrs.id?.startsWith('o-') === true)).attrs.id as string);
      return ids;
    };
    const carolOrder = async (): Promise<string[]> => {
      const ids: string[] = [];
      while (ids.length < 2 * count) ids.push((await carol.next((s) => s.tagName === 'message' && s.getAttribute('id')?.startsWith('o-') === true)).getAttribute('id') as string);
      return ids;
    };
    const [a, b, c, d] = await Promise.all([order(alice), order(bob), carolOrder(), order(dave)]);
    assert.deepEqual(b, a, 'Bob (m2) and Alice (m1) saw different orders');
    assert.deepEqual(c, a, 'Carol (m2, BOSH) and Alice saw different orders');
    assert.deepEqual(d, a, 'Dave (m1) and Alice saw different orders');
    // Each sender's own messages keep the order they were sent in.
    assert.deepEqual(a.filter((id) => id.startsWith('o-b')), Array.from({ length: count }, (_, i) => `o-b${i}`));
    await spy.quit();
  });

  it('private messages, kicks and exits cross nodes (§7.5, §8.2, §7.14)', async function () {
    const room = roomName('admin');
    const alice = await login(node(0), 'alice', 'tcp');
    await createRoom(alice, room, 'Alice');
    const bob = await login(node(1), 'bob', 'websocket');
    await enter(bob, room, 'Bob');
    const carol = await login(node(1), 'carol', 'tcp');
    await enter(carol, room, 'Carol');
    await alice.next(isPresence(`${room}/Carol`));

    await bob.xmpp.send(xml('message', { to: `${room}/Alice`, type: 'chat', id: 'pm1' }, xml('body', {}, 'psst')));
    const pm = await alice.next((s) => s.is('message') && s.attrs.id === 'pm1');
    assert.equal(pm.attrs.from, `${room}/Bob`);

    await admin(alice, 'set', room, xml('item', { nick: 'Bob', role: 'none' }, xml('reason', {}, 'out')));
    const kicked = await bob.next((s) => s.is('presence') && s.attrs.from === `${room}/Bob` && s.attrs.type === 'unavailable');
    assert.ok(statuses(kicked).includes(307) && statuses(kicked).includes(110));
    const seen = await carol.next(isPresence(`${room}/Bob`, 'unavailable'));
    assert.ok(statuses(seen).includes(307));

    // Carol's session ends on m2: the room on m1 hears of it.
    await carol.stop();
    clients.splice(clients.indexOf(carol), 1);
    await alice.next(isPresence(`${room}/Carol`, 'unavailable'));
  });

  it('a non-occupant on another node cannot send to the room (§7.4: not-acceptable)', async function () {
    const room = roomName('closed');
    const alice = await login(node(0), 'alice', 'tcp');
    await createRoom(alice, room, 'Alice');
    const erin = await login(node(1), 'erin', 'websocket');
    await groupchat(erin, room, 'let me in', 'intruder');
    const error = await erin.next((s) => s.is('message') && s.attrs.type === 'error' && s.attrs.id === 'intruder');
    assert.ok(error.getChild('error')?.getChild('not-acceptable', 'urn:ietf:params:xml:ns:xmpp-stanzas'));
  });

  it('kill -9 of a node with occupants: they leave the rooms hosted elsewhere with 333 (§18.1.2)', async function () {
    const room = roomName('ghosts');
    const alice = await login(node(0), 'alice', 'tcp');
    await createRoom(alice, room, 'Alice');
    const doomed = await startNode({ id: 'm3', redisUrl: (redis as RedisInstance).url, dataDir });
    nodes.push(doomed);
    const frank = await login(doomed, 'frank', 'websocket');
    await enter(frank, room, 'Frank');
    await alice.next(isPresence(`${room}/Frank`));
    const killedAt = Date.now();
    await doomed.kill();
    const gone = await alice.next(isPresence(`${room}/Frank`, 'unavailable'), NODE_DOWN_BOUND_MS + 2000);
    const took = Date.now() - killedAt;
    console.log(`      occupant of a killed node left the room after ${took} ms`);
    assert.ok(statuses(gone).includes(333), `codes ${statuses(gone).join(',')}`);
    assert.ok(took <= NODE_DOWN_BOUND_MS, `took ${took} ms`);
  });

  it('kill -9 of the node hosting a room: occupants elsewhere get 332, and the persistent room comes back on another node (§11.2)', async function () {
    this.timeout(45_000);
    const room = roomName('phoenix');
    const host = await startNode({ id: 'm4', redisUrl: (redis as RedisInstance).url, dataDir });
    nodes.push(host);
    const owner = await login(host, 'erin', 'websocket');
    await createRoom(owner, room, 'Erin', { 'muc#roomconfig_persistentroom': '1', 'muc#roomconfig_roomname': 'Phoenix' });
    assert.equal(await hostOf(room), 'm4');
    const bob = await login(node(1), 'bob', 'websocket');
    await enter(bob, room, 'Bob');
    const killedAt = Date.now();
    await host.kill();
    const out = await bob.next((s) => s.is('presence') && s.attrs.from === `${room}/Bob` && s.attrs.type === 'unavailable', NODE_DOWN_BOUND_MS + 2000);
    console.log(`      occupant of a room whose host was killed was told after ${Date.now() - killedAt} ms`);
    assert.deepEqual(statuses(out), [110, 332]);
    assert.equal(out.getChild('x', MUC_USER)?.getChild('item')?.attrs.role, 'none');

    // Entering again: the room is taken over from the dead node and restored from the store on m2.
    const back = await enter(bob, room, 'Bob');
    assert.ok(!statuses(back).includes(201), 'the room was created anew instead of restored');
    assert.equal(await hostOf(room), 'm2');
    const info = await bob.xmpp.iqCaller.request(xml('iq', { type: 'get', to: room }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
    assert.equal(info.getChild('query')?.getChild('identity')?.attrs.name, 'Phoenix');
    const alice = await login(node(0), 'alice', 'tcp');
    await enter(alice, room, 'Alice');
    await groupchat(alice, room, 'risen', 'phoenix-1');
    const seen: Element = await bob.next((s) => s.is('message') && s.attrs.id === 'phoenix-1');
    assert.equal(seen.attrs.from, `${room}/Alice`);
  });
});
