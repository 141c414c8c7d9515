// Real Redis topologies for fail-over and sharding tests, started from the `redis-server` binary on
// free loopback ports, each process with its own config file and working folder in a temporary
// directory:
//  - startSentinelTopology: a primary, one replica and three Sentinels (`redis-server <conf> --sentinel`,
//    since Debian's redis-server package ships no separate redis-sentinel binary here), quorum 2,
//    down-after-milliseconds 1000, failover-timeout 5000; helpers kill -9 or SIGSTOP the primary and
//    wait for the Sentinels' +switch-master.
//  - startRedisCluster: three masters with cluster-enabled yes, joined by `redis-cli --cluster create`
//    (redis-cli 7.0 has the cluster manager), ready once every node reports cluster_state:ok.
// Without the binaries a suite is skipped loudly, or fails under CI=true.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

const HOST = '127.0.0.1';
export const SENTINEL_MASTER_NAME = 'ratatosk';

export interface RedisProcess {
  readonly role: string;
  readonly port: number;
  readonly address: string;
  readonly dir: string;
  readonly alive: boolean;
  readonly paused: boolean;
  /** kill -9: no goodbye to clients, the closest a test gets to a crashed host. */
  kill(): void;
  /** SIGSTOP: the process keeps its sockets open but answers nothing, as a hung host or a partition does. */
  pause(): void;
  resume(): void;
  /** Starts the process again from its configuration file (after kill(), or killing it first). */
  restart(): Promise<void>;
  /** The last lines of the process's log, for failure messages. */
  logTail(lines?: number): Promise<string>;
}

export interface SwitchMaster {
  from: string;
  to: string;
  /** Milliseconds from the start of the wait to the first Sentinel's +switch-master. */
  afterMs: number;
}

export interface SentinelTopology {
  readonly masterName: string;
  readonly primary: RedisProcess;
  readonly replica: RedisProcess;
  readonly sentinels: readonly RedisProcess[];
  /** "127.0.0.1:port" of each Sentinel, the form redis.sentinels takes. */
  readonly sentinelAddresses: string[];
  /** The primary's address as the Sentinels currently report it. */
  currentPrimary(): Promise<string>;
  /**
   * Subscribes to +switch-master on every Sentinel and resolves with the first one seen. Await the
   * returned `ready` before causing the fail-over, so the event cannot be missed.
   */
  watchSwitchMaster(timeoutMs?: number): { ready: Promise<void>; switched: Promise<SwitchMaster> };
  /** kill -9 the current primary and wait for +switch-master. */
  killPrimary(timeoutMs?: number): Promise<SwitchMaster & { killed: RedisProcess }>;
  /** SIGSTOP the current primary and wait for +switch-master (resume it with `.resume()`). */
  pausePrimary(timeoutMs?: number): Promise<SwitchMaster & { paused: RedisProcess }>;
  /**
   * Brings a failed former primary back (resumes a paused one, restarts a killed one) and waits until
   * the Sentinels have turned it into a synced replica of the current primary, ready for the next fail-over.
   */
  reviveAsReplica(server: RedisProcess, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisClusterTopology {
  readonly masters: readonly RedisProcess[];
  /** Replicas (startRedisCluster's `replicas` per master); after a fail-over the roles may have swapped. */
  readonly replicas: readonly RedisProcess[];
  /** The process that serves `key`'s slot as master now (CLUSTER NODES on a live node). */
  masterOf(key: string): Promise<RedisProcess>;
  /** kill -9 the master of `key`'s slot and wait until a replica took its slots over (cluster_state:ok). */
  killMasterOf(key: string, timeoutMs?: number): Promise<{ killed: RedisProcess; promoted: RedisProcess; afterMs: number }>;
  /** Starts a killed node again and waits until it is a synced replica (it rejoins with its nodes.conf). */
  reviveAsReplica(node: RedisProcess, timeoutMs?: number): Promise<void>;
  /** "127.0.0.1:port" of each master, the form redis.cluster takes. */
  readonly addresses: string[];
  /** Runs one command on one node (not cluster-routed), e.g. PUBSUB SHARDNUMSUB. */
  command(node: RedisProcess, ...args: string[]): Promise<unknown>;
  stop(): Promise<void>;
}

/** The binaries this file needs, or the reason they cannot be used. */
function missingBinaries(): string | undefined {
  for (const binary of ['redis-server', 'redis-cli']) {
    const probe = spawnSync(binary, ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) return `${binary} is not installed`;
  }
  return undefined;
}

/** Skips the suite (fails under CI=true) when redis-server or redis-cli is missing. */
export function requireRedisBinaries(ctx: Mocha.Context): void {
  const missing = missingBinaries();
  if (!missing) return;
  if (process.env.CI === 'true') throw new Error(`${missing}; it is required under CI=true (apt-get install redis-server)`);
  console.warn(`\n  !!! ${missing}: SKIPPING the Redis Sentinel / Redis Cluster tests !!!\n`);
  ctx.skip();
}

// Every child of every topology, so that a test process that dies early takes them with it.
const liveChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // best effort at exit
    }
  }
});

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, HOST, () => probe.close(() => resolve(true)));
  });
}

/** A free loopback port; with `busOffset`, port + offset must be free too (Redis Cluster's bus port). */
async function freePort(busOffset?: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const probe = net.createServer();
      probe.once('error', reject);
      probe.listen(0, HOST, () => {
        const address = probe.address();
        const chosen = typeof address === 'object' && address ? address.port : 0;
        probe.close(() => resolve(chosen));
      });
    });
    if (busOffset === undefined) return port;
    if (port + busOffset <= 65535 && (await portIsFree(port + busOffset))) return port;
  }
  throw new Error('no free loopback port pair for a Redis Cluster node');
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(100);
  }
  const cause = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
}

/** One short-lived connection for one command; never retries, so a dead node fails fast. */
async function oneCommand(port: number, args: string[]): Promise<unknown> {
  const client = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000, enableOfflineQueue: false });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const [name, ...rest] = args;
    if (name === undefined) throw new Error('no command');
    return await client.call(name, ...rest);
  } finally {
    client.disconnect();
  }
}

async function spawnRedis(role: string, dir: string, port: number, conf: string, sentinel: boolean): Promise<RedisProcess> {
  await mkdir(dir, { recursive: true });
  const confPath = join(dir, sentinel ? 'sentinel.conf' : 'redis.conf');
  const logPath = join(dir, 'redis.log');
  await writeFile(confPath, conf);
  const log = createWriteStream(logPath, { flags: 'a' });
  let child: ChildProcess | undefined;
  let alive = false;
  let paused = false;
  const launch = (): void => {
    const current = spawn('redis-server', sentinel ? [confPath, '--sentinel'] : [confPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    current.stdout?.pipe(log, { end: false });
    current.stderr?.pipe(log, { end: false });
    liveChildren.add(current);
    alive = true;
    paused = false;
    current.once('exit', () => {
      alive = false;
      liveChildren.delete(current);
    });
    child = current;
  };
  const answers = async (): Promise<void> => {
    try {
      await waitFor(`${role} on port ${port} to answer PING`, 10_000, async () => {
        if (!alive) throw new Error(`${role} exited:\n${await processHandle.logTail()}`);
        return (await oneCommand(port, ['PING'])) === 'PONG' ? true : undefined;
      });
    } catch (err) {
      processHandle.kill();
      throw err;
    }
  };
  const processHandle: RedisProcess = {
    role,
    port,
    address: `${HOST}:${port}`,
    dir,
    get alive() {
      return alive;
    },
    get paused() {
      return paused;
    },
    kill() {
      if (alive) child?.kill('SIGKILL');
    },
    pause() {
      if (alive && !paused) {
        child?.kill('SIGSTOP');
        paused = true;
      }
    },
    resume() {
      if (alive && paused) {
        child?.kill('SIGCONT');
        paused = false;
      }
    },
    async restart() {
      if (alive) {
        processHandle.kill();
        await waitFor(`${role} to exit`, 5000, async () => (alive ? undefined : true));
      }
      launch();
      await answers();
    },
    async logTail(lines = 30) {
      const text = await readFile(logPath, 'utf8').catch(() => '');
      return text.split('\n').slice(-lines).join('\n');
    },
  };
  launch();
  await answers();
  return processHandle;
}

async function killAll(processes: readonly RedisProcess[]): Promise<void> {
  for (const p of processes) p.kill();
  // Let the exit events arrive so that liveChildren is clean before the folder goes.
  await waitFor('Redis processes to exit', 5000, async () => (processes.every((p) => !p.alive) ? true : undefined)).catch(() => undefined);
}

function serverConf(port: number, extra: string[] = []): string {
  return [`port ${port}`, `bind ${HOST}`, 'protected-mode no', 'save ""', 'appendonly no', 'daemonize no', ...extra, ''].join('\n');
}

/** A flat [key, value, key, value...] reply as a map. */
function pairs(reply: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(reply[i]), String(reply[i + 1]));
  return out;
}

/** The ports and folders of a Sentinel topology, for building its configuration files. */
export interface SentinelLayout {
  primary: { port: number; dir: string };
  replica: { port: number; dir: string };
  sentinels: { port: number; dir: string }[];
}

/** The configuration file text of each process. */
export interface SentinelConfigs {
  masterName: string;
  primary: string;
  replica: string;
  sentinels: string[];
}

/** The test defaults: quorum 2, down after 1 s, fail-over timeout 5 s, everything on 127.0.0.1. */
export function defaultSentinelConfigs(layout: SentinelLayout): SentinelConfigs {
  const primaryPort = layout.primary.port;
  return {
    masterName: SENTINEL_MASTER_NAME,
    primary: serverConf(primaryPort, [`replica-announce-ip ${HOST}`]),
    replica: serverConf(layout.replica.port, [`replicaof ${HOST} ${primaryPort}`, `replica-announce-ip ${HOST}`]),
    sentinels: layout.sentinels.map(({ port, dir }) =>
      [
        `port ${port}`,
        `bind ${HOST}`,
        'protected-mode no',
        'daemonize no',
        `dir ${dir}`,
        'sentinel resolve-hostnames yes',
        `sentinel announce-ip ${HOST}`,
        `sentinel announce-port ${port}`,
        `sentinel monitor ${SENTINEL_MASTER_NAME} ${HOST} ${primaryPort} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 5000`,
        `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
        '',
      ].join('\n'),
    ),
  };
}

/**
 * Call in a mocha before(): a primary, a replica and three Sentinels that agree on both, ready for a
 * fail-over. `configure` may supply other configuration files for the same layout (the deployment
 * test runs docker/redis/*.conf this way).
 */
export async function startSentinelTopology(ctx: Mocha.Context, configure: (layout: SentinelLayout) => SentinelConfigs | Promise<SentinelConfigs> = defaultSentinelConfigs): Promise<SentinelTopology> {
  requireRedisBinaries(ctx);
  const root = await mkdtemp(join(tmpdir(), 'ratatosk-sentinel-'));
  const started: RedisProcess[] = [];
  try {
    const layout: SentinelLayout = {
      primary: { port: await freePort(), dir: join(root, 'primary') },
      replica: { port: await freePort(), dir: join(root, 'replica') },
      sentinels: [],
    };
    for (let i = 0; i < 3; i++) layout.sentinels.push({ port: await freePort(), dir: join(root, `sentinel-${i}`) });
    const configs = await configure(layout);
    const masterName = configs.masterName;
    const primary = await spawnRedis('primary', layout.primary.dir, layout.primary.port, configs.primary, false);
    started.push(primary);
    const replica = await spawnRedis('replica', layout.replica.dir, layout.replica.port, configs.replica, false);
    started.push(replica);
    await waitFor('the replica to finish its first sync', 15_000, async () => {
      const info = String(await oneCommand(replica.port, ['INFO', 'replication']));
      return info.includes('master_link_status:up') ? true : undefined;
    });

    const sentinels: RedisProcess[] = [];
    for (const [i, { port, dir }] of layout.sentinels.entries()) {
      const conf = configs.sentinels[i];
      if (conf === undefined) throw new Error(`no configuration for sentinel ${i}`);
      const sentinel = await spawnRedis(`sentinel-${i}`, dir, port, conf, true);
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    // Ready when every Sentinel has found the replica (through the primary's INFO) and the two other
    // Sentinels (through hello messages, every 2 s); before that a fail-over could not reach quorum.
    // What each Sentinel last reported, for the message should they never get there.
    let seen = '';
    await waitFor('the Sentinels to discover the replica and each other', 45_000, async () => {
      const states = await Promise.all(
        sentinels.map(async (sentinel) => pairs(await oneCommand(sentinel.port, ['SENTINEL', 'MASTER', masterName]))),
      );
      seen = states.map((m, i) => `sentinel-${i}: ${m.get('num-slaves') ?? '?'} replica(s), ${m.get('num-other-sentinels') ?? '?'} other sentinel(s), flags ${m.get('flags') ?? '?'}`).join('; ');
      return states.every((m) => m.get('num-slaves') === '1' && m.get('num-other-sentinels') === '2') ? true : undefined;
    }).catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)} (last seen: ${seen})`);
    });

    const currentPrimary = async (): Promise<string> => {
      for (const sentinel of sentinels) {
        if (!sentinel.alive || sentinel.paused) continue;
        const reply = await oneCommand(sentinel.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName]).catch(() => undefined);
        if (Array.isArray(reply) && reply.length === 2) return `${String(reply[0])}:${String(reply[1])}`;
      }
      throw new Error('no Sentinel answered GET-MASTER-ADDR-BY-NAME');
    };
    const byAddress = (address: string): RedisProcess => {
      const found = [primary, replica].find((p) => p.address === address);
      if (!found) throw new Error(`the Sentinels report an unknown primary ${address}`);
      return found;
    };

    const watchSwitchMaster = (timeoutMs = 30_000): { ready: Promise<void>; switched: Promise<SwitchMaster> } => {
      const subscribers = sentinels.filter((s) => s.alive && !s.paused).map((s) => new Redis({ host: HOST, port: s.port, maxRetriesPerRequest: 0, retryStrategy: () => null }));
      for (const subscriber of subscribers) subscriber.on('error', () => undefined);
      const close = (): void => {
        for (const subscriber of subscribers) subscriber.disconnect();
      };
      const startedAt = Date.now();
      const switched = new Promise<SwitchMaster>((resolve, reject) => {
        const timer = setTimeout(() => {
          close();
          reject(new Error(`no +switch-master within ${timeoutMs} ms`));
        }, timeoutMs);
        for (const subscriber of subscribers) {
          subscriber.on('message', (_channel: string, message: string) => {
            // "<name> <old-ip> <old-port> <new-ip> <new-port>"
            const [name, oldIp, oldPort, newIp, newPort] = message.split(' ');
            if (name !== masterName) return;
            clearTimeout(timer);
            close();
            resolve({ from: `${oldIp}:${oldPort}`, to: `${newIp}:${newPort}`, afterMs: Date.now() - startedAt });
          });
        }
      });
      // Keep an unobserved rejection (a caller that only awaited `ready` and then failed) from crashing mocha.
      switched.catch(() => undefined);
      const ready = Promise.all(subscribers.map((s) => s.subscribe('+switch-master'))).then(() => undefined);
      return { ready, switched };
    };

    const failOver = async (how: 'kill' | 'pause', timeoutMs: number): Promise<SwitchMaster & { target: RedisProcess }> => {
      const target = byAddress(await currentPrimary());
      const watch = watchSwitchMaster(timeoutMs);
      await watch.ready;
      if (how === 'kill') target.kill();
      else target.pause();
      let event: SwitchMaster;
      try {
        event = await watch.switched;
      } catch (err) {
        const logs = await Promise.all(sentinels.map(async (s) => `--- ${s.role} (port ${s.port}) ---\n${await s.logTail(20)}`));
        throw new Error(`${err instanceof Error ? err.message : String(err)} after the ${how} of ${target.address}; the Sentinels said:\n${logs.join('\n')}`, { cause: err });
      }
      if (event.from !== target.address) throw new Error(`+switch-master moved ${event.from}, expected ${target.address}`);
      // The leader announces first; the other Sentinels learn the new configuration from its hello
      // messages (every 2 s). Until they all agree, asking one of them may still name the old primary.
      await waitFor(`every Sentinel to report ${event.to} as the primary`, 15_000, async () => {
        for (const sentinel of sentinels) {
          if (!sentinel.alive || sentinel.paused) continue;
          const reply = await oneCommand(sentinel.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName]).catch(() => undefined);
          if (!Array.isArray(reply) || `${String(reply[0])}:${String(reply[1])}` !== event.to) return undefined;
        }
        return true;
      });
      return { ...event, target };
    };

    return {
      masterName,
      primary,
      replica,
      sentinels,
      sentinelAddresses: sentinels.map((s) => s.address),
      currentPrimary,
      watchSwitchMaster,
      async killPrimary(timeoutMs = 30_000) {
        const { target, ...event } = await failOver('kill', timeoutMs);
        return { ...event, killed: target };
      },
      async pausePrimary(timeoutMs = 30_000) {
        const { target, ...event } = await failOver('pause', timeoutMs);
        return { ...event, paused: target };
      },
      async reviveAsReplica(server, timeoutMs = 60_000) {
        if (server.paused) server.resume();
        else if (!server.alive) await server.restart();
        const primaryNow = await currentPrimary();
        if (primaryNow === server.address) throw new Error(`${server.address} is still the primary`);
        await waitFor(`${server.address} to become a synced replica of ${primaryNow}`, timeoutMs, async () => {
          const info = String(await oneCommand(server.port, ['INFO', 'replication']));
          if (!info.includes('role:slave') || !info.includes('master_link_status:up') || !info.includes(`master_port:${primaryNow.split(':')[1] ?? ''}`)) return undefined;
          // Every Sentinel must see it as a healthy replica, or it would not be chosen next time.
          for (const sentinel of sentinels) {
            const replicas = await oneCommand(sentinel.port, ['SENTINEL', 'REPLICAS', masterName]);
            if (!Array.isArray(replicas)) return undefined;
            const entry = replicas.map(pairs).find((r) => r.get('name') === server.address);
            if (!entry || entry.get('flags') !== 'slave' || entry.get('master-link-status') !== 'ok') return undefined;
          }
          return true;
        });
      },
      async stop() {
        await killAll(started);
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await killAll(started);
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Call in a mocha before(): one redis-server without persistence (so a restart comes back empty, as a
 * cache-only deployment does), with kill -9 and restart on the same port.
 */
export async function startSingleRedis(ctx: Mocha.Context): Promise<{ server: RedisProcess; url: string; stop(): Promise<void> }> {
  requireRedisBinaries(ctx);
  const root = await mkdtemp(join(tmpdir(), 'ratatosk-single-redis-'));
  const port = await freePort();
  const server = await spawnRedis('single', join(root, 'server'), port, serverConf(port), false);
  return {
    server,
    url: `redis://${HOST}:${port}`,
    async stop() {
      await killAll([server]);
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Call in a mocha before(): `count` masters (no replicas) sharing the 16384 slots, cluster_state:ok on each. */
export async function startRedisCluster(ctx: Mocha.Context, count = 3, replicas = 0): Promise<RedisClusterTopology> {
  requireRedisBinaries(ctx);
  const root = await mkdtemp(join(tmpdir(), 'ratatosk-rcluster-'));
  const all: RedisProcess[] = [];
  try {
    for (let i = 0; i < count * (1 + replicas); i++) {
      const port = await freePort(10_000);
      const dir = join(root, `node-${i}`);
      const conf = serverConf(port, ['cluster-enabled yes', `cluster-config-file ${join(dir, 'nodes.conf')}`, 'cluster-node-timeout 2000', `cluster-announce-ip ${HOST}`]);
      all.push(await spawnRedis(i < count ? `master-${i}` : `replica-${i - count}`, dir, port, conf, false));
    }
    const masters = all.slice(0, count);
    const replicaProcesses = all.slice(count);
    const addresses = masters.map((m) => m.address);
    // redis-cli makes the first `count` addresses masters and the rest their replicas.
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...all.map((p) => p.address), '--cluster-replicas', String(replicas), '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed (${created.status ?? created.signal}):\n${created.stdout}\n${created.stderr}`);
    const clusterOk = (timeoutMs: number): Promise<true> =>
      waitFor('cluster_state:ok on every live node', timeoutMs, async () => {
        for (const node of all) {
          if (!node.alive) continue;
          const info = String(await oneCommand(node.port, ['CLUSTER', 'INFO']));
          if (!info.includes('cluster_state:ok') || !info.includes(`cluster_known_nodes:${all.length}`)) return undefined;
        }
        return true;
      });
    await clusterOk(30_000);
    /** port -> role ('master' | 'slave') and slot ranges, from CLUSTER NODES on a live node. */
    const layout = async (): Promise<Array<{ port: number; master: boolean; failed: boolean; slots: Array<[number, number]>; masterId: string; id: string }>> => {
      const live = all.find((n) => n.alive && !n.paused);
      if (!live) throw new Error('no live Redis Cluster node');
      const text = String(await oneCommand(live.port, ['CLUSTER', 'NODES']));
      return text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((line) => {
          const [id = '', address = '', flags = '', masterId = '', , , , , ...slots] = line.split(' ');
          return {
            id,
            port: Number(address.split('@')[0]?.split(':')[1]),
            master: flags.split(',').includes('master'),
            failed: flags.includes('fail'),
            masterId,
            slots: slots.filter((r) => !r.startsWith('[')).map((r) => {
              const [a, b] = r.split('-');
              return [Number(a), Number(b ?? a)] as [number, number];
            }),
          };
        });
    };
    const masterOf = async (key: string): Promise<RedisProcess> => {
      const live = all.find((n) => n.alive && !n.paused);
      if (!live) throw new Error('no live Redis Cluster node');
      const slot = Number(await oneCommand(live.port, ['CLUSTER', 'KEYSLOT', key]));
      const owner = (await layout()).find((n) => n.master && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b));
      const found = all.find((p) => p.port === owner?.port);
      if (!found) throw new Error(`no master serves slot ${slot}`);
      return found;
    };
    return {
      masters,
      replicas: replicaProcesses,
      addresses,
      masterOf,
      async killMasterOf(key, timeoutMs = 30_000) {
        const killed = await masterOf(key);
        const began = Date.now();
        killed.kill();
        const promoted = await waitFor(`a replica to take over the slots of ${killed.address}`, timeoutMs, async () => {
          const owner = await masterOf(key).catch(() => undefined);
          return owner && owner !== killed ? owner : undefined;
        });
        await clusterOk(timeoutMs);
        return { killed, promoted, afterMs: Date.now() - began };
      },
      async reviveAsReplica(node, timeoutMs = 30_000) {
        if (!node.alive) await node.restart();
        await waitFor(`${node.address} to rejoin as a synced replica`, timeoutMs, async () => {
          const info = String(await oneCommand(node.port, ['INFO', 'replication']));
          return info.includes('role:slave') && info.includes('master_link_status:up') ? true : undefined;
        });
        await clusterOk(timeoutMs);
      },
      command: (node, ...args) => oneCommand(node.port, args),
      async stop() {
        await killAll(all);
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await killAll(all);
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}
