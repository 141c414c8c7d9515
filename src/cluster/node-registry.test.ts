// The node registry on a private redis-server: load order for redirects and discovery, draining
// nodes skipped, a member without heartbeat swept (its sessions wiped and reported once), and a
// node whose own heartbeat lapsed told to register again.
import assert from 'node:assert/strict';
import { Jid } from '../jid.js';
import { createLogger } from '../observability/log.js';
import type { SessionRecord } from '../sessions/types.js';
import { startRedis, type RedisInstance } from '../../test/support/redis.js';
import { ALIVE_TTL_MS, HEARTBEAT_MS, RedisNodeRegistry, SWEEP_JITTER_MS, SWEEP_MS, type NodeEndpoints } from './node-registry.js';
import { RedisDirectory } from './redis-directory.js';

const endpoints = (port: number): NodeEndpoints => ({ host: '127.0.0.1', c2sPort: port, c2sTlsPort: -1, httpPort: port + 1, websocketUrl: `ws://127.0.0.1:${port + 1}/xmpp-websocket` });

describe('RedisNodeRegistry', function () {
  this.timeout(20_000);
  let redis: RedisInstance | undefined;
  const registries: RedisNodeRegistry[] = [];

  before(async function () {
    redis = await startRedis(this);
  });

  afterEach(async () => {
    for (const r of registries.splice(0)) await r.leave();
    await redis?.client().flushall();
  });

  after(async () => {
    await redis?.stop();
  });

  const make = (nodeId: string, connections: number, hooks: { lost?: (s: SessionRecord[], node: string) => void; lapse?: () => void } = {}): RedisNodeRegistry => {
    const client = (redis as RedisInstance).client();
    const registry = new RedisNodeRegistry({
      nodeId,
      redis: client,
      directory: new RedisDirectory(client, createLogger('silent')),
      log: createLogger('silent'),
      connections: () => connections,
      onSessionsLost: async (sessions, node) => hooks.lost?.(sessions, node),
      onLapse: async () => hooks.lapse?.(),
    });
    registries.push(registry);
    return registry;
  };

  it('lists nodes least loaded first and names the least-loaded live one that is not draining', async () => {
    const a = make('a', 30);
    const b = make('b', 10);
    const c = make('c', 20);
    await a.join(endpoints(5000));
    await b.join(endpoints(5100));
    await c.join(endpoints(5200));
    assert.deepEqual((await a.listNodes()).map((n) => [n.id, n.connections, n.alive]), [['b', 10, true], ['c', 20, true], ['a', 30, true]]);
    assert.equal((await a.leastLoadedNode())?.id, 'b');
    assert.equal((await a.leastLoadedNode({ exclude: ['b'] }))?.id, 'c');
    await c.drain();
    const best = await b.leastLoadedNode({ exclude: ['b'] });
    assert.deepEqual([best?.id, best?.c2sPort, best?.websocketUrl], ['a', 5000, 'ws://127.0.0.1:5001/xmpp-websocket']);
  });

  it('sweeps a member whose heartbeat expired: wipes its sessions and reports them once, within the bound', async () => {
    const client = (redis as RedisInstance).client();
    const directory = new RedisDirectory(client, createLogger('silent'));
    await directory.register({ jid: Jid.parse('juliet@example.org/balcony'), node: 'ghost', sid: 's1', available: true, priority: 0 });
    await client.zadd('rt:nodes', 0, 'ghost');
    await client.hset('rt:node:{ghost}:info', 'host', '127.0.0.1');
    const reports: [string, string[]][] = [];
    const started = Date.now();
    const done = new Promise<void>((resolve) => {
      const record = (sessions: SessionRecord[], node: string): void => {
        reports.push([node, sessions.map((s) => s.jid.toString())]);
        resolve();
      };
      void make('a', 0, { lost: record }).join(endpoints(5000));
      void make('b', 0, { lost: record }).join(endpoints(5100));
    });
    await done;
    assert.ok(Date.now() - started <= SWEEP_MS + SWEEP_JITTER_MS + 500, `took ${Date.now() - started} ms`);
    await new Promise((resolve) => setTimeout(resolve, SWEEP_MS + SWEEP_JITTER_MS + 200));
    assert.deepEqual(reports, [['ghost', ['juliet@example.org/balcony']]]);
    assert.deepEqual(await client.zrange('rt:nodes', 0, '-1'), ['a', 'b'].sort());
    assert.equal(await client.exists('rt:node:{ghost}:info', 'rt:node:{ghost}:sessions', 'rt:{juliet@example.org}:res'), 0);
  });

  it('notices when its own heartbeat had expired (a long pause, a Redis outage) and asks to register again', async () => {
    let lapses = 0;
    const a = make('a', 0, { lapse: () => lapses++ });
    await a.join(endpoints(5000));
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS + 100));
    assert.equal(lapses, 0);
    await (redis as RedisInstance).client().del('rt:node:{a}:alive');
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS + 100));
    assert.equal(lapses, 1);
    assert.ok((await (redis as RedisInstance).client().pttl('rt:node:{a}:alive')) <= ALIVE_TTL_MS);
  });

  it('leaves the registry without a trace', async () => {
    const a = make('a', 3);
    await a.join(endpoints(5000));
    registries.splice(0);
    await a.leave();
    const client = (redis as RedisInstance).client();
    assert.deepEqual(await client.zrange('rt:nodes', 0, '-1'), []);
    assert.equal(await client.exists('rt:node:{a}:alive', 'rt:node:{a}:info'), 0);
  });
});
