// vCards (XEP-0054) in the embedded (LMDB) store: sub-database `vcards` keyed by username, the
// serialised <vCard/> kept as is.
import type { Database } from 'lmdb';
import { ServerError } from '../../../src/errors.js';
import { guard, type EmbeddedEnv, type UserDataOwner } from '../../../src/modules/api.js';
import type { VCardStore } from './types.js';

function xmlValue(value: unknown, what: string): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  throw new ServerError('STORE_CORRUPT', `embedded store: ${what} is not valid`);
}

export class EmbeddedVCardStore implements VCardStore, UserDataOwner {
  private readonly db: Database<unknown, string>;

  constructor(env: EmbeddedEnv) {
    this.db = env.openDB<unknown, string>({ name: 'vcards', cache: false });
  }

  async get(username: string): Promise<string | undefined> {
    const value = await guard('vcard get', () => this.db.get(username));
    return xmlValue(value, `the vCard of "${username}"`);
  }

  async set(username: string, vcard: string): Promise<void> {
    await guard('vcard set', () => this.db.put(username, vcard));
  }

  async delete(username: string): Promise<boolean> {
    return guard('vcard delete', () => this.db.transaction(() => {
      if (!this.db.doesExist(username)) return false;
      void this.db.remove(username);
      return true;
    }));
  }

  removeUserData(username: string): void {
    void this.db.remove(username);
  }
}
