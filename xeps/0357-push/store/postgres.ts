// Push registrations (XEP-0357) in PostgreSQL: table push_registrations of migration 0010, removed with the
// account by its foreign key. An enable for a username with no account inserts nothing.
import { bool, num, optStr, str, type Db, type Row } from '../../../src/modules/api.js';
import type { NewRegistration, PushRegistration, PushStore } from './types.js';

function registration(row: Row): PushRegistration {
  const options = optStr(row, 'options');
  const resource = optStr(row, 'resource');
  return {
    jid: str(row, 'jid'),
    node: str(row, 'node'),
    ...(options === undefined ? {} : { options }),
    includeBody: bool(row, 'include_body'),
    ...(resource === undefined ? {} : { resource }),
    enabledAt: num(row, 'enabled_at'),
    count: num(row, 'count'),
  };
}

export class PostgresPushStore implements PushStore {
  constructor(private readonly db: Db) {}

  async list(username: string): Promise<PushRegistration[]> {
    const rows = await this.db.query(
      'SELECT jid, node, options, include_body, resource, enabled_at, count FROM push_registrations WHERE username = $1 ORDER BY enabled_at, jid, node',
      [username],
    );
    return rows.map(registration);
  }

  async enable(username: string, r: NewRegistration): Promise<void> {
    // A Date keeps the millisecond exactly.
    await this.db.query(
      `INSERT INTO push_registrations (username, jid, node, options, include_body, resource, enabled_at, count)
       SELECT $1, $2, $3, $4, $5, $6, $7, 0 WHERE EXISTS (SELECT 1 FROM users WHERE username = $1)
       ON CONFLICT (username, jid, node) DO UPDATE SET options = EXCLUDED.options, include_body = EXCLUDED.include_body,
         resource = EXCLUDED.resource, enabled_at = EXCLUDED.enabled_at, count = 0`,
      [username, r.jid, r.node, r.options ?? null, r.includeBody, r.resource ?? null, new Date(r.enabledAt)],
    );
  }

  async disable(username: string, jid: string, node?: string): Promise<number> {
    const rows =
      node === undefined
        ? await this.db.query('DELETE FROM push_registrations WHERE username = $1 AND jid = $2 RETURNING node', [username, jid])
        : await this.db.query('DELETE FROM push_registrations WHERE username = $1 AND jid = $2 AND node = $3 RETURNING node', [username, jid, node]);
    return rows.length;
  }

  async bump(username: string, jid: string, node: string): Promise<number | undefined> {
    const [row] = await this.db.query(
      'UPDATE push_registrations SET count = count + 1 WHERE username = $1 AND jid = $2 AND node = $3 RETURNING count',
      [username, jid, node],
    );
    return row ? num(row, 'count') : undefined;
  }

  async resetCounts(username: string, resource: string): Promise<void> {
    await this.db.query('UPDATE push_registrations SET count = 0 WHERE username = $1 AND resource = $2 AND count <> 0', [username, resource]);
  }
}
