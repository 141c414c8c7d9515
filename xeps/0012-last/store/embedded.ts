// Last activity (XEP-0012) in the embedded (LMDB) store: sub-database `last_activity` keyed by
// username → { timestamp, status? }. A write checks the account in the same transaction, so a
// session that ends after its account was deleted leaves nothing behind for a later namesake.
import type { Database } from 'lmdb';
import { ServerError } from '../../../src/errors.js';
import { accountExists, guard, type EmbeddedEnv, type UserDataOwner } from '../../../src/modules/api.js';
import type { LastActivity, LastActivityStore } from './types.js';

function parseRecord(username: string, value: unknown): LastActivity | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { timestamp, status } = value as Record<string, unknown>;
    if (typeof timestamp === 'number' && Number.isFinite(timestamp) && (status === undefined || typeof status === 'string')) {
      return status === undefined ? { timestamp } : { timestamp, status };
    }
  }
  throw new ServerError('STORE_CORRUPT', `embedded store: the last activity of "${username}" is not valid`);
}

export class EmbeddedLastActivityStore implements LastActivityStore, UserDataOwner {
  private readonly db: Database<unknown, string>;
  private readonly accountExists: (username: string) => boolean;

  constructor(env: EmbeddedEnv) {
    this.db = env.openDB<unknown, string>({ name: 'last_activity', cache: false });
    this.accountExists = accountExists(env);
  }

  async get(username: string): Promise<LastActivity | undefined> {
    const value = await guard('last activity get', () => this.db.get(username));
    return parseRecord(username, value);
  }

  async set(username: string, value: LastActivity): Promise<void> {
    const record: LastActivity = value.status === undefined ? { timestamp: value.timestamp } : { timestamp: value.timestamp, status: value.status };
    await guard('last activity set', () => this.db.transaction(() => {
      if (this.accountExists(username)) void this.db.put(username, record);
    }));
  }

  removeUserData(username: string): void {
    void this.db.remove(username);
  }
}
