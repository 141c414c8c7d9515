// Privacy lists (XEP-0016) and the block list (XEP-0191) in the embedded (LMDB) store. Each user's
// data is one record keyed by the username, so every change is a read-modify-write of that record
// inside an LMDB write transaction: replacing a list's items, and deleting the default list
// together with the default, are atomic even when several processes share the files. Both are
// small (a handful of lists, a block list of at most a few thousand JIDs).
import type { Database } from 'lmdb';
import { ServerError } from '../../../src/errors.js';
import { guard, type EmbeddedEnv, type UserDataOwner } from '../../../src/modules/api.js';
import type { BlockListStore, PrivacyItem, PrivacyStore } from './types.js';

type UserDb = Database<unknown, string>;

/** The stored record: lists sorted by name (code point), items as written. */
interface PrivacyRecord {
  lists: Array<{ name: string; items: PrivacyItem[] }>;
  default?: string;
}

/** Code point order, which is also the order of LMDB keys and of PostgreSQL's "C" collation. */
function byCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function corrupt(what: string, username: string): ServerError {
  return new ServerError('STORE_CORRUPT', `embedded store: the ${what} of user "${username}" is not valid`);
}

type ItemType = NonNullable<PrivacyItem['type']>;

function isItemType(value: unknown): value is ItemType {
  return value === 'jid' || value === 'group' || value === 'subscription';
}

/** The elements of `value` if it is an array, typed as unknown. */
function arrayOf(value: unknown): unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

function parseItem(value: unknown): PrivacyItem | undefined {
  if (!isRecord(value)) return undefined;
  const { type, action, order, message, iq, presenceIn, presenceOut } = value;
  const itemValue = value.value;
  if (type !== undefined && !isItemType(type)) return undefined;
  if (itemValue !== undefined && typeof itemValue !== 'string') return undefined;
  if (action !== 'allow' && action !== 'deny') return undefined;
  if (typeof order !== 'number' || !Number.isSafeInteger(order)) return undefined;
  if (typeof message !== 'boolean' || typeof iq !== 'boolean' || typeof presenceIn !== 'boolean' || typeof presenceOut !== 'boolean') return undefined;
  const item: PrivacyItem = { action, order, message, iq, presenceIn, presenceOut };
  if (type !== undefined) item.type = type;
  if (itemValue !== undefined) item.value = itemValue;
  return item;
}

/** A copy holding only the item's own fields, so nothing foreign is written. */
function cleanItem(item: PrivacyItem): PrivacyItem {
  const copy: PrivacyItem = {
    action: item.action,
    order: item.order,
    message: item.message,
    iq: item.iq,
    presenceIn: item.presenceIn,
    presenceOut: item.presenceOut,
  };
  if (item.type !== undefined) copy.type = item.type;
  if (item.value !== undefined) copy.value = item.value;
  return copy;
}

function parsePrivacyRecord(value: unknown): PrivacyRecord | undefined {
  if (!isRecord(value)) return undefined;
  const rawLists = arrayOf(value.lists);
  if (rawLists === undefined) return undefined;
  const lists: PrivacyRecord['lists'] = [];
  for (const list of rawLists) {
    if (!isRecord(list) || typeof list.name !== 'string') return undefined;
    const rawItems = arrayOf(list.items);
    if (rawItems === undefined) return undefined;
    const items: PrivacyItem[] = [];
    for (const raw of rawItems) {
      const item = parseItem(raw);
      if (item === undefined) return undefined;
      items.push(item);
    }
    lists.push({ name: list.name, items });
  }
  const record: PrivacyRecord = { lists };
  if (value.default !== undefined) {
    if (typeof value.default !== 'string' || !lists.some((l) => l.name === value.default)) return undefined;
    record.default = value.default;
  }
  return record;
}

export class EmbeddedPrivacyStore implements PrivacyStore, UserDataOwner {
  private readonly db: UserDb;

  constructor(env: EmbeddedEnv) {
    this.db = env.openDB<unknown, string>({ name: 'privacy', cache: false });
  }

  async names(username: string): Promise<{ lists: string[]; default?: string }> {
    return guard('privacy names', () => {
      const record = this.read(username);
      const result: { lists: string[]; default?: string } = { lists: record.lists.map((l) => l.name) };
      if (record.default !== undefined) result.default = record.default;
      return result;
    });
  }

  async getList(username: string, name: string): Promise<PrivacyItem[] | undefined> {
    return guard('privacy getList', () => {
      const list = this.read(username).lists.find((l) => l.name === name);
      // Array.prototype.sort is stable: items with the same order keep the order they were written in.
      return list === undefined ? undefined : [...list.items].sort((a, b) => a.order - b.order);
    });
  }

  async setList(username: string, name: string, items: readonly PrivacyItem[]): Promise<void> {
    const stored = items.map(cleanItem);
    await guard('privacy setList', () => this.db.transaction(() => {
      const record = this.read(username);
      const lists = record.lists.filter((l) => l.name !== name);
      lists.push({ name, items: stored });
      lists.sort((a, b) => byCodePoint(a.name, b.name));
      this.write(username, { ...record, lists });
    }));
  }

  async deleteList(username: string, name: string): Promise<boolean> {
    return guard('privacy deleteList', () => this.db.transaction(() => {
      const record = this.read(username);
      const lists = record.lists.filter((l) => l.name !== name);
      if (lists.length === record.lists.length) return false;
      const updated: PrivacyRecord = { lists };
      if (record.default !== undefined && record.default !== name) updated.default = record.default;
      this.write(username, updated);
      return true;
    }));
  }

  async setDefault(username: string, name: string | undefined): Promise<boolean> {
    return guard('privacy setDefault', () => this.db.transaction(() => {
      const record = this.read(username);
      if (name === undefined) {
        if (record.default !== undefined) this.write(username, { lists: record.lists });
        return true;
      }
      if (!record.lists.some((l) => l.name === name)) return false;
      this.write(username, { lists: record.lists, default: name });
      return true;
    }));
  }

  removeUserData(username: string): void {
    void this.db.remove(username);
  }

  private read(username: string): PrivacyRecord {
    const value = this.db.get(username);
    if (value === undefined) return { lists: [] };
    const record = parsePrivacyRecord(value);
    if (record === undefined) throw corrupt('privacy lists', username);
    return record;
  }

  /** Writes the record, or removes it when nothing is left in it. */
  private write(username: string, record: PrivacyRecord): void {
    if (record.lists.length === 0) void this.db.remove(username);
    else void this.db.put(username, record);
  }
}

export class EmbeddedBlockListStore implements BlockListStore, UserDataOwner {
  private readonly db: UserDb;

  constructor(env: EmbeddedEnv) {
    this.db = env.openDB<unknown, string>({ name: 'blocklist', cache: false });
  }

  async list(username: string): Promise<string[]> {
    return guard('blocklist list', () => this.read(username));
  }

  async block(username: string, jids: readonly string[]): Promise<string[]> {
    if (jids.length === 0) return [];
    return guard('blocklist block', () => this.db.transaction(() => {
      const blocked = new Set(this.read(username));
      const added: string[] = [];
      for (const jid of jids) {
        if (blocked.has(jid)) continue;
        blocked.add(jid);
        added.push(jid);
      }
      if (added.length > 0) this.write(username, [...blocked]);
      return added;
    }));
  }

  async unblock(username: string, jids: readonly string[] | 'all'): Promise<string[]> {
    if (jids !== 'all' && jids.length === 0) return [];
    return guard('blocklist unblock', () => this.db.transaction(() => {
      const current = this.read(username);
      if (jids === 'all') {
        if (current.length > 0) void this.db.remove(username);
        return current;
      }
      const blocked = new Set(current);
      const removed: string[] = [];
      for (const jid of jids) {
        if (blocked.delete(jid)) removed.push(jid);
      }
      if (removed.length > 0) this.write(username, [...blocked]);
      return removed;
    }));
  }

  removeUserData(username: string): void {
    void this.db.remove(username);
  }

  /** The blocked JIDs, sorted. */
  private read(username: string): string[] {
    const value = this.db.get(username);
    if (value === undefined) return [];
    const jids = arrayOf(value);
    if (jids === undefined || !jids.every((jid): jid is string => typeof jid === 'string')) throw corrupt('block list', username);
    return jids;
  }

  private write(username: string, jids: string[]): void {
    if (jids.length === 0) void this.db.remove(username);
    else void this.db.put(username, jids.sort(byCodePoint));
  }
}
