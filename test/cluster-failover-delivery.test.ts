// Redis faults as a user sees them (issue 20): two node processes on one PostgreSQL schema, a sender on node
// A over WebSocket streaming a chat message every 50 ms to a recipient on node B over TCP, who stays online
// throughout; at about the middle of the stream Redis fails:
//  - Sentinel: the primary (one replica, three Sentinels, down-after 1 s, failover-timeout 3 s) is killed -9;
//  - a single Redis is killed -9 and started again 2 s later, empty (no persistence);
//  - Redis Cluster (three masters with a replica each): the master serving node B's channel is killed -9.
// Each run streams to the bare JID and to the full JID at once, and across the Sentinel fail-over also to a
// MUC room with occupants on both nodes and as presence broadcasts to a contact on the other node: all flows
// cross the same fault. Pass: every stanza reaches every live session exactly once and in order; nothing goes
// to the offline store (read straight from PostgreSQL), nothing is bounced. RATATOSK_TEST_FAILOVER_RUNS=5
// repeats each run (a development loop; CI runs each once).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import { nodeChannel } from '../src/cluster/keys.js';
import type { Stores } from '../src/storage/types.js';
import { createTestSchema, requirePostgres, TEST_DATABASE_URL } from '../src/storage/postgres/test-fixture.js';
import { createRoom, enter, isPresence } from '../xeps/0045-muc/test-kit.js';
import { schemaUrl } from './support/backends.js';
import { connect, type ClientTransport, type TestClient } from './support/clients.js';
import { startNode, type NodeProcess } from './support/cluster.js';
import { createUsers, describeCount, openSharedStores, streamThroughFault, takeOffline, type DeliveryCount } from './support/cluster-failover.js';
import { defaultSentinelConfigs, startRedisCluster, startSentinelTopology, startSingleRedis, type RedisClusterTopology, type RedisProcess, type SentinelTopology } from './support/redis-topologies.js';

const PASSWORD = 'fail-over-secret';
const RUNS = Math.max(1, Number(process.env.RATATOSK_TEST_FAILOVER_RUNS ?? 1));
/** 100 messages at 50 ms: 5 s, the fault at 2.5 s. */
const COUNT = Math.max(20, Number(process.env.RATATOSK_TEST_FAILOVER_MESSAGES ?? 100));
const SETTLE_MS = 15_000;

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
const results: string[] = [];

/** Two nodes on one PostgreSQL schema and whatever Redis `env` names; users made per scenario. */
function nodesOnPostgres(): { nodes: NodeProcess[]; stores: () => Stores; start(env: Record<string, string>, redisUrl?: string): Promise<void>; stop(): Promise<void> } {
  const nodes: NodeProcess[] = [];
  let stores: Stores | undefined;
  let drop: (() => Promise<void>) | undefined;
  let dataDir = '';
  return {
    nodes,
    stores: () => stores as Stores,
    async start(env, redisUrl = '') {
      const schema = await createTestSchema();
      drop = schema.drop;
      const url = schemaUrl(schema.schema, TEST_DATABASE_URL);
      stores = await openSharedStores(url); // migrates the schema before the nodes open it
      // The data folder holds only the shared TLS certificate; the first node creates it.
      dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-failover-'));
      // The MUC scenario's speaker sends 20 messages a second, above a room's default limit (muc.message_rate 10).
      const overrides = JSON.stringify({ muc: { messageRate: 100, messageBurst: 200 } });
      for (const id of ['fa', 'fb']) nodes.push(await startNode({ id, redisUrl, dataDir, env: { ...env, RATATOSK_DATABASE_URL: url, RT_TEST_CONFIG_OVERRIDES: overrides } }));
    },
    async stop() {
      await Promise.all(nodes.splice(0).map((n) => (n.child.exitCode === null && n.child.signalCode === null ? n.terminate() : undefined)));
      await stores?.close();
      await drop?.();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

function suite(title: string, setup: {
  before(ctx: Mocha.Context): Promise<{ env: Record<string, string>; redisUrl?: string }>;
  /** Makes the topology ready for the next fault (revives what the last one killed). */
  prepare(): Promise<void>;
  /** The fault, started at the stream's middle. */
  fault(nodes: readonly NodeProcess[]): Promise<unknown>;
  after(): Promise<void>;
  muc?: boolean;
  presence?: boolean;
  /** A last test: Redis stays away past the bound (redis.failover_wait_seconds); `restore` brings it back. */
  outlast?: { waitSeconds: number; kill(): void; restore(): Promise<void> };
}): void {
  describe(`delivery to a live session across ${title}`, function () {
    this.timeout(120_000);
    const cluster = nodesOnPostgres();
    const clients: TestClient[] = [];
    let serial = 0;

    before(async function () {
      this.timeout(180_000);
      await requirePostgres(this);
      const { env, redisUrl } = await setup.before(this);
      await cluster.start(env, redisUrl);
    });

    afterEach(async function () {
      await Promise.all(clients.splice(0).map((c) => c.stop()));
      if (this.currentTest?.state === 'failed') for (const n of cluster.nodes) console.log(`--- log of ${n.id} ---\n${n.log().slice(-6000)}`);
    });

    after(async function () {
      this.timeout(60_000);
      await cluster.stop();
      await setup.after();
    });

    const users = async (...prefixes: string[]): Promise<string[]> => {
      const names = prefixes.map((p) => `${p}${++serial}`);
      await createUsers(cluster.stores(), PASSWORD, names);
      return names;
    };
    const online = async (node: NodeProcess, username: string, transport: ClientTransport, resource: string): Promise<TestClient> => {
      const client = await connect(node, { transport, username, password: PASSWORD, resource });
      clients.push(client);
      await client.xmpp.send(xml('presence'));
      await client.next(isPresence(`${username}@localhost/${resource}`), 10_000);
      return client;
    };
    const check = (what: string, c: DeliveryCount, firstBounce?: string): void => {
      const line = `${title}, ${what}: ${describeCount(c)}`;
      results.push(line);
      console.log(`      ${line}`);
      assert.deepEqual(c.missing, [], `messages lost: ${c.missing.join(', ')}`);
      assert.equal(c.offline, 0, 'no message went to the offline store: the recipient never went offline');
      assert.equal(c.bounced, 0, `no message bounced; the first bounce: ${firstBounce ?? 'none'}`);
      assert.equal(c.duplicates, 0, 'no message arrived twice');
      assert.equal(c.outOfOrder, 0, 'every message arrived in order');
      assert.equal(c.live, c.sent);
    };

    /** A flow sets itself up, then streams through the fault it is given and returns its checks. */
    type Flow = (fault: () => Promise<unknown>) => Promise<() => Promise<() => void>>;

    const chat = (toBare: boolean, what: string): Flow => async (fault) => {
      const [a, b] = cluster.nodes;
      assert.ok(a && b);
      const [from, to] = await users('sender', 'recipient');
      const sender = await online(a, from as string, 'websocket', 'web');
      const recipient = await online(b, to as string, 'tcp', 'desk');
      const address = toBare ? `${to}@localhost` : recipient.jid;
      const tag = `t${serial}`;
      // The route works before the fault.
      await sender.xmpp.send(xml('message', { to: address, type: 'chat', id: `${tag}-warm` }, xml('body', {}, 'warm-up')));
      await recipient.next((s) => s.attrs.id === `${tag}-warm`, 10_000);
      return async () => {
        const { streams, bounced, firstBounce } = await streamThroughFault({
          sender,
          receivers: [recipient],
          count: COUNT,
          tag,
          settleMs: SETTLE_MS,
          message: (seq, id) => xml('message', { to: address, type: 'chat', id }, xml('body', {}, `message ${seq}`)),
          fault,
        });
        const offline = await takeOffline(cluster.stores(), to as string, tag);
        return () => check(what, (streams[0] as NonNullable<(typeof streams)[0]>).count(COUNT, bounced, offline), firstBounce);
      };
    };

    const presence = (what: string): Flow => async (fault) => {
      const [a, b] = cluster.nodes;
      assert.ok(a && b);
      const [mover, watcher] = await users('mover', 'watcher');
      for (const [one, other] of [[mover, watcher], [watcher, mover]] as const) {
        await cluster.stores().roster.setItem(one as string, { jid: `${other}@localhost`, subscription: 'both', ask: false, approved: false, groups: [] });
      }
      const watcherClient = await online(b, watcher as string, 'tcp', 'r');
      const moverClient = await online(a, mover as string, 'websocket', 'r');
      await watcherClient.next(isPresence(moverClient.jid), 10_000);
      const tag = `p${serial}`;
      return async () => {
        const { streams, bounced, firstBounce } = await streamThroughFault({
          sender: moverClient,
          receivers: [watcherClient],
          kind: 'presence',
          count: COUNT,
          tag,
          settleMs: SETTLE_MS,
          message: (seq, id) => xml('presence', { id }, xml('status', {}, `status ${seq}`)),
          fault,
        });
        return () => check(what, (streams[0] as NonNullable<(typeof streams)[0]>).count(COUNT, bounced, 0), firstBounce);
      };
    };

    const muc = (what: string): Flow => async (fault) => {
      const [a, b] = cluster.nodes;
      assert.ok(a && b);
      const [owner, near, far, speaker] = await users('owner', 'near', 'far', 'speaker');
      const room = `fail${serial}@conference.localhost`;
      const ownerClient = await online(a, owner as string, 'tcp', 'r');
      await createRoom(ownerClient, room, 'Owner');
      const nearClient = await online(a, near as string, 'websocket', 'r');
      await enter(nearClient, room, 'Near');
      const farClient = await online(b, far as string, 'tcp', 'r');
      await enter(farClient, room, 'Far');
      const speakerClient = await online(b, speaker as string, 'websocket', 'r');
      await enter(speakerClient, room, 'Speaker');
      await ownerClient.next(isPresence(`${room}/Speaker`), 10_000);
      const tag = `m${serial}`;
      return async () => {
        const { streams, bounced, firstBounce } = await streamThroughFault({
          sender: speakerClient,
          receivers: [ownerClient, nearClient, farClient, speakerClient],
          count: COUNT,
          tag,
          settleMs: SETTLE_MS,
          message: (seq, id) => xml('message', { to: room, type: 'groupchat', id }, xml('body', {}, `message ${seq}`)),
          fault,
        });
        return () => {
          for (const [i, stream] of streams.entries()) check(`${what}, occupant ${['owner (A)', 'near (A)', 'far (B)', 'speaker (B)'][i] ?? i}`, stream.count(COUNT, bounced, 0), firstBounce);
        };
      };
    };

    for (let run = 1; run <= RUNS; run++) {
      const suffix = RUNS > 1 ? `, run ${run}` : '';
      const names = ['a chat stream to the bare JID', 'one to the full JID', ...(setup.presence ? ['presence broadcasts to a contact on the other node'] : []), ...(setup.muc ? ['a MUC room with occupants on both nodes'] : [])];
      // Every flow crosses the same fault at once: one fail-over per run keeps the suite short, and the flows load each other.
      it(`${names.join(', ')}${suffix}: 20 stanzas/s each, every one delivered live, exactly once, in order; nothing offline or bounced`, async function () {
        this.timeout(180_000);
        await setup.prepare();
        const flows: Flow[] = [chat(true, `to the bare JID${suffix}`), chat(false, `to the full JID${suffix}`)];
        if (setup.presence) flows.push(presence(`presence broadcast to a contact on the other node${suffix}`));
        if (setup.muc) flows.push(muc(`MUC room with occupants on both nodes${suffix}`));
        let fault: Promise<unknown> | undefined;
        const once = (): Promise<unknown> => (fault ??= setup.fault(cluster.nodes));
        // Set up one after another (their logins and rooms are not what is measured), then stream together.
        const streams: (() => Promise<() => void>)[] = [];
        for (const flow of flows) streams.push(await flow(once));
        const checks = await Promise.all(streams.map((stream) => stream()));
        for (const checkFlow of checks) checkFlow();
      });
      if (setup.outlast && run === RUNS) {
        const outlast = setup.outlast;
        it(`bounces a message with a 'wait' error once Redis stays away past redis.failover_wait_seconds (${outlast.waitSeconds} s), storing nothing offline (RFC 6121 §8)`, async function () {
          this.timeout(60_000);
          await setup.prepare();
          const [a, b] = cluster.nodes;
          assert.ok(a && b);
          const [from, to] = await users('sender', 'recipient');
          const sender = await online(a, from as string, 'websocket', 'web');
          await online(b, to as string, 'tcp', 'desk');
          const tag = `o${serial}`;
          outlast.kill();
          const began = Date.now();
          try {
            await sender.xmpp.send(xml('message', { to: `${to}@localhost`, type: 'chat', id: `${tag}-1` }, xml('body', {}, 'into the outage')));
            const error = await sender.next((s) => s.attrs.id === `${tag}-1`, (outlast.waitSeconds + 20) * 1000);
            const waited = Date.now() - began;
            console.log(`      bounced after ${waited} ms: ${error.getChild('error')?.toString() ?? ''}`);
            assert.equal(error.attrs.type, 'error');
            assert.equal(error.getChild('error')?.attrs.type, 'wait');
            assert.ok(error.getChild('error')?.getChild('internal-server-error', 'urn:ietf:params:xml:ns:xmpp-stanzas'), 'internal-server-error');
            assert.ok(waited >= outlast.waitSeconds * 1000 - 200, `the stanza waited for the bound (${waited} ms)`);
          } finally {
            await outlast.restore();
          }
          assert.equal(await takeOffline(cluster.stores(), to as string, tag), 0, 'nothing stored offline');
        });
      }
    }
  });
}

after(() => {
  if (results.length > 0) console.log(`\n  Fail-over delivery counts:\n${results.map((r) => `    ${r}`).join('\n')}\n`);
});

let sentinel: SentinelTopology | undefined;
suite('a Sentinel fail-over (kill -9 of the primary)', {
  async before(ctx) {
    sentinel = await startSentinelTopology(ctx, (layout) => {
      const configs = defaultSentinelConfigs(layout);
      return { ...configs, sentinels: configs.sentinels.map((c) => c.replace(/failover-timeout (\S+) \d+/, 'failover-timeout $1 3000')) };
    });
    return { env: { RATATOSK_REDIS_SENTINELS: sentinel.sentinelAddresses.join(','), RATATOSK_REDIS_SENTINEL_NAME: sentinel.masterName } };
  },
  async prepare() {
    const topo = sentinel as SentinelTopology;
    const primaryNow = await topo.currentPrimary();
    for (const server of [topo.primary, topo.replica]) if (server.address !== primaryNow && (!server.alive || server.paused)) await topo.reviveAsReplica(server);
  },
  fault: () => (sentinel as SentinelTopology).killPrimary(30_000),
  after: async () => sentinel?.stop(),
  muc: true,
  presence: true,
});

let single: { server: RedisProcess; url: string; stop(): Promise<void> } | undefined;
suite('a single Redis killed -9 and started again (empty) 2 s later', {
  async before(ctx) {
    single = await startSingleRedis(ctx);
    return { env: { RATATOSK_REDIS_FAILOVER_WAIT_SECONDS: '5' }, redisUrl: single.url };
  },
  async prepare() {
    // Let the nodes settle after the last restart (heartbeats re-registered everything).
    await sleep(1500);
  },
  async fault() {
    const server = (single as NonNullable<typeof single>).server;
    server.kill();
    await sleep(2000);
    await server.restart();
  },
  after: async () => single?.stop(),
  outlast: {
    waitSeconds: 5,
    kill: () => (single as NonNullable<typeof single>).server.kill(),
    restore: async () => (single as NonNullable<typeof single>).server.restart(),
  },
});

let redisCluster: RedisClusterTopology | undefined;
let killedMaster: RedisProcess | undefined;
suite('a Redis Cluster fail-over (kill -9 of the master serving the recipient node\'s channel)', {
  async before(ctx) {
    redisCluster = await startRedisCluster(ctx, 3, 1);
    return { env: { RATATOSK_REDIS_CLUSTER: redisCluster.addresses.join(',') } };
  },
  async prepare() {
    if (killedMaster) await (redisCluster as RedisClusterTopology).reviveAsReplica(killedMaster);
    killedMaster = undefined;
  },
  async fault(nodes) {
    const b = nodes[1];
    assert.ok(b);
    const { killed } = await (redisCluster as RedisClusterTopology).killMasterOf(nodeChannel(b.id), 30_000);
    killedMaster = killed;
  },
  after: async () => redisCluster?.stop(),
});
