// vCards (XEP-0054) and private XML (XEP-0049) in the embedded (LMDB) store: serialised XML kept
// as is. Sub-database `vcards` is keyed by username; `private_xml` by [username, key], so one
// user's fragments are one contiguous key range.
import type { Database } from 'lmdb';
import { ServerError } from '../../errors.js';
import type { PrivateXmlStore, VCardStore } from '../types.js';
import { guard, type EmbeddedEnv, type UserDataOwner } from './env.js';

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

type PrivateKey = [string, string];

export class EmbeddedPrivateXmlStore implements PrivateXmlStore, UserDataOwner {
  private readonly db: Database<unknown, PrivateKey>;

  constructor(env: EmbeddedEnv) {
    this.db = env.openDB<unknown, PrivateKey>({ name: 'private_xml', cache: false });
  }

  async get(username: string, key: string): Promise<string | undefined> {
    const value = await guard('private XML get', () => this.db.get([username, key]));
    return xmlValue(value, `the private XML "${key}" of "${username}"`);
  }

  async set(username: string, key: string, xml: string): Promise<void> {
    await guard('private XML set', () => this.db.put([username, key], xml));
  }

  async delete(username: string, key: string): Promise<boolean> {
    return guard('private XML delete', () => this.db.transaction(() => {
      if (!this.db.doesExist([username, key])) return false;
      void this.db.remove([username, key]);
      return true;
    }));
  }

  removeUserData(username: string): void {
    // [username] sorts before every [username, key]; the user's range ends at the first other username.
    const keys: PrivateKey[] = [];
    for (const key of this.db.getKeys({ start: [username] })) {
      if (key[0] !== username) break;
      keys.push(key);
    }
    for (const key of keys) void this.db.remove(key);
  }
}
