// vCards (XEP-0054) and private XML (XEP-0049) in PostgreSQL: tables vcards and private_xml of
// migration 0004, removed with the account by their foreign keys.
import type { PrivateXmlStore, VCardStore } from '../types.js';
import { str, type Db } from './db.js';

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

  async delete(username: string, key: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM private_xml WHERE username = $1 AND key = $2 RETURNING key', [username, key]);
    return rows.length === 1;
  }
}
