// The session directory on Redis (keys in keys.ts, layout in README.md). Each bare JID has one hash,
// resource → {node, sid, available, priority}; each node a set of the full JIDs it holds. Changes to a
// record are Lua scripts on the bare JID's hash, so "is it still mine?" and the write are one step;
// the per-node set is kept beside it (another slot on Redis Cluster, so not in the same script),
// changed in an order that never leaves a record out of its node's set.
import type { Result } from 'ioredis';
import { Jid } from '../jid.js';
import type { Logger } from '../observability/log.js';
import type { SessionDirectory, SessionKey } from '../sessions/directory.js';
import type { SessionRecord } from '../sessions/types.js';
import { nodeSessionsKey, resourcesKey } from './keys.js';
import type { RedisClient } from './redis-connection.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    ratatoskRegister(key: string, resource: string, record: string): Result<string | null, Context>;
    ratatoskUpdate(key: string, resource: string, node: string, sid: string, record: string): Result<number, Context>;
    ratatoskUnregister(key: string, resource: string, node: string, sid: string): Result<string | null, Context>;
    ratatoskWipe(key: string, resource: string, node: string): Result<string | null, Context>;
  }
}

// KEYS[1] the bare JID's hash; ARGV[1] the resource. Each returns what the caller must know.
const SCRIPTS = {
  /** Sets the record; returns the one it replaced. */
  ratatoskRegister: `
    local previous = redis.call('HGET', KEYS[1], ARGV[1])
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
    return previous`,
  /** Replaces the record only while it is still session ARGV[3] of node ARGV[2]; 1 when it did. */
  ratatoskUpdate: `
    local current = redis.call('HGET', KEYS[1], ARGV[1])
    if not current then return 0 end
    local ok, record = pcall(cjson.decode, current)
    if not ok or record.node ~= ARGV[2] or record.sid ~= ARGV[3] then return 0 end
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
    return 1`,
  /** Deletes the record if it is session ARGV[3] of node ARGV[2]; else returns the node that holds it now. */
  ratatoskUnregister: `
    local current = redis.call('HGET', KEYS[1], ARGV[1])
    if not current then return false end
    local ok, record = pcall(cjson.decode, current)
    if ok and record.node == ARGV[2] and record.sid == ARGV[3] then
      redis.call('HDEL', KEYS[1], ARGV[1])
      return false
    end
    if ok and type(record.node) == 'string' then return record.node end
    return false`,
  /** Deletes the record if node ARGV[2] holds it (or it is unreadable); returns the deleted record. */
  ratatoskWipe: `
    local current = redis.call('HGET', KEYS[1], ARGV[1])
    if not current then return false end
    local ok, record = pcall(cjson.decode, current)
    if ok and record.node ~= ARGV[2] then return false end
    redis.call('HDEL', KEYS[1], ARGV[1])
    return current`,
} as const;

/** Full JIDs wiped per round; each is one script call, sent together (auto-pipelined). */
const WIPE_BATCH = 500;

export class RedisDirectory implements SessionDirectory {
  readonly shared = true;

  constructor(private readonly redis: RedisClient, private readonly log: Logger) {
    for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: 1, lua });
  }

  async register(record: SessionRecord): Promise<SessionRecord | undefined> {
    // Into the node's set first: should this node die right after the write, its sweeper finds the record.
    await this.redis.sadd(nodeSessionsKey(record.node), record.jid.toString());
    const previous = await this.redis.ratatoskRegister(resourcesKey(record.jid.bareString()), record.jid.resource, encodeRecord(record));
    if (previous === null) return undefined;
    const displaced = decodeRecord(record.jid, previous, this.log);
    return displaced && (displaced.node !== record.node || displaced.sid !== record.sid) ? displaced : undefined;
  }

  async update(record: SessionRecord): Promise<boolean> {
    const done = await this.redis.ratatoskUpdate(resourcesKey(record.jid.bareString()), record.jid.resource, record.node, record.sid, encodeRecord(record));
    return done === 1;
  }

  async unregister(session: SessionKey): Promise<void> {
    const holder = await this.redis.ratatoskUnregister(resourcesKey(session.jid.bareString()), session.jid.resource, session.node, session.sid);
    // A newer session of this node under the same full JID still needs its place in the set.
    if (holder !== session.node) await this.redis.srem(nodeSessionsKey(session.node), session.jid.toString());
  }

  async find(fullJid: string): Promise<SessionRecord | undefined> {
    const jid = Jid.tryParse(fullJid);
    if (!jid || jid.isBare) return undefined;
    const value = await this.redis.hget(resourcesKey(jid.bareString()), jid.resource);
    return value === null ? undefined : decodeRecord(jid, value, this.log);
  }

  async resources(bareJid: string): Promise<SessionRecord[]> {
    const jid = Jid.tryParse(bareJid);
    if (!jid) return [];
    const all = await this.redis.hgetall(resourcesKey(bareJid));
    const records: SessionRecord[] = [];
    for (const [resource, value] of Object.entries(all)) {
      let full: Jid;
      try {
        full = jid.withResource(resource);
      } catch {
        continue;
      }
      const record = decodeRecord(full, value, this.log);
      if (record) records.push(record);
    }
    return records;
  }

  async sessionsOf(node: string): Promise<string[]> {
    return this.redis.smembers(nodeSessionsKey(node));
  }

  async wipeNode(node: string): Promise<SessionRecord[]> {
    const setKey = nodeSessionsKey(node);
    const removed: SessionRecord[] = [];
    let cursor = '0';
    do {
      const [next, members] = await this.redis.sscan(setKey, cursor, 'COUNT', WIPE_BATCH);
      cursor = next;
      const wiped = await Promise.all(
        members.map(async (full) => {
          const jid = Jid.tryParse(full);
          if (!jid || jid.isBare) return undefined;
          const value = await this.redis.ratatoskWipe(resourcesKey(jid.bareString()), jid.resource, node);
          return value === null ? undefined : decodeRecord(jid, value, this.log);
        }),
      );
      for (const record of wiped) if (record) removed.push(record);
    } while (cursor !== '0');
    await this.redis.del(setKey);
    return removed;
  }
}

/** Compact JSON, with the field names the Lua scripts read. */
export function encodeRecord(record: SessionRecord): string {
  return JSON.stringify({ node: record.node, sid: record.sid, available: record.available, priority: record.priority });
}

/** Reads a stored record; undefined (and a warning) for one that is not what this code writes. */
export function decodeRecord(jid: Jid, value: string, log?: Logger): SessionRecord | undefined {
  let data: unknown;
  try {
    data = JSON.parse(value);
  } catch {
    data = undefined;
  }
  if (typeof data === 'object' && data !== null && 'node' in data && 'sid' in data && 'available' in data && 'priority' in data) {
    const { node, sid, available, priority } = data;
    if (typeof node === 'string' && typeof sid === 'string' && typeof available === 'boolean' && typeof priority === 'number' && Number.isInteger(priority)) {
      return { jid, node, sid, available, priority };
    }
  }
  log?.warn({ jid: jid.toString(), value: value.slice(0, 200) }, 'unreadable session record in Redis; ignored');
  return undefined;
}
