// The Redis connections of a cluster node, in the three modes the configuration allows: one server
// (redis.url), a primary found through Sentinel (redis.sentinels + redis.sentinel_name), or Redis
// Cluster (redis.cluster). ioredis does the mode's work (Sentinel discovery and fail-over, cluster
// slots and MOVED redirects); this file only builds the clients and hides which pub/sub commands
// the mode needs: PUBLISH/SUBSCRIBE, or sharded SPUBLISH/SSUBSCRIBE on Redis Cluster.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/types.js';
import { ServerError } from '../errors.js';
import type { Logger } from '../observability/log.js';

export type RedisMode = 'standalone' | 'sentinel' | 'cluster';
export type RedisClient = Redis | Cluster;

export interface RedisLink {
  readonly mode: RedisMode;
  /** For commands and scripts; never in subscriber mode. */
  readonly client: RedisClient;
  /** Resolves with the number of subscribers that received the message (0: nobody listens on the channel). */
  publish(channel: string, payload: string): Promise<number>;
  /** Listens on a channel; the subscription is renewed by ioredis after a reconnection or fail-over. */
  subscribe(channel: string, onMessage: (payload: string) => void): Promise<void>;
  close(): Promise<void>;
}

/** How long start-up waits for Redis before giving up with a message naming the setting. */
export const REDIS_STARTUP_SECONDS = 30;
/**
 * A command waits for this many reconnection attempts before it fails: routing must degrade to this
 * node's own sessions quickly rather than hold a client's stream while Redis is away.
 */
const MAX_RETRIES_PER_REQUEST = 3;
/**
 * A server that stops answering while commands wait (a frozen or partitioned primary keeps its TCP
 * connections open) is dropped after this long and reconnected; Sentinel then names the new primary.
 */
const SOCKET_TIMEOUT_MS = 3000;
/**
 * After a fail-over a connection may still reach the demoted primary, now a replica that refuses
 * writes with READONLY: reconnect (to the primary Sentinel names) and resend the refused command.
 */
const reconnectOnReadonly = (err: Error): 2 | false => (err.message.startsWith('READONLY') ? 2 : false);
/**
 * Reconnection attempts every 50, 100, 150... ms, at most every 500 ms (ioredis waits up to 2 s): a
 * promoted replica is reached within half a second of Sentinel naming it.
 */
const reconnectDelay = (attempt: number): number => Math.min(attempt * 50, 500);

export function redisConfigured(redis: Config['redis']): boolean {
  return redis.url !== undefined || redis.sentinels.length > 0 || redis.cluster.length > 0;
}

/** The setting that chose the mode, for operator messages. */
function settingOf(redis: Config['redis']): string {
  if (redis.cluster.length > 0) return 'redis.cluster (RATATOSK_REDIS_CLUSTER)';
  if (redis.sentinels.length > 0) return 'redis.sentinels (RATATOSK_REDIS_SENTINELS)';
  return 'redis.url (RATATOSK_REDIS_URL)';
}

/** "host:port" or "[v6]:port" as the configuration validated it. */
export function parseHostPort(value: string): { host: string; port: number } {
  const colon = value.lastIndexOf(':');
  const host = value.slice(0, colon);
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(value.slice(colon + 1)) };
}

export async function connectRedis(redis: Config['redis'], nodeId: string, log: Logger): Promise<RedisLink> {
  const connectionName = `ratatosk-${nodeId}`.replace(/[^\w.-]/g, '_');
  const common: RedisOptions = { connectionName, enableAutoPipelining: true, maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST, socketTimeout: SOCKET_TIMEOUT_MS, reconnectOnError: reconnectOnReadonly, retryStrategy: reconnectDelay };
  let link: RedisLink;
  if (redis.cluster.length > 0) {
    const cluster = new Cluster(redis.cluster.map(parseHostPort), { shardedSubscribers: true, enableAutoPipelining: true, redisOptions: { connectionName, maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST } });
    link = shardedLink(cluster);
  } else if (redis.sentinels.length > 0) {
    // failoverDetector: both connections (commands, and the subscriber made by duplicate()) listen for
    // the Sentinels' +switch-master and reconnect at once, rather than waiting for their socket to
    // fail, which a frozen primary never makes it do; an idle subscriber would not notice otherwise.
    // disconnectTimeout: a frozen primary never answers the goodbye, so the old socket is destroyed
    // after this long rather than ioredis's 2 s; commands still waiting on it are resent to the new primary.
    const client = new Redis({ ...common, sentinels: redis.sentinels.map(parseHostPort), name: redis.sentinelName ?? '', failoverDetector: true, disconnectTimeout: 200 });
    link = classicLink('sentinel', client, log);
  } else {
    const client = new Redis(redis.url ?? 'redis://localhost:6379', common);
    link = classicLink('standalone', client, log);
  }
  reportErrors(link.client, log);
  try {
    await ready(link.client, REDIS_STARTUP_SECONDS * 1000);
  } catch (err) {
    await link.close();
    throw new ServerError('CLUSTER_REDIS_UNREACHABLE', `cannot reach Redis at ${settingOf(redis)} within ${REDIS_STARTUP_SECONDS} s: ${err instanceof Error ? err.message : String(err)}`);
  }
  log.info({ mode: link.mode }, 'connected to Redis');
  return link;
}

/** One server or a Sentinel-managed primary: a second connection for SUBSCRIBE. */
function classicLink(mode: 'standalone' | 'sentinel', client: Redis, log: Logger): RedisLink {
  let subscriber: Redis | undefined;
  const closing = { value: false };
  reviveWhenEnded(client, closing, log);
  return {
    mode,
    client,
    publish: (channel, payload) => client.publish(channel, payload),
    async subscribe(channel, onMessage) {
      if (!subscriber) {
        subscriber = client.duplicate({ enableAutoPipelining: false });
        subscriber.on('error', () => undefined); // the command connection reports the same outage
        reviveWhenEnded(subscriber, closing, log);
      }
      subscriber.on('message', (from: string, payload: string) => {
        if (from === channel) onMessage(payload);
      });
      await subscriber.subscribe(channel);
    },
    async close() {
      closing.value = true;
      await Promise.all([quit(client), subscriber ? quit(subscriber) : Promise.resolve()]);
    },
  };
}

/**
 * ioredis gives a connection up for good ('end') when the Sentinel connector is told to disconnect while it
 * is still asking a Sentinel for the primary: the fail-over detector of the previous connection fires on
 * +switch-master during the reconnection that the primary's death started (ioredis 6.0.0,
 * SentinelConnector.connect: "Connection is closed." once `connecting` is false). A node must not stay
 * without Redis for the rest of its life over that race, so a connection that ends without our close()
 * connects again (its subscriptions are renewed from the state ioredis keeps for the reconnection).
 */
function reviveWhenEnded(client: Redis, closing: { value: boolean }, log: Logger): void {
  let attempt = 0;
  client.on('end', () => {
    if (closing.value) return;
    const delay = reconnectDelay(++attempt);
    log.warn({ delayMs: delay }, 'Redis connection ended without a close; connecting again');
    setTimeout(() => {
      if (!closing.value && client.status === 'end') client.connect().catch(() => undefined);
    }, delay).unref();
  });
  client.on('ready', () => {
    attempt = 0;
  });
}

/** Redis Cluster: sharded pub/sub, so a message travels only inside the shard that owns the channel's slot. */
function shardedLink(cluster: Cluster): RedisLink {
  return {
    mode: 'cluster',
    client: cluster,
    publish: async (channel, payload) => Number(await cluster.spublish(channel, payload)),
    async subscribe(channel, onMessage) {
      cluster.on('smessage', (from: string, payload: string) => {
        if (from === channel) onMessage(payload);
      });
      await cluster.ssubscribe(channel);
    },
    close: () => quit(cluster),
  };
}

function ready(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let lastError: unknown;
    const onError = (err: unknown): void => {
      lastError = err;
    };
    const done = (): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
    };
    const onReady = (): void => {
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(lastError instanceof Error ? lastError : new Error('no answer'));
    }, timeoutMs);
    client.on('ready', onReady);
    client.on('error', onError);
  });
}

/** Logs connection trouble once per outage rather than once per reconnection attempt. */
function reportErrors(client: RedisClient, log: Logger): void {
  let down = false;
  client.on('error', (err: unknown) => {
    if (down) return;
    down = true;
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'Redis connection failed; retrying');
  });
  client.on('ready', () => {
    if (down) log.info('Redis connection is back');
    down = false;
  });
}

async function quit(client: RedisClient): Promise<void> {
  try {
    await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  } catch {
    // already closed
  }
  client.disconnect();
}
