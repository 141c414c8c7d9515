// Last activity (XEP-0012) in PostgreSQL: table last_activity of migration 0008, removed with the
// account by its foreign key. A write for a username with no account inserts nothing.
import type { LastActivity, LastActivityStore } from './types.js';
import { num, optStr, type Db } from '../../../src/modules/api.js';

export class PostgresLastActivityStore implements LastActivityStore {
  constructor(private readonly db: Db) {}

  async get(username: string): Promise<LastActivity | undefined> {
    const [row] = await this.db.query('SELECT seen_at, status FROM last_activity WHERE username = $1', [username]);
    if (!row) return undefined;
    const status = optStr(row, 'status');
    const timestamp = num(row, 'seen_at');
    return status === undefined ? { timestamp } : { timestamp, status };
  }

  async set(username: string, value: LastActivity): Promise<void> {
    // A Date keeps the millisecond exactly (a float of seconds would not).
    await this.db.query(
      `INSERT INTO last_activity (username, seen_at, status)
       SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM users WHERE username = $1)
       ON CONFLICT (username) DO UPDATE SET seen_at = EXCLUDED.seen_at, status = EXCLUDED.status`,
      [username, new Date(value.timestamp), value.status ?? null],
    );
  }
}
