// Push registrations (XEP-0357) in the embedded (LMDB) store: sub-database `push_registrations` keyed by
// [username, jid, node], so one account's registrations are one contiguous key range. A write checks the
// account in the same transaction, so nothing is left for a later account of the same name.
import type { Database } from 'lmdb';
import { ServerError } from '../../../src/errors.js';
import { accountExists, guard, type EmbeddedEnv, type UserDataOwner } from '../../../src/modules/api.js';
import type { NewRegistration, PushRegistration, PushStore } from './types.js';

type RegistrationKey = [string, string, string];

/** What is kept under a key (the jid and node are the key). */
interface Record {
  options?: string;
  includeBody: boolean;
  resource?: string;
  enabledAt: number;
  count: number;
}

function parseRecord(key: RegistrationKey, value: unknown): PushRegistration {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { options, includeBody, resource, enabledAt, count } = value as { [k: string]: unknown };
    if (
      (options === undefined || typeof options === 'string') &&
      typeof includeBody === 'boolean' &&
      (resource === undefined || typeof resource === 'string') &&
      typeof enabledAt === 'number' &&
      typeof count === 'number'
    ) {
      return { jid: key[1], node: key[2], ...(options === undefined ? {} : { options }), includeBody, ...(resource === undefined ? {} : { resource }), enabledAt, count };
    }
  }
  throw new ServerError('STORE_CORRUPT', `embedded store: the push registration ${key[1]} ${key[2]} of "${key[0]}" is not valid`);
}

function toRecord(r: PushRegistration | NewRegistration, count: number): Record {
  return { ...(r.options === undefined ? {} : { options: r.options }), includeBody: r.includeBody, ...(r.resource === undefined ? {} : { resource: r.resource }), enabledAt: r.enabledAt, count };
}

export class EmbeddedPushStore implements PushStore, UserDataOwner {
  private readonly db: Database<unknown, RegistrationKey>;
  private readonly accountExists: (username: string) => boolean;

  constructor(env: EmbeddedEnv) {
    this.db = env.openDB<unknown, RegistrationKey>({ name: 'push_registrations', cache: false });
    this.accountExists = accountExists(env);
  }

  async list(username: string): Promise<PushRegistration[]> {
    const found = await guard('push registrations list', () => this.range(username));
    return found.sort((a, b) => a.enabledAt - b.enabledAt || compare(a.jid, b.jid) || compare(a.node, b.node));
  }

  async enable(username: string, r: NewRegistration): Promise<void> {
    await guard('push enable', () => this.db.transaction(() => {
      if (this.accountExists(username)) void this.db.put([username, r.jid, r.node], toRecord(r, 0));
    }));
  }

  async disable(username: string, jid: string, node?: string): Promise<number> {
    return guard('push disable', () => this.db.transaction(() => {
      const keys = this.range(username).filter((r) => r.jid === jid && (node === undefined || r.node === node));
      for (const r of keys) void this.db.remove([username, r.jid, r.node]);
      return keys.length;
    }));
  }

  async bump(username: string, jid: string, node: string): Promise<number | undefined> {
    return guard('push count', () => this.db.transaction(() => {
      const key: RegistrationKey = [username, jid, node];
      const value = this.db.get(key);
      if (value === undefined) return undefined;
      const r = parseRecord(key, value);
      void this.db.put(key, toRecord(r, r.count + 1));
      return r.count + 1;
    }));
  }

  async resetCounts(username: string, resource: string): Promise<void> {
    await guard('push count reset', () => this.db.transaction(() => {
      for (const r of this.range(username)) if (r.resource === resource && r.count !== 0) void this.db.put([username, r.jid, r.node], toRecord(r, 0));
    }));
  }

  removeUserData(username: string): void {
    for (const r of this.range(username)) void this.db.remove([username, r.jid, r.node]);
  }

  /** [username] sorts before every [username, jid, node]; the range ends at the first other username. */
  private range(username: string): PushRegistration[] {
    const found: PushRegistration[] = [];
    for (const { key, value } of this.db.getRange({ start: [username] })) {
      if (key[0] !== username) break;
      found.push(parseRecord(key, value));
    }
    return found;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
