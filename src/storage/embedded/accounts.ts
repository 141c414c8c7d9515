// Accounts in the embedded (LMDB) store: one sub-database keyed by the normalised username,
// each value an AccountRecord encoded with msgpack. Writes that depend on what is stored run
// inside LMDB write transactions, so they stay atomic when several processes share the files.
import type { Database } from 'lmdb';
import type { StoredCredentials } from '../../auth/credentials.js';
import { ServerError } from '../../errors.js';
import { parseAccountRecord, type AccountRecord } from '../records.js';
import type { Account, AccountStore } from '../types.js';
import { guard, type UserDataOwner } from './env.js';

/** The sub-database as opened: values arrive as unknown and are validated on read. */
export type AccountsDb = Database<unknown, string>;

const DEFAULT_PAGE = 100;
const MAX_PAGE = 10_000;

export class EmbeddedAccountStore implements AccountStore {
  constructor(private readonly db: AccountsDb, private readonly owners: readonly UserDataOwner[] = []) {}

  async create(username: string, credentials: StoredCredentials): Promise<boolean> {
    const record: AccountRecord = { credentials, createdAt: Date.now() };
    // ifNoExists checks and writes in the same write transaction, so concurrent creators
    // (in this process or another) cannot both win.
    return guard('create', () => this.db.ifNoExists(username, () => void this.db.put(username, record)));
  }

  async get(username: string): Promise<Account | undefined> {
    const value = await guard('get', () => this.db.get(username));
    if (value === undefined) return undefined;
    const record = this.parse(username, value);
    return { username, credentials: record.credentials, createdAt: record.createdAt };
  }

  async exists(username: string): Promise<boolean> {
    return guard('exists', () => this.db.doesExist(username));
  }

  async setCredentials(username: string, credentials: StoredCredentials): Promise<boolean> {
    return guard('setCredentials', () => this.db.transaction(() => {
      const value = this.db.get(username);
      if (value === undefined) return false;
      const record: AccountRecord = { ...this.parse(username, value), credentials };
      void this.db.put(username, record);
      return true;
    }));
  }

  async delete(username: string): Promise<boolean> {
    return guard('delete', () => this.db.transaction(() => {
      if (!this.db.doesExist(username)) return false;
      void this.db.remove(username);
      for (const owner of this.owners) owner.removeUserData(username);
      return true;
    }));
  }

  async list(options: { after?: string; limit?: number } = {}): Promise<string[]> {
    const limit = Math.min(Math.max(Math.trunc(options.limit ?? DEFAULT_PAGE), 0), MAX_PAGE);
    if (limit === 0) return [];
    const { after } = options;
    return guard('list', () => {
      const names: string[] = [];
      // `start` is inclusive; skip `after` itself when it is a stored key.
      for (const key of this.db.getKeys(after === undefined ? {} : { start: after })) {
        if (key === after) continue;
        if (typeof key !== 'string') continue; // keys are only ever usernames; ignore anything foreign
        names.push(key);
        if (names.length === limit) break;
      }
      return names;
    });
  }

  async count(): Promise<number> {
    return guard('count', () => this.db.getCount());
  }

  private parse(username: string, value: unknown): AccountRecord {
    const record = parseAccountRecord(value);
    if (record === undefined) throw new ServerError('STORE_CORRUPT', `embedded store: the record of account "${username}" is not valid`);
    return record;
  }
}
