// vCards (XEP-0054) in PostgreSQL: the vcards table of migrations/0004_im_vcard_private.sql, removed
// with the account by its foreign key.
import { str, type Db } from '../../../src/modules/api.js';
import type { VCardStore } from './types.js';

export class PostgresVCardStore implements VCardStore {
  constructor(private readonly db: Db) {}

  async get(username: string): Promise<string | undefined> {
    const [row] = await this.db.query('SELECT vcard FROM vcards WHERE username = $1', [username]);
    return row ? str(row, 'vcard') : undefined;
  }

  async set(username: string, vcard: string): Promise<void> {
    await this.db.query(
      `INSERT INTO vcards (username, vcard) VALUES ($1, $2)
       ON CONFLICT (username) DO UPDATE SET vcard = EXCLUDED.vcard, updated_at = now()`,
      [username, vcard],
    );
  }

  async delete(username: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM vcards WHERE username = $1 RETURNING username', [username]);
    return rows.length === 1;
  }
}
