// The login throttle's counters in Redis, shared by every node of a cluster (the rules are in
// throttle.ts; the same as MemoryThrottleStore's). Each decision is one Lua script, so parallel
// attempts on several nodes see each other; the time is Redis's, the same for every node. An
// account's counter and its (address, account) pairs share a hash tag, so on Redis Cluster they
// sit in one slot and one script can touch them together; an address's counter has its own.
// Keys (prefix rt:auth:): acct:{<account>}, acct:{<account>}:from:<address>, addr:{<address>}.
// Hash fields: f failures, n next attempt (ms), l locked until (ms), t trusted until (ms).
import type { Cluster, Redis } from 'ioredis';
import type { Admission, ThrottleEntry, ThrottlePolicy, ThrottleStore, UnlockTarget } from './throttle.js';
import { BASE_DELAY_MS } from './throttle.js';

export const AUTH_KEY_PREFIX = 'rt:auth:';

/** Readable in redis-cli, free of the glob characters SCAN MATCH interprets, and of braces. */
const enc = (s: string): string => encodeURIComponent(s).replace(/\*/g, '%2A');

const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function s(x) return string.format('%.0f', x) end
local function num(key, field) return tonumber(redis.call('HGET', key, field) or '0') end
local function gap(count, threshold, max)
  if count < threshold then return 0 end
  return math.min(max, ${BASE_DELAY_MS} * 2 ^ math.min(count - threshold, 30))
end
`;

/** KEYS: address. ARGV: threshold, max delay, window. Returns {admitted, wait}. */
const ADMIT_ADDRESS = `${PRELUDE}
local threshold, max, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local f, n = num(KEYS[1], 'f'), num(KEYS[1], 'n')
local wait = math.max(gap(f, threshold, max), n - now)
if wait > max then return {0, wait} end
f = f + 1
n = now + wait + gap(f, threshold, max)
redis.call('HSET', KEYS[1], 'f', f, 'n', s(n))
redis.call('PEXPIRE', KEYS[1], s(math.max(window, n - now)))
return {1, wait}
`;

/** KEYS: account, pair. ARGV: threshold, max delay, window, lockout failures, lockout ms. Returns {0 locked | 1 admitted | 2 busy, wait}. */
const ADMIT_ACCOUNT = `${PRELUDE}
local threshold, max, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local limit, lockMs = tonumber(ARGV[4]), tonumber(ARGV[5])
local af, lock = num(KEYS[1], 'f'), num(KEYS[1], 'l')
local pf, pn, trust = num(KEYS[2], 'f'), num(KEYS[2], 'n'), num(KEYS[2], 't')
if lock > now and trust <= now then return {0, 0} end
if lock ~= 0 and lock <= now then
  lock = 0
  if limit > 0 and af > limit - 1 then af = limit - 1 end
end
local wait = math.max(gap(pf, threshold, max), pn - now)
if wait > max then return {2, wait} end
pf = pf + 1
pn = now + wait + gap(pf, threshold, max)
af = af + 1
if limit > 0 and af >= limit and lock <= now then lock = now + lockMs end
redis.call('HSET', KEYS[1], 'f', af, 'l', s(lock))
redis.call('PEXPIRE', KEYS[1], s(math.max(window, lock - now)))
redis.call('HSET', KEYS[2], 'f', pf, 'n', s(pn))
redis.call('PEXPIRE', KEYS[2], s(math.max(window, trust - now, pn - now)))
return {1, wait}
`;

/** KEYS: address. A success takes back its own count. */
const SUCCEEDED_ADDRESS = `${PRELUDE}
local f = num(KEYS[1], 'f')
if f > 0 then redis.call('HINCRBY', KEYS[1], 'f', -1) end
if f <= 1 and num(KEYS[1], 'n') <= now then redis.call('DEL', KEYS[1]) end
return 1
`;

/** KEYS: account, pair. ARGV: lockout failures, trust ms. */
const SUCCEEDED_ACCOUNT = `${PRELUDE}
local limit, trustMs = tonumber(ARGV[1]), tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 1 then
  local af = num(KEYS[1], 'f')
  if af > 0 then af = af - 1 end
  local lock = num(KEYS[1], 'l')
  if limit > 0 and af < limit then lock = 0 end
  if af == 0 and lock <= now then redis.call('DEL', KEYS[1]) else redis.call('HSET', KEYS[1], 'f', af, 'l', s(lock)) end
end
if trustMs > 0 then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 't', s(now + trustMs))
  redis.call('PEXPIRE', KEYS[2], s(trustMs))
else
  redis.call('DEL', KEYS[2])
end
return 1
`;

/** KEYS: one counter (of whichever kind). Clears failures, delay and lock; a pair's trust stays. Returns 1 when something was cleared. */
const CLEAR = `${PRELUDE}
local f, l, n = num(KEYS[1], 'f'), num(KEYS[1], 'l'), num(KEYS[1], 'n')
if f == 0 and l == 0 and n == 0 then return 0 end
local trust = num(KEYS[1], 't')
if trust > now then
  redis.call('HDEL', KEYS[1], 'f', 'l', 'n')
  redis.call('PEXPIRE', KEYS[1], s(trust - now))
else
  redis.call('DEL', KEYS[1])
end
return 1
`;

type Client = Redis | Cluster;

function isCluster(client: Client): client is Cluster {
  return 'nodes' in client && typeof client.nodes === 'function';
}

export class RedisThrottleStore implements ThrottleStore {
  constructor(
    private readonly client: Client,
    private readonly policy: ThrottlePolicy,
    private readonly prefix = AUTH_KEY_PREFIX,
  ) {}

  private accountKey(account: string): string {
    return `${this.prefix}acct:{${enc(account)}}`;
  }

  private pairKey(account: string, address: string): string {
    return `${this.accountKey(account)}:from:${enc(address)}`;
  }

  private addressKey(address: string): string {
    return `${this.prefix}addr:{${enc(address)}}`;
  }

  private async run(script: string, keys: string[], args: (string | number)[]): Promise<unknown> {
    return this.client.eval(script, keys.length, ...keys, ...args.map(String));
  }

  async admit(address: string, account: string | undefined): Promise<Admission> {
    const p = this.policy;
    const [addressAdmitted, addressWait] = numbers(await this.run(ADMIT_ADDRESS, [this.addressKey(address)], [p.addressFailuresBeforeDelay, p.maxDelayMs, p.windowMs]));
    if (addressAdmitted !== 1) return { admitted: false, reason: 'busy' };
    if (account === undefined) return { admitted: true, waitMs: addressWait };
    const [state, pairWait] = numbers(
      await this.run(ADMIT_ACCOUNT, [this.accountKey(account), this.pairKey(account, address)], [p.failuresBeforeDelay, p.maxDelayMs, p.windowMs, p.lockoutFailures, p.lockoutMs]),
    );
    if (state === 0) return { admitted: false, reason: 'locked' };
    if (state === 2) return { admitted: false, reason: 'busy' };
    return { admitted: true, waitMs: Math.max(addressWait, pairWait) };
  }

  async succeeded(address: string, account: string | undefined): Promise<void> {
    await this.run(SUCCEEDED_ADDRESS, [this.addressKey(address)], []);
    if (account !== undefined) await this.run(SUCCEEDED_ACCOUNT, [this.accountKey(account), this.pairKey(account, address)], [this.policy.lockoutFailures, this.policy.trustMs]);
  }

  /** Every key under the prefix, on every primary of a Redis Cluster. */
  private async keys(match: string): Promise<string[]> {
    const nodes: Redis[] = isCluster(this.client) ? this.client.nodes('master') : [this.client];
    const found: string[] = [];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', match, 'COUNT', 500);
        cursor = next;
        found.push(...batch);
      } while (cursor !== '0');
    }
    return [...new Set(found)];
  }

  async list(): Promise<ThrottleEntry[]> {
    const keys = await this.keys(`${this.prefix}a*`);
    const entries: ThrottleEntry[] = [];
    for (const key of keys) {
      const parsed = this.parse(key);
      if (!parsed) continue;
      const [fields, ttl] = await Promise.all([this.client.hgetall(key), this.client.pttl(key)]);
      const failures = Number(fields.f ?? 0);
      const lockedUntil = Number(fields.l ?? 0);
      const next = Number(fields.n ?? 0);
      const now = Date.now();
      if (ttl < 0 || (failures === 0 && lockedUntil <= now)) continue;
      const entry: ThrottleEntry = { ...parsed, failures, expiresAt: now + ttl, scope: 'cluster' };
      if (lockedUntil > now) entry.lockedUntil = lockedUntil;
      if (next > now) entry.nextAttemptAt = next;
      entries.push(entry);
    }
    return entries;
  }

  private parse(key: string): Pick<ThrottleEntry, 'kind' | 'account' | 'address'> | undefined {
    const rest = key.slice(this.prefix.length);
    const pair = /^acct:\{([^{}]*)\}:from:(.+)$/.exec(rest);
    if (pair) return { kind: 'pair', account: decodeURIComponent(pair[1] ?? ''), address: decodeURIComponent(pair[2] ?? '') };
    const acct = /^acct:\{([^{}]*)\}$/.exec(rest);
    if (acct) return { kind: 'account', account: decodeURIComponent(acct[1] ?? '') };
    const addr = /^addr:\{([^{}]*)\}$/.exec(rest);
    if (addr) return { kind: 'address', address: decodeURIComponent(addr[1] ?? '') };
    return undefined;
  }

  async unlock(target: UnlockTarget): Promise<number> {
    let keys: string[];
    if ('all' in target) keys = await this.keys(`${this.prefix}a*`);
    else if ('account' in target) keys = [this.accountKey(target.account), ...(await this.keys(`${this.accountKey(target.account)}:from:*`))];
    else keys = [this.addressKey(target.address), ...(await this.keys(`${this.prefix}acct:{*}:from:${enc(target.address)}`))];
    let changed = 0;
    for (const key of keys) {
      if (!this.parse(key)) continue;
      changed += Number(await this.run(CLEAR, [key], []));
    }
    return changed;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function numbers(reply: unknown): [number, number] {
  if (!Array.isArray(reply)) throw new Error('unexpected reply from the throttle script');
  return [Number(reply[0]), Number(reply[1])];
}
