// Private XML (XEP-0049) in PostgreSQL: the private_xml table (migrations/0009_private_xml.sql, created
// by 0004 on databases older than the move), removed with the account by its foreign key.
import { str, type Db } from '../../../src/modules/api.js';
import type { PrivateXmlStore } from './types.js';

export class PostgresPrivateXmlStore implements PrivateXmlStore {
  constructor(private readonly db: Db) {}

  async get(username: string, key: string): Promise<string | undefined> {
    const [row] = await this.db.query('SELECT xml FROM private_xml WHERE username = $1 AND key = $2', [username, key]);
    return row ? str(row, 'xml') : undefined;
  }

  async set(username: string, key: string, xml: string): Promise<void> {
    await this.db.query(
      `INSERT INTO private_xml (username, key, xml) VALUES ($1, $2, $3)
       ON CONFLICT (username, key) DO UPDATE SET xml = EXCLUDED.xml, updated_at = now()`,
      [username, key, xml],
    );
  }

  async entries(username: string): Promise<Array<{ key: string; xml: string }>> {
    const rows = await this.db.query('SELECT key, xml FROM private_xml WHERE username = $1 ORDER BY key COLLATE "C"', [username]);
    return rows.map((r) => ({ key: str(r, 'key'), xml: str(r, 'xml') }));
  }

  async delete(username: string, key: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM private_xml WHERE username = $1 AND key = $2 RETURNING key', [username, key]);
    return rows.length === 1;
  }
}
