// Private XML (XEP-0049) in the embedded (LMDB) store: sub-database `private_xml` keyed by
// [username, key], so one user's fragments are one contiguous key range; serialised XML kept as is.
import type { Database } from 'lmdb';
import { ServerError } from '../../../src/errors.js';
import { guard, type EmbeddedEnv, type UserDataOwner } from '../../../src/modules/api.js';
import type { PrivateXmlStore } from './types.js';

function xmlValue(value: unknown, what: string): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  throw new ServerError('STORE_CORRUPT', `embedded store: ${what} is not valid`);
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

  async entries(username: string): Promise<Array<{ key: string; xml: string }>> {
    return guard('private XML entries', () => {
      const found: Array<{ key: string; xml: string }> = [];
      for (const { key, value } of this.db.getRange({ start: [username] })) {
        if (key[0] !== username) break;
        found.push({ key: key[1], xml: xmlValue(value, `the private XML "${key[1]}" of "${username}"`) ?? '' });
      }
      return found;
    });
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
