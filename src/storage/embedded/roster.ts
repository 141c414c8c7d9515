// Rosters (RFC 6121 §2) with XEP-0237 versions, and pending inbound subscription requests, in the
// embedded (LMDB) store. Items live under [username, jid] keys, which LMDB keeps in code-point
// order of the JID, so a user's roster is one range read. Each user's version is a counter in a
// sub-database of its own, bumped in the same write transaction as the item it versions.
//
// Writes for a username without an account are refused in the same transaction that would make
// them, so nothing is left behind for a deleted account (PostgreSQL's foreign keys do the same).
//
// lmdb-js commits an asynchronous transaction even when its callback throws, and batches the
// callbacks of one event turn into one LMDB transaction; so every callback here reads and
// validates first and writes only after nothing can fail any more.
import type { Database } from 'lmdb';
import { ServerError } from '../../errors.js';
import type { RosterItem, Roster, RosterStore, SubscriptionRequest, SubscriptionRequestStore, SubscriptionState } from '../types.js';
import { guard, type EmbeddedEnv, type UserDataOwner } from './env.js';

/** Keys of per-user, per-JID data. */
type UserKey = [string, string];
type UserKeyedDb = Database<unknown, UserKey>;

/**
 * Upper bound of a user's key range: [user, jid] encodes as <user> 0x00 <jid>, and no UTF-8
 * string contains the byte 0xFF, so [user, 0xFF] sorts after every JID of that user and before
 * every key of a longer username.
 */
const RANGE_END = Uint8Array.of(0xff);

export function userRange(username: string): { start: [string]; end: [string, Uint8Array] } {
  return { start: [username], end: [username, RANGE_END] };
}

/** The keys of `username`'s entries, read before any is removed (a cursor must not see its range change). */
function userKeys(db: UserKeyedDb, username: string): UserKey[] {
  return [...db.getKeys(userRange(username))];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const SUBSCRIPTION_STATES: ReadonlySet<string> = new Set<SubscriptionState>(['none', 'to', 'from', 'both']);

function isSubscriptionState(value: unknown): value is SubscriptionState {
  return typeof value === 'string' && SUBSCRIPTION_STATES.has(value);
}

/** A roster item as stored under [username, jid]: the item less its JID, which is in the key. */
export interface RosterItemRecord {
  name?: string;
  subscription: SubscriptionState;
  ask: boolean;
  approved: boolean;
  groups: string[];
}

/** The record to store for `item`: groups keep their order and lose duplicates. */
export function rosterItemRecord(item: RosterItem): RosterItemRecord {
  const record: RosterItemRecord = { subscription: item.subscription, ask: item.ask, approved: item.approved, groups: [...new Set(item.groups)] };
  if (item.name !== undefined) record.name = item.name;
  return record;
}

function parseRosterItem(jid: string, value: unknown): RosterItem | undefined {
  if (!isRecord(value)) return undefined;
  const { name, subscription, ask, approved, groups } = value;
  if (name !== undefined && typeof name !== 'string') return undefined;
  if (!isSubscriptionState(subscription) || typeof ask !== 'boolean' || typeof approved !== 'boolean') return undefined;
  if (!Array.isArray(groups) || !groups.every((g): g is string => typeof g === 'string')) return undefined;
  const item: RosterItem = { jid, subscription, ask, approved, groups };
  if (name !== undefined) item.name = name;
  return item;
}

function corrupt(what: string): ServerError {
  return new ServerError('STORE_CORRUPT', `embedded store: ${what} is not valid`);
}

/** The accounts sub-database (opened by name, as the composition root opens it), for existence checks. */
function openAccounts(env: EmbeddedEnv): Database<unknown, string> {
  return env.openDB<unknown, string>({ name: 'accounts', cache: false });
}

/** Throws unless `username` has an account; call inside the write transaction, before writing. */
function requireAccount(accounts: Database<unknown, string>, username: string): void {
  if (!accounts.doesExist(username)) throw new ServerError('USER_NOT_FOUND', `there is no account "${username}" to keep this for`);
}

export class EmbeddedRosterStore implements RosterStore, UserDataOwner {
  /** [username, jid] → RosterItemRecord. */
  readonly items: UserKeyedDb;
  /** username → the roster's version (a positive integer; absent means 0). */
  readonly versions: Database<unknown, string>;
  private readonly accounts: Database<unknown, string>;

  constructor(env: EmbeddedEnv) {
    this.items = env.openDB<unknown, UserKey>({ name: 'roster', cache: false });
    this.versions = env.openDB<unknown, string>({ name: 'roster_versions', cache: false });
    this.accounts = openAccounts(env);
  }

  async get(username: string): Promise<Roster> {
    // Both reads run in this event turn, so they see the same snapshot.
    return guard('roster get', () => {
      const version = this.readVersion(username);
      const items: RosterItem[] = [];
      for (const { key, value } of this.items.getRange(userRange(username))) items.push(this.parseItem(username, key[1], value));
      return { version, items };
    });
  }

  async getItem(username: string, jid: string): Promise<RosterItem | undefined> {
    return guard('roster getItem', () => {
      const value = this.items.get([username, jid]);
      return value === undefined ? undefined : this.parseItem(username, jid, value);
    });
  }

  async setItem(username: string, item: RosterItem): Promise<number> {
    const record = rosterItemRecord(item);
    return guard('roster setItem', () => this.items.transaction(() => {
      requireAccount(this.accounts, username);
      const version = this.readVersion(username) + 1;
      void this.items.put([username, item.jid], record);
      void this.versions.put(username, version);
      return version;
    }));
  }

  async removeItem(username: string, jid: string): Promise<number | undefined> {
    return guard('roster removeItem', () => this.items.transaction(() => {
      if (!this.items.doesExist([username, jid])) return undefined;
      const version = this.readVersion(username) + 1;
      void this.items.remove([username, jid]);
      void this.versions.put(username, version);
      return version;
    }));
  }

  async version(username: string): Promise<number> {
    return guard('roster version', () => this.readVersion(username));
  }

  async count(username: string): Promise<number> {
    return guard('roster count', () => this.items.getCount(userRange(username)));
  }

  removeUserData(username: string): void {
    for (const key of userKeys(this.items, username)) void this.items.remove(key);
    void this.versions.remove(username);
  }

  /** Writes a new user's whole roster at version 1; call inside a write transaction (the bulk loader's). */
  writeNewRoster(username: string, items: readonly RosterItem[]): void {
    if (items.length === 0) return;
    for (const item of items) void this.items.put([username, item.jid], rosterItemRecord(item));
    void this.versions.put(username, 1);
  }

  private readVersion(username: string): number {
    const value = this.versions.get(username);
    if (value === undefined) return 0;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw corrupt(`the roster version of "${username}"`);
    return value;
  }

  private parseItem(username: string, jid: unknown, value: unknown): RosterItem {
    const item = typeof jid === 'string' ? parseRosterItem(jid, value) : undefined;
    if (item === undefined) throw corrupt(`a roster item of "${username}"`);
    return item;
  }
}

/** A pending request as stored under [username, from]; `seq` orders requests of the same instant. */
interface SubscriptionRequestRecord {
  stanza: string;
  createdAt: number;
  seq: number;
}

function parseRequestRecord(value: unknown): SubscriptionRequestRecord | undefined {
  if (!isRecord(value)) return undefined;
  const { stanza, createdAt, seq } = value;
  if (typeof stanza !== 'string' || typeof createdAt !== 'number' || !Number.isFinite(createdAt)) return undefined;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) return undefined;
  return { stanza, createdAt, seq };
}

export class EmbeddedSubscriptionRequestStore implements SubscriptionRequestStore, UserDataOwner {
  /** [username, from] → SubscriptionRequestRecord. */
  private readonly db: UserKeyedDb;
  private readonly accounts: Database<unknown, string>;

  constructor(env: EmbeddedEnv) {
    this.db = env.openDB<unknown, UserKey>({ name: 'subscription_requests', cache: false });
    this.accounts = openAccounts(env);
  }

  async put(username: string, request: SubscriptionRequest): Promise<void> {
    return guard('subscription request put', () => this.db.transaction(() => {
      requireAccount(this.accounts, username);
      // A user holds few pending requests, so finding the next sequence number by a scan is cheap.
      let seq = 0;
      for (const { value } of this.db.getRange(userRange(username))) {
        const record = parseRequestRecord(value);
        if (record !== undefined && record.seq >= seq) seq = record.seq + 1;
      }
      const record: SubscriptionRequestRecord = { stanza: request.stanza, createdAt: request.createdAt, seq };
      void this.db.put([username, request.from], record);
    }));
  }

  async remove(username: string, from: string): Promise<boolean> {
    return guard('subscription request remove', () => this.db.transaction(() => {
      if (!this.db.doesExist([username, from])) return false;
      void this.db.remove([username, from]);
      return true;
    }));
  }

  async list(username: string): Promise<SubscriptionRequest[]> {
    return guard('subscription request list', () => {
      const found: Array<SubscriptionRequest & { seq: number }> = [];
      for (const { key, value } of this.db.getRange(userRange(username))) {
        const from = key[1];
        const record = parseRequestRecord(value);
        if (typeof from !== 'string' || record === undefined) throw corrupt(`a subscription request to "${username}"`);
        found.push({ from, stanza: record.stanza, createdAt: record.createdAt, seq: record.seq });
      }
      found.sort((a, b) => a.createdAt - b.createdAt || a.seq - b.seq);
      return found.map(({ from, stanza, createdAt }) => ({ from, stanza, createdAt }));
    });
  }

  removeUserData(username: string): void {
    for (const key of userKeys(this.db, username)) void this.db.remove(key);
  }
}
