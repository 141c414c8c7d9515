// The node registry and health checker (the seeds' "service registry" and "socket health checker"),
// on Redis. Each node heartbeats a key with a TTL and keeps its connection count in the sorted set
// rt:nodes, beside a hash of its public endpoints. A sweeper on every node looks for members whose
// heartbeat expired; the one that takes the node's lock clears its sessions from the directory and
// reports them lost. Bound: a dead node is found within ALIVE_TTL_MS + SWEEP_MS + SWEEP_JITTER_MS.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../observability/log.js';
import type { SessionDirectory } from '../sessions/directory.js';
import type { SessionRecord } from '../sessions/types.js';
import { NODES_KEY, nodeAliveKey, nodeInfoKey, nodeLockKey, nodeSweptKey } from './keys.js';
import type { RedisClient } from './redis-connection.js';
import { defineUnlock } from './redis-unlock.js';

export const HEARTBEAT_MS = 1000;
export const ALIVE_TTL_MS = 3000;
export const SWEEP_MS = 1000;
export const SWEEP_JITTER_MS = 250;
/**
 * After a reconnection, how long this node waits for the other live nodes' heartbeats to return before it
 * trusts the directory again: their next heartbeat (≤ HEARTBEAT_MS) plus their reconnection and re-registration.
 */
export const PEER_RESYNC_MS = ALIVE_TTL_MS + HEARTBEAT_MS;
/** How long the mark of a sweep waits for its node to come back and read it. */
const SWEPT_MARK_MS = 3_600_000;
/** Longest a sweep may hold a node's lock; long enough to wipe a large node. */
export const LOCK_MS = 10_000;

/** Where clients reach a node. Ports are -1 for a listener that is off. */
export interface NodeEndpoints {
  host: string;
  c2sPort: number;
  c2sTlsPort: number;
  httpPort: number;
  websocketUrl?: string;
  boshUrl?: string;
}

export interface NodeInfo extends NodeEndpoints {
  id: string;
  /** Open client connections, as of its last heartbeat. */
  connections: number;
  /** Its heartbeat has not expired. */
  alive: boolean;
  /** It is shutting down: not a place to send clients. */
  draining: boolean;
  startedAt: number;
}

/** What the admin `status` command and XEP-0156 discovery read. */
export interface NodeRegistry {
  /** Every registered node, least loaded first. */
  listNodes(): Promise<NodeInfo[]>;
  /** The live, non-draining node with the fewest connections, other than those excluded. */
  leastLoadedNode(options?: { exclude?: readonly string[] }): Promise<NodeInfo | undefined>;
}

export interface RedisNodeRegistryDeps {
  nodeId: string;
  redis: RedisClient;
  directory: SessionDirectory;
  log: Logger;
  /** Open client connections on this node now. */
  connections(): number;
  /** A dead node's sessions were wiped (or this node's own from a previous life). */
  onSessionsLost(sessions: SessionRecord[], node: string): Promise<void>;
  /**
   * This node's heartbeat had expired, or Redis lost it: its sessions must be registered again. `swept`:
   * a sweeper cleared them and reported them lost, so their contacts were told they left.
   */
  onLapse(swept: boolean): Promise<void>;
  /** A node this one saw alive stopped heartbeating or left (every node reports it, once per departure). */
  onNodeDown?(node: string): void;
}

export class RedisNodeRegistry implements NodeRegistry {
  /** Tells this process's heartbeats from those of an earlier process with the same node id. */
  private readonly boot = randomBytes(8).toString('hex');
  private readonly startedAt = Date.now();
  private endpoints: NodeEndpoints | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private beats = 0;
  private draining = false;
  private stopped = false;
  private sweeping: Promise<void> | undefined;
  /** Other nodes alive at the last sweep. */
  private liveOthers = new Set<string>();
  /** No sweeping before this (ms since epoch): after a reconnection, live nodes get time to heartbeat first. */
  private quietUntil = 0;
  private recovering: Promise<void> | undefined;

  constructor(private readonly deps: RedisNodeRegistryDeps) {
    defineUnlock(deps.redis);
    // A connection lost: heartbeats of other nodes may have lapsed in Redis through no fault of theirs.
    const quiet = (): void => {
      this.quietUntil = Math.max(this.quietUntil, Date.now() + PEER_RESYNC_MS + HEARTBEAT_MS);
    };
    deps.redis.on('close', quiet);
    deps.redis.on('node error', quiet);
  }

  /**
   * At start-up, before listening: wipes what an earlier process with this node id left in the
   * directory (it crashed, or was killed), under the same lock sweepers take, and reports it lost.
   */
  async clearPreviousLife(): Promise<void> {
    const { nodeId, log } = this.deps;
    const deadline = Date.now() + LOCK_MS + 1000;
    let token = await this.lock(nodeId);
    while (!token && Date.now() < deadline) {
      await sleep(200);
      token = await this.lock(nodeId);
    }
    try {
      const lost = await this.deps.directory.wipeNode(nodeId);
      if (lost.length > 0) log.info({ sessions: lost.length }, 'cleared the sessions of this node id’s previous run');
      await this.deps.onSessionsLost(lost, nodeId);
    } finally {
      if (token) await this.unlock(nodeId, token);
    }
  }

  /**
   * False for a while after a reconnection to Redis: a missing heartbeat key may then be Redis's lapse, not
   * the node's death (sweeps wait, and so do take-overs of a node's singletons).
   */
  heartbeatsTrusted(): boolean {
    return Date.now() >= this.quietUntil;
  }

  /** Once listening: publishes the endpoints and starts the heartbeat and the sweeper. */
  async join(endpoints: NodeEndpoints): Promise<void> {
    this.endpoints = endpoints;
    await this.writeInfo();
    await this.heartbeat();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), HEARTBEAT_MS);
    this.heartbeatTimer.unref();
    this.scheduleSweep();
  }

  /** Shutting down: other nodes stop sending clients here; the heartbeat goes on until leave(). */
  async drain(): Promise<void> {
    this.draining = true;
    try {
      await this.deps.redis.hset(nodeInfoKey(this.deps.nodeId), 'draining', '1');
    } catch (err) {
      this.deps.log.warn({ err }, 'could not mark this node as draining');
    }
  }

  /** Leaves the registry for good: no heartbeat, no entry in rt:nodes, no endpoints. */
  async leave(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.sweepTimer);
    await this.sweeping;
    const { redis, nodeId } = this.deps;
    await Promise.all([redis.zrem(NODES_KEY, nodeId), redis.del(nodeAliveKey(nodeId), nodeInfoKey(nodeId))]);
  }

  async listNodes(): Promise<NodeInfo[]> {
    const { redis } = this.deps;
    const flat = await redis.zrange(NODES_KEY, 0, '-1', 'WITHSCORES');
    const members: { id: string; connections: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) members.push({ id: flat[i] ?? '', connections: Number(flat[i + 1]) });
    const nodes = await Promise.all(
      members.map(async ({ id, connections }) => {
        const [info, alive] = await Promise.all([redis.hgetall(nodeInfoKey(id)), redis.exists(nodeAliveKey(id))]);
        return infoFrom(id, connections, alive === 1, info);
      }),
    );
    return nodes;
  }

  async leastLoadedNode(options: { exclude?: readonly string[] } = {}): Promise<NodeInfo | undefined> {
    const excluded = new Set(options.exclude ?? []);
    return (await this.listNodes()).find((n) => n.alive && !n.draining && n.host !== '' && !excluded.has(n.id));
  }

  private async writeInfo(): Promise<void> {
    const endpoints = this.endpoints;
    if (!endpoints) return;
    const fields: Record<string, string> = {
      host: endpoints.host,
      c2sPort: String(endpoints.c2sPort),
      c2sTlsPort: String(endpoints.c2sTlsPort),
      httpPort: String(endpoints.httpPort),
      startedAt: String(this.startedAt),
      draining: this.draining ? '1' : '0',
    };
    if (endpoints.websocketUrl) fields.websocketUrl = endpoints.websocketUrl;
    if (endpoints.boshUrl) fields.boshUrl = endpoints.boshUrl;
    await this.deps.redis.hset(nodeInfoKey(this.deps.nodeId), fields);
  }

  /**
   * Renews the heartbeat key only while it exists (XX): a key that is gone (expired during an outage, or
   * Redis restarted empty) is written again only after this node's sessions are registered again
   * (recover()), so that another node that sees the key may trust the directory for this node's users.
   */
  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    const { redis, nodeId, log } = this.deps;
    try {
      if (this.beats === 0) {
        await Promise.all([redis.set(nodeAliveKey(nodeId), this.boot, 'PX', ALIVE_TTL_MS), redis.zadd(NODES_KEY, this.deps.connections(), nodeId)]);
        this.beats++;
        return;
      }
      const previous = await redis.set(nodeAliveKey(nodeId), this.boot, 'PX', ALIVE_TTL_MS, 'XX', 'GET');
      this.beats++;
      if (previous === this.boot) await redis.zadd(NODES_KEY, this.deps.connections(), nodeId);
      else await this.recover();
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'heartbeat failed');
    }
  }

  /** The heartbeat had expired, or Redis lost it: register everything again, then heartbeat. One at a time. */
  private recover(): Promise<void> {
    this.recovering ??= (async () => {
      const { redis, nodeId, log } = this.deps;
      log.warn('this node’s heartbeat had expired or Redis lost it; registering its sessions again');
      await this.writeInfo();
      const swept = (await redis.getdel(nodeSweptKey(nodeId))) !== null;
      await this.deps.onLapse(swept);
      await Promise.all([redis.set(nodeAliveKey(nodeId), this.boot, 'PX', ALIVE_TTL_MS), redis.zadd(NODES_KEY, this.deps.connections(), nodeId)]);
    })().finally(() => {
      this.recovering = undefined;
    });
    return this.recovering;
  }

  /**
   * After a reconnection to Redis (directory-gate.ts): if Redis lost this node's heartbeat (a restart
   * without persistence, a fail-over that lost writes), registers this node's sessions again; then waits,
   * at most PEER_RESYNC_MS, until every other node alive before has its heartbeat key back, which it
   * writes only once its own sessions are registered again. Sweeps wait meanwhile.
   */
  async resync(): Promise<void> {
    if (this.beats === 0 || this.stopped) return;
    const { redis, nodeId } = this.deps;
    this.quietUntil = Date.now() + PEER_RESYNC_MS + HEARTBEAT_MS;
    const mine = await redis.get(nodeAliveKey(nodeId));
    if (mine !== this.boot) await this.recover();
    const deadline = Date.now() + PEER_RESYNC_MS;
    let waiting = [...this.liveOthers];
    while (waiting.length > 0 && Date.now() < deadline) {
      const present = await Promise.all(waiting.map((id) => redis.exists(nodeAliveKey(id))));
      waiting = waiting.filter((_, i) => present[i] !== 1);
      if (waiting.length > 0) await sleep(50);
    }
    if (waiting.length > 0) this.deps.log.warn({ nodes: waiting }, 'nodes did not heartbeat again after Redis came back; routing goes on without them');
  }

  private scheduleSweep(): void {
    if (this.stopped) return;
    this.sweepTimer = setTimeout(() => {
      this.sweeping = this.sweep().finally(() => {
        this.sweeping = undefined;
        this.scheduleSweep();
      });
    }, SWEEP_MS + Math.random() * SWEEP_JITTER_MS);
    this.sweepTimer.unref();
  }

  /** Finds members of rt:nodes whose heartbeat expired and clears each, if no other node is at it. */
  private async sweep(): Promise<void> {
    const { redis, nodeId, log } = this.deps;
    if (Date.now() < this.quietUntil) return;
    try {
      const others = (await redis.zrange(NODES_KEY, 0, '-1')).filter((id) => id !== nodeId);
      const alive = await Promise.all(others.map((id) => redis.exists(nodeAliveKey(id))));
      const dead = others.filter((_, i) => alive[i] === 0);
      const live = new Set(others.filter((_, i) => alive[i] === 1));
      // Answers from across a reconnection are not believed: a node may look gone only because Redis was.
      if (Date.now() < this.quietUntil) return;
      for (const id of this.liveOthers) if (!live.has(id)) this.deps.onNodeDown?.(id);
      this.liveOthers = live;
      for (const id of dead) if (Date.now() >= this.quietUntil) await this.clear(id);
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'sweep failed');
    }
  }

  private async clear(node: string): Promise<void> {
    const { redis, directory, log } = this.deps;
    const token = await this.lock(node);
    if (!token) return;
    let lost: SessionRecord[];
    try {
      // It may have come back (or restarted) since it was seen dead.
      if ((await redis.exists(nodeAliveKey(node))) === 1) return;
      lost = await directory.wipeNode(node);
      await Promise.all([redis.zrem(NODES_KEY, node), redis.del(nodeInfoKey(node)), redis.set(nodeSweptKey(node), '1', 'PX', SWEPT_MARK_MS)]);
    } finally {
      await this.unlock(node, token);
    }
    log.warn({ node, sessions: lost.length }, 'node stopped heartbeating; its sessions were cleared');
    await this.deps.onSessionsLost(lost, node);
  }

  private async lock(node: string): Promise<string | undefined> {
    const token = `${this.deps.nodeId}:${randomBytes(6).toString('hex')}`;
    const taken = await this.deps.redis.set(nodeLockKey(node), token, 'PX', LOCK_MS, 'NX');
    return taken === 'OK' ? token : undefined;
  }

  private async unlock(node: string, token: string): Promise<void> {
    try {
      await this.deps.redis.ratatoskUnlock(nodeLockKey(node), token);
    } catch (err) {
      this.deps.log.warn({ err, node }, 'could not release a sweep lock; it expires by itself');
    }
  }
}

function infoFrom(id: string, connections: number, alive: boolean, info: Record<string, string>): NodeInfo {
  const port = (value: string | undefined): number => {
    const n = Number(value);
    return Number.isInteger(n) ? n : -1;
  };
  return {
    id,
    connections,
    alive,
    draining: info.draining === '1',
    host: info.host ?? '',
    c2sPort: port(info.c2sPort),
    c2sTlsPort: port(info.c2sTlsPort),
    httpPort: port(info.httpPort),
    ...(info.websocketUrl ? { websocketUrl: info.websocketUrl } : {}),
    ...(info.boshUrl ? { boshUrl: info.boshUrl } : {}),
    startedAt: Number(info.startedAt) || 0,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
