// Placement on Redis (placement.ts): one string per singleton naming its node, and a set per node of what
// it hosts, so that a dead node's claims are dropped with its sessions. A claim is SET NX; taking over from
// a node whose heartbeat expired, and giving up a claim, are compare-and-set scripts on the one key.
// Other nodes' claims are cached for CACHE_MS; a stale entry costs one extra hop, never a second room.
import type { Result } from 'ioredis';
import type { Logger } from '../observability/log.js';
import { nodeAliveKey, nodePlacesKey, placeKey } from './keys.js';
import type { Placement } from './placement.js';
import type { RedisClient } from './redis-connection.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    ratatoskPlaceSwap(key: string, expected: string, node: string): Result<number, Context>;
    ratatoskPlaceDrop(key: string, node: string): Result<number, Context>;
  }
}

const SWAP = `
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
  redis.call('SET', KEYS[1], ARGV[2])
  return 1`;
const DROP = `
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
  redis.call('DEL', KEYS[1])
  return 1`;

/** How long another node's claim is believed without asking Redis again. */
export const CACHE_MS = 5000;
/** Claims dropped per round when a node is cleared (each is one script call, auto-pipelined). */
const DROP_BATCH = 500;

export class RedisPlacement implements Placement {
  private readonly cache = new Map<string, { node: string; until: number }>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    readonly nodeId: string,
    private readonly redis: RedisClient,
    private readonly log: Logger,
    /** How long a lookup keeps asking while Redis fails over (redis.failover_wait_seconds). */
    private readonly waitMs = 10_000,
    /** Whether a missing heartbeat key means a dead node now (not right after a reconnection: node-registry.ts). */
    private readonly heartbeatsTrusted: () => boolean = () => true,
  ) {
    redis.defineCommand('ratatoskPlaceSwap', { numberOfKeys: 1, lua: SWAP });
    redis.defineCommand('ratatoskPlaceDrop', { numberOfKeys: 1, lua: DROP });
  }

  locate(name: string, options: { fresh?: boolean } = {}): Promise<string> {
    const cached = this.cache.get(name);
    if (cached !== undefined && (cached.node === this.nodeId || (!options.fresh && cached.until > Date.now()))) return Promise.resolve(cached.node);
    let pending = this.pending.get(name);
    if (pending === undefined) {
      pending = this.resolvePatiently(name).finally(() => this.pending.delete(name));
      this.pending.set(name, pending);
    }
    return pending;
  }

  async release(name: string): Promise<void> {
    this.cache.delete(name);
    await this.redis.ratatoskPlaceDrop(placeKey(name), this.nodeId);
    await this.redis.srem(nodePlacesKey(this.nodeId), name);
  }

  forgetNode(node: string): void {
    for (const [name, entry] of this.cache) if (entry.node === node) this.cache.delete(name);
  }

  /** Drops every claim of `node` (dead, or this node's previous run); answers how many there were. */
  async wipeNode(node: string): Promise<number> {
    this.forgetNode(node);
    const names = await this.redis.smembers(nodePlacesKey(node));
    for (let i = 0; i < names.length; i += DROP_BATCH) {
      await Promise.all(names.slice(i, i + DROP_BATCH).map((name) => this.redis.ratatoskPlaceDrop(placeKey(name), node)));
    }
    await this.redis.del(nodePlacesKey(node));
    return names.length;
  }

  /** resolve(), asked again while Redis fails (a fail-over) for at most waitMs: an error is no answer. */
  private async resolvePatiently(name: string): Promise<string> {
    const until = Date.now() + this.waitMs;
    let delay = 25;
    for (;;) {
      try {
        return await this.resolve(name);
      } catch (err) {
        if (Date.now() >= until) throw err;
        this.log.debug({ err: err instanceof Error ? err.message : String(err), name }, 'placement lookup failed; asking again');
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 250);
    }
  }

  private async resolve(name: string): Promise<string> {
    const key = placeKey(name);
    let owner: string | null = null;
    for (let attempt = 0; attempt < 3 && owner === null; attempt++) {
      owner = await this.redis.get(key);
      if (owner === null) owner = await this.claim(key, name, () => this.redis.set(key, this.nodeId, 'NX').then((r) => r === 'OK'));
      else if (owner !== this.nodeId && this.heartbeatsTrusted() && (await this.redis.exists(nodeAliveKey(owner))) === 0 && this.heartbeatsTrusted()) {
        const dead = owner;
        this.log.info({ name, node: dead }, 'taking over a singleton from a node whose heartbeat expired');
        owner = await this.claim(key, name, () => this.redis.ratatoskPlaceSwap(key, dead, this.nodeId).then((r) => r === 1));
      }
    }
    if (owner === null) throw new Error(`could not settle which node hosts ${name}`);
    this.cache.set(name, { node: owner, until: Date.now() + CACHE_MS });
    return owner;
  }

  /** Runs `take`; the name is in this node's set first, so a crash in between still has it dropped. */
  private async claim(key: string, name: string, take: () => Promise<boolean>): Promise<string | null> {
    await this.redis.sadd(nodePlacesKey(this.nodeId), name);
    if (await take()) return this.nodeId;
    await this.redis.srem(nodePlacesKey(this.nodeId), name);
    return this.redis.get(key);
  }
}
