// Accounts in PostgreSQL: the users table of migration 0001. Deleting a user removes what other
// tables keep for it, the core's and the modules', by their foreign keys ON DELETE CASCADE.
import { SCRAM_HASHES, type ScramCredential, type ScramHash, type StoredCredentials } from '../../auth/credentials.js';
import { ServerError } from '../../errors.js';
import type { Account, AccountStore } from '../types.js';
import { num, str, type Db, type Row } from './db.js';

/** Four columns per hash (migration 0021 added SHA-512 and made every hash's columns nullable). */
export const CREDENTIAL_COLUMNS = SCRAM_HASHES.map((h) => `${h}_salt, ${h}_iterations, ${h}_stored_key, ${h}_server_key`).join(', ');
const COLUMNS = `username, ${CREDENTIAL_COLUMNS}, created_at`;

/** The values of CREDENTIAL_COLUMNS, null for a hash without keys. */
export function credentialParams(c: StoredCredentials): unknown[] {
  return SCRAM_HASHES.flatMap((h) => {
    const k = c[h];
    return k ? [k.salt, k.iterations, k.storedKey, k.serverKey] : [null, null, null, null];
  });
}

function credential(row: Row, prefix: ScramHash): ScramCredential | undefined {
  if (row[`${prefix}_salt`] === null || row[`${prefix}_salt`] === undefined) return undefined;
  return {
    salt: str(row, `${prefix}_salt`),
    iterations: num(row, `${prefix}_iterations`),
    storedKey: str(row, `${prefix}_stored_key`),
    serverKey: str(row, `${prefix}_server_key`),
  };
}

function credentials(row: Row): StoredCredentials {
  const result: StoredCredentials = {};
  for (const hash of SCRAM_HASHES) {
    const c = credential(row, hash);
    if (c) result[hash] = c;
  }
  if (Object.keys(result).length === 0) throw new ServerError('STORE_CORRUPT', `PostgreSQL: account "${str(row, 'username')}" has no SCRAM keys`);
  return result;
}

function requireSome(c: StoredCredentials): void {
  if (!SCRAM_HASHES.some((h) => c[h] !== undefined)) throw new Error('credentials without keys for any SCRAM hash');
}

const PARAMS = SCRAM_HASHES.flatMap((_h, i) => [0, 1, 2, 3].map((j) => `$${2 + i * 4 + j}`)).join(', ');
const ASSIGNMENTS = SCRAM_HASHES.flatMap((h, i) => ['salt', 'iterations', 'stored_key', 'server_key'].map((col, j) => `${h}_${col} = $${2 + i * 4 + j}`)).join(', ');

export class PostgresAccountStore implements AccountStore {
  constructor(private readonly db: Db) {}

  async create(username: string, credentials: StoredCredentials): Promise<boolean> {
    requireSome(credentials);
    const rows = await this.db.query(
      `INSERT INTO users (${COLUMNS}) VALUES ($1, ${PARAMS}, now()) ON CONFLICT (username) DO NOTHING RETURNING username`,
      [username, ...credentialParams(credentials)],
    );
    return rows.length === 1;
  }

  async get(username: string): Promise<Account | undefined> {
    const [row] = await this.db.query(`SELECT ${COLUMNS} FROM users WHERE username = $1`, [username]);
    if (!row) return undefined;
    return { username: str(row, 'username'), credentials: credentials(row), createdAt: num(row, 'created_at') };
  }

  async exists(username: string): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM users WHERE username = $1', [username])).length === 1;
  }

  async setCredentials(username: string, credentials: StoredCredentials): Promise<boolean> {
    requireSome(credentials);
    const rows = await this.db.query(
      `UPDATE users SET ${ASSIGNMENTS} WHERE username = $1 RETURNING username`,
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
