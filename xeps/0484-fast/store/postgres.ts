// FAST tokens in PostgreSQL: table fast_tokens of migration 0024, removed with the account.
import { num, str, type Db, type Row } from '../../../src/modules/api.js';
import type { FastTokenRecord, FastTokenStore } from './types.js';

function record(row: Row): FastTokenRecord {
  return { mechanism: str(row, 'mechanism'), verifier: str(row, 'verifier'), responder: str(row, 'responder'), expiresAt: num(row, 'expires_ms'), credential: str(row, 'credential') };
}

const COLUMNS = 'mechanism, verifier, responder, (extract(epoch from expires_at) * 1000)::float8 AS expires_ms, credential';

export class PostgresFastTokenStore implements FastTokenStore {
  constructor(private readonly db: Db) {}

  async put(username: string, agent: string, r: FastTokenRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO fast_tokens (username, agent, mechanism, verifier, responder, expires_at, credential)
       SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM users WHERE username = $1)
       ON CONFLICT (username, agent) DO UPDATE SET mechanism = EXCLUDED.mechanism, verifier = EXCLUDED.verifier,
         responder = EXCLUDED.responder, expires_at = EXCLUDED.expires_at, credential = EXCLUDED.credential`,
      [username, agent, r.mechanism, r.verifier, r.responder, new Date(r.expiresAt), r.credential],
    );
  }

  async get(username: string, agent: string): Promise<FastTokenRecord | undefined> {
    const [row] = await this.db.query(`SELECT ${COLUMNS} FROM fast_tokens WHERE username = $1 AND agent = $2`, [username, agent]);
    return row ? record(row) : undefined;
  }

  async take(username: string, agent: string, verifier: string): Promise<FastTokenRecord | undefined> {
    const [row] = await this.db.query(`DELETE FROM fast_tokens WHERE username = $1 AND agent = $2 AND verifier = $3 RETURNING ${COLUMNS}`, [username, agent, verifier]);
    return row ? record(row) : undefined;
  }

  async revoke(username: string, agent?: string): Promise<number> {
    const rows = agent === undefined
      ? await this.db.query('DELETE FROM fast_tokens WHERE username = $1 RETURNING 1', [username])
      : await this.db.query('DELETE FROM fast_tokens WHERE username = $1 AND agent = $2 RETURNING 1', [username, agent]);
    return rows.length;
  }
}
