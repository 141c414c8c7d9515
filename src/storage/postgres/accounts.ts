// Accounts in PostgreSQL: the users table of migration 0001. Deleting a user removes what other
// tables keep for it, the core's and the modules', by their foreign keys ON DELETE CASCADE.
import type { ScramCredential, StoredCredentials } from '../../auth/credentials.js';
import type { Account, AccountStore } from '../types.js';
import { num, str, type Db, type Row } from './db.js';

const COLUMNS = `username, sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key,
  sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key, created_at`;

export function credentialParams(c: StoredCredentials): unknown[] {
  return [c.sha1.salt, c.sha1.iterations, c.sha1.storedKey, c.sha1.serverKey, c.sha256.salt, c.sha256.iterations, c.sha256.storedKey, c.sha256.serverKey];
}

function credential(row: Row, prefix: 'sha1' | 'sha256'): ScramCredential {
  return {
    salt: str(row, `${prefix}_salt`),
    iterations: num(row, `${prefix}_iterations`),
    storedKey: str(row, `${prefix}_stored_key`),
    serverKey: str(row, `${prefix}_server_key`),
  };
}

export class PostgresAccountStore implements AccountStore {
  constructor(private readonly db: Db) {}

  async create(username: string, credentials: StoredCredentials): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO users (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now()) ON CONFLICT (username) DO NOTHING RETURNING username`,
      [username, ...credentialParams(credentials)],
    );
    return rows.length === 1;
  }

  async get(username: string): Promise<Account | undefined> {
    const [row] = await this.db.query(`SELECT ${COLUMNS} FROM users WHERE username = $1`, [username]);
    if (!row) return undefined;
    return { username: str(row, 'username'), credentials: { sha1: credential(row, 'sha1'), sha256: credential(row, 'sha256') }, createdAt: num(row, 'created_at') };
  }

  async exists(username: string): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM users WHERE username = $1', [username])).length === 1;
  }

  async setCredentials(username: string, credentials: StoredCredentials): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE users SET sha1_salt = $2, sha1_iterations = $3, sha1_stored_key = $4, sha1_server_key = $5,
         sha256_salt = $6, sha256_iterations = $7, sha256_stored_key = $8, sha256_server_key = $9
       WHERE username = $1 RETURNING username`,
      [username, ...credentialParams(credentials)],
    );
    return rows.length === 1;
  }

  async delete(username: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM users WHERE username = $1 RETURNING username', [username]);
    return rows.length === 1;
  }

  async list(options: { after?: string; limit?: number } = {}): Promise<string[]> {
    const limit = Math.min(Math.max(Math.trunc(options.limit ?? 100), 0), 10_000);
    if (limit === 0) return [];
    const rows = options.after === undefined
      ? await this.db.query('SELECT username FROM users ORDER BY username COLLATE "C" LIMIT $1', [limit])
      : await this.db.query('SELECT username FROM users WHERE username COLLATE "C" > $1 ORDER BY username COLLATE "C" LIMIT $2', [options.after, limit]);
    return rows.map((r) => str(r, 'username'));
  }

  async count(): Promise<number> {
    const [row] = await this.db.query('SELECT count(*)::bigint AS n FROM users');
    return row ? num(row, 'n') : 0;
  }
}
