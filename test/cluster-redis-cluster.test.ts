// Clustering on Redis Cluster (redis.cluster): three Ratatosk nodes in their own processes on a
// three-master Redis Cluster. The same routing as on one Redis server (test/cluster.test.ts): users on
// different nodes chat (full and bare JIDs), see each other's presence, and a full JID bound twice ends
// the older session with conflict. Keys are hash-tagged (one bare JID's keys, one node's keys, in one
// slot) and the bus uses sharded pub/sub, so a node's channel lives on one shard: the traffic to a node
// reaches only the master that owns its channel's slot, never every master as a classic PUBLISH does
// over the cluster bus. A MUC room shared by users on the three nodes works the same way.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import { Cluster } from 'ioredis';
import type { Element } from 'ltx';
import { NODES_KEY, nodeChannel, nodePlacesKey, placeKey, resourcesKey } from '../src/cluster/keys.js';
import { createRoom, enter, groupchat } from '../xeps/0045-muc/test-kit.js';
import { connect, type TestClient } from './support/clients.js';
import { addUsers, befriend, startNode, type NodeProcess } from './support/cluster.js';
import { rawLogin, type RawStream } from './support/raw-stream.js';
import { startRedisCluster, type RedisClusterTopology, type RedisProcess } from './support/redis-topologies.js';

const PASSWORD = 'secret';
const NODE_IDS = ['c1', 'c2', 'c3'];

const isPresence =
  (from: string, type?: string) =>
  (s: Element): boolean =>
    s.is('presence') && s.attrs.from === from && s.attrs.type === type;

/** "name:value" lines of INFO or CLUSTER INFO as numbers. */
function counters(text: unknown): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of String(text).split(/\r?\n/)) {
    const [name, value] = line.split(':');
    if (name && value !== undefined && /^\d+$/.test(value.trim())) out.set(name, Number(value));
  }
  return out;
}

/** How many times SPUBLISH ran on a master (INFO commandstats). */
async function spublishCalls(topology: RedisClusterTopology, master: RedisProcess): Promise<number> {
  const stats = String(await topology.command(master, 'INFO', 'commandstats'));
  return Number(/cmdstat_spublish:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

/** Pub/sub messages this master sent over the cluster bus, classic and sharded (CLUSTER INFO). */
async function busPublishes(topology: RedisClusterTopology, master: RedisProcess): Promise<number> {
  const info = counters(await topology.command(master, 'CLUSTER', 'INFO'));
  return (info.get('cluster_stats_messages_publish_sent') ?? 0) + (info.get('cluster_stats_messages_publishshard_sent') ?? 0);
}

describe('Cluster on Redis Cluster: three node processes, three masters, sharded pub/sub', function () {
  this.timeout(30_000);
  let topology: RedisClusterTopology | undefined;
  let redis: Cluster | undefined;
  let dataDir = '';
  const nodes: NodeProcess[] = [];
  const clients: TestClient[] = [];
  const raws: RawStream[] = [];
  const node = (i: number): NodeProcess => nodes[i] as NodeProcess;
  const cluster = (): RedisClusterTopology => topology as RedisClusterTopology;

  const login = async (at: NodeProcess, username: string, resource: string): Promise<TestClient> => {
    const client = await connect(at, { transport: 'tcp', username, password: PASSWORD, resource });
    clients.push(client);
    return client;
  };
  /** Logged in, interested in the roster, available; the presence echo means the directory has it. */
  const online = async (at: NodeProcess, username: string, resource: string): Promise<TestClient> => {
    const client = await login(at, username, resource);
    await client.xmpp.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: 'jabber:iq:roster' })));
    await client.xmpp.send(xml('presence'));
    await client.next(isPresence(`${username}@localhost/${resource}`));
    return client;
  };

  before(async function () {
    this.timeout(120_000);
    topology = await startRedisCluster(this, 3);
    dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-rcluster-nodes-'));
    await addUsers(dataDir, PASSWORD, 'alice', 'bob', 'carol', 'dave', 'erin', 'frank');
    await befriend(dataDir, 'carol', 'dave');
    const env = { RATATOSK_REDIS_CLUSTER: topology.addresses.join(',') };
    // One after the other: the first creates the shared certificate. No redis.url: the cluster's seeds.
    for (const id of NODE_IDS) nodes.push(await startNode({ id, redisUrl: '', dataDir, env }));
    redis = new Cluster(topology.addresses.map((a) => ({ host: '127.0.0.1', port: Number(a.split(':')[1]) })));
  });

  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    for (const stream of raws.splice(0)) stream.destroy();
    if (this.currentTest?.state === 'failed') for (const n of nodes) console.log(`--- log of ${n.id} ---\n${n.log().slice(-4000)}`);
  });

  after(async function () {
    this.timeout(30_000);
    redis?.disconnect();
    await Promise.all(nodes.map((n) => (n.child.exitCode === null && n.child.signalCode === null ? n.terminate() : undefined)));
    await topology?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('registers every node, and keeps one bare JID\'s keys and one node\'s keys in one slot (hash tags)', async function () {
    const r = redis as Cluster;
    assert.deepEqual((await r.zrange(NODES_KEY, 0, '-1')).sort(), NODE_IDS);
    await online(node(0), 'alice', 'desk');
    assert.ok(await r.hexists(resourcesKey('alice@localhost'), 'desk'), 'the directory on Redis Cluster has the session');
    const master = cluster().masters[0] as RedisProcess;
    const slot = async (key: string): Promise<number> => Number(await cluster().command(master, 'CLUSTER', 'KEYSLOT', key));
    assert.equal(await slot(resourcesKey('alice@localhost')), await slot('{alice@localhost}'));
    assert.equal(await slot('rt:node:{c1}:sessions'), await slot(nodeChannel('c1')));
  });

  it('routes messages between nodes, to full and to bare JIDs (RFC 6121 §8.5)', async function () {
    const alice = await online(node(0), 'alice', 'desk');
    const bob = await online(node(1), 'bob', 'phone');
    await alice.xmpp.send(xml('message', { to: 'bob@localhost/phone', type: 'chat', id: 'rc-full' }, xml('body', {}, 'to your full JID')));
    const toFull = await bob.next((s) => s.is('message') && s.attrs.id === 'rc-full');
    assert.equal(toFull.attrs.from, 'alice@localhost/desk');
    await bob.xmpp.send(xml('message', { to: 'alice@localhost', type: 'chat', id: 'rc-bare' }, xml('body', {}, 'to your bare JID')));
    const toBare = await alice.next((s) => s.is('message') && s.attrs.id === 'rc-bare');
    assert.equal(toBare.getChildText('body'), 'to your bare JID');
    // And to a third node, whose channel may live on another shard.
    const bobThere = await online(node(2), 'bob', 'tablet');
    await alice.xmpp.send(xml('message', { to: 'bob@localhost/tablet', type: 'chat', id: 'rc-third' }, xml('body', {}, 'to the third node')));
    await bobThere.next((s) => s.is('message') && s.attrs.id === 'rc-third');
  });

  it('shows presence between contacts on different nodes, probes included (RFC 6121 §4)', async function () {
    const carol = await online(node(0), 'carol', 'laptop');
    const dave = await online(node(1), 'dave', 'phone');
    // dave's initial presence reached carol; carol's came to dave in answer to his probe.
    await carol.next(isPresence('dave@localhost/phone'));
    await dave.next(isPresence('carol@localhost/laptop'));
    await carol.xmpp.send(xml('presence', {}, xml('show', {}, 'away')));
    const away = await dave.next(isPresence('carol@localhost/laptop'));
    assert.equal(away.getChildText('show'), 'away');
    await carol.stop();
    await dave.next(isPresence('carol@localhost/laptop', 'unavailable'));
  });

  it('shares a MUC room between users on three nodes; the room\'s claim is a hash-tagged key (XEP-0045)', async function () {
    const room = 'rc-room@conference.localhost';
    const alice = await login(node(0), 'alice', 'muc');
    await createRoom(alice, room, 'Alice');
    const r = redis as Cluster;
    assert.equal(await r.get(placeKey(room)), 'c1');
    assert.deepEqual(await r.smembers(nodePlacesKey('c1')), [room]);
    const erin = await login(node(1), 'erin', 'muc');
    await enter(erin, room, 'Erin');
    const frank = await login(node(2), 'frank', 'muc');
    await enter(frank, room, 'Frank');
    await alice.next(isPresence(`${room}/Frank`));
    await groupchat(frank, room, 'from the third node', 'rc-muc');
    for (const client of [alice, erin, frank]) {
      const seen = await client.next((s) => s.is('message') && s.attrs.id === 'rc-muc');
      assert.equal(seen.attrs.from, `${room}/Frank`);
    }
  });

  it('ends the older session with conflict when its full JID is bound again on another node (RFC 6120 §7.7.2.2)', async function () {
    const { stream: older } = await rawLogin(node(0).ports.c2s, 'erin', PASSWORD, 'phone');
    raws.push(older);
    const { stream: newer } = await rawLogin(node(2).ports.c2s, 'erin', PASSWORD, 'phone');
    raws.push(newer);
    await older.expect(/<stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
    await older.waitClosed();
    const record = await (redis as Cluster).hget(resourcesKey('erin@localhost'), 'phone');
    assert.equal(JSON.parse(record ?? '{}').node, 'c3');
  });

  it('keeps a node\'s channel on one shard: its traffic reaches only the master that owns the channel', async function () {
    const topo = cluster();
    // Each node's channel has its one subscriber on exactly one master.
    const owners = new Map<string, RedisProcess>();
    for (const id of NODE_IDS) {
      const holders: RedisProcess[] = [];
      for (const master of topo.masters) {
        const reply = await topo.command(master, 'PUBSUB', 'SHARDNUMSUB', nodeChannel(id));
        if (Array.isArray(reply) && Number(reply[1]) === 1) holders.push(master);
      }
      assert.equal(holders.length, 1, `${nodeChannel(id)} is subscribed on one master, found ${holders.length}`);
      owners.set(id, holders[0] as RedisProcess);
    }

    const frank = await online(node(1), 'frank', 'phone');
    const alice = await online(node(0), 'alice', 'sender');
    const before = await Promise.all(topo.masters.map(async (m) => ({ spublish: await spublishCalls(topo, m), bus: await busPublishes(topo, m) })));
    const COUNT = 50;
    for (let i = 0; i < COUNT; i++) await alice.xmpp.send(xml('message', { to: 'frank@localhost/phone', type: 'chat', id: `shard-${i}` }, xml('body', {}, `message ${i}`)));
    for (let i = 0; i < COUNT; i++) await frank.next((s) => s.is('message') && s.attrs.id === `shard-${i}`);
    const after = await Promise.all(topo.masters.map(async (m) => ({ spublish: await spublishCalls(topo, m), bus: await busPublishes(topo, m) })));

    const owner = owners.get('c2');
    const lines: string[] = [];
    for (const [i, master] of topo.masters.entries()) {
      const spublished = (after[i]?.spublish ?? 0) - (before[i]?.spublish ?? 0);
      const overBus = (after[i]?.bus ?? 0) - (before[i]?.bus ?? 0);
      lines.push(`${master.address}${master === owner ? ' (owns rt:ch:{c2})' : ''}: SPUBLISH +${spublished}, pub/sub over the cluster bus +${overBus}`);
      if (master === owner) assert.ok(spublished >= COUNT, `the owner ran every SPUBLISH: ${lines.join('; ')}`);
      else assert.ok(spublished < COUNT, `another master did not: ${lines.join('; ')}`);
      assert.equal(overBus, 0, `no pub/sub message crossed the cluster bus: ${lines.join('; ')}`);
    }
    console.log(`      ${COUNT} messages to a user on c2: ${lines.join('; ')}`);

    // The counter is real: one classic PUBLISH is relayed over the cluster bus to every other master.
    const first = topo.masters[0] as RedisProcess;
    const relayedBefore = await busPublishes(topo, first);
    await topo.command(first, 'PUBLISH', 'rt:broadcast-probe', 'x');
    assert.equal((await busPublishes(topo, first)) - relayedBefore, topo.masters.length - 1);
  });
});
