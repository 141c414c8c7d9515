// The archive in PostgreSQL (migrations/0013_mam_messages.sql): a page is one index range scan of at most
// max + 1 rows, on the primary key (owner, id) or on (owner, with_jid, id) for the `with` filter.
import { num, str, type Db, type Row } from '../../../src/modules/api.js';
import { idFloor } from '../ids.js';
import type { ArchivedMessage, ArchivePage, ArchivePrefs, ArchiveQuery, ArchiveStore } from './types.js';

function rowToMessage(owner: string, row: Row): ArchivedMessage {
  return { owner, id: str(row, 'id'), with: str(row, 'with_jid'), peer: str(row, 'peer'), timestamp: num(row, 'stamp'), stanza: str(row, 'stanza') };
}

function textArray(row: Row, column: string): string[] {
  const value = row[column];
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) throw new Error(`column ${column}: expected text[]`);
  return value;
}

export class PostgresArchiveStore implements ArchiveStore {
  constructor(private readonly db: Db) {}

  async append(batch: readonly ArchivedMessage[]): Promise<void> {
    if (batch.length === 0) return;
    await this.db.query(
      `INSERT INTO mam_messages (owner, id, with_jid, peer, stamp, stanza)
       SELECT owner, id, with_jid, peer, to_timestamp(ms / 1000.0), stanza
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::text[]) AS m(owner, id, with_jid, peer, ms, stanza)
       ON CONFLICT (owner, id) DO NOTHING`,
      [batch.map((m) => m.owner), batch.map((m) => m.id), batch.map((m) => m.with), batch.map((m) => m.peer), batch.map((m) => m.timestamp), batch.map((m) => m.stanza)],
    );
  }

  async query(q: ArchiveQuery): Promise<ArchivePage> {
    const params: unknown[] = [q.owner, q.after ?? '', q.before ?? '~'];
    let where = 'owner = $1 AND id > $2 AND id < $3';
    if (q.with !== undefined) {
      const slash = q.with.indexOf('/');
      params.push(q.withFull === true && slash !== -1 ? q.with.slice(0, slash) : q.with);
      where += ` AND with_jid = $${params.length}`;
      if (q.withFull === true) {
        params.push(q.with);
        where += ` AND peer = $${params.length}`;
      }
    }
    if (q.ids !== undefined) {
      params.push([...q.ids]);
      where += ` AND id = ANY($${params.length}::text[])`;
    }
    params.push(q.max + 1);
    const order = q.from === 'last' ? 'DESC' : 'ASC';
    const rows = await this.db.query(
      `SELECT id, with_jid, peer, (extract(epoch FROM stamp) * 1000)::float8 AS stamp, stanza FROM mam_messages WHERE ${where} ORDER BY id ${order} LIMIT $${params.length}`,
      params,
    );
    const complete = rows.length <= q.max;
    const messages = rows.slice(0, q.max).map((row) => rowToMessage(q.owner, { ...row, stamp: Math.round(Number(row.stamp)) }));
    if (q.from === 'last') messages.reverse();
    return { messages, complete };
  }

  async has(owner: string, id: string): Promise<boolean> {
    const rows = await this.db.query('SELECT 1 FROM mam_messages WHERE owner = $1 AND id = $2', [owner, id]);
    return rows.length > 0;
  }

  async getPrefs(owner: string): Promise<ArchivePrefs | undefined> {
    const [row] = await this.db.query('SELECT default_mode, always_jids, never_jids FROM mam_prefs WHERE owner = $1', [owner]);
    if (row === undefined) return undefined;
    const mode = str(row, 'default_mode');
    if (mode !== 'always' && mode !== 'never' && mode !== 'roster') throw new Error(`mam_prefs.default_mode: unexpected "${mode}"`);
    return { default: mode, always: textArray(row, 'always_jids'), never: textArray(row, 'never_jids') };
  }

  async setPrefs(owner: string, prefs: ArchivePrefs): Promise<void> {
    await this.db.query(
      `INSERT INTO mam_prefs (owner, default_mode, always_jids, never_jids) VALUES ($1, $2, $3, $4)
       ON CONFLICT (owner) DO UPDATE SET default_mode = EXCLUDED.default_mode, always_jids = EXCLUDED.always_jids, never_jids = EXCLUDED.never_jids`,
      [owner, prefs.default, [...prefs.always], [...prefs.never]],
    );
  }

  async purgeBefore(timestamp: number): Promise<number> {
    // Ids are time-ordered: the (id) index finds what is older.
    const [row] = await this.db.query('WITH gone AS (DELETE FROM mam_messages WHERE id < $1 RETURNING 1) SELECT count(*)::int AS n FROM gone', [idFloor(timestamp)]);
    return row === undefined ? 0 : num(row, 'n');
  }

  async scan(after: { owner: string; id: string } | undefined, limit: number): Promise<ArchivedMessage[]> {
    const columns = 'owner, id, with_jid, peer, (extract(epoch FROM stamp) * 1000)::float8 AS stamp, stanza';
    const rows =
      after === undefined
        ? await this.db.query(`SELECT ${columns} FROM mam_messages ORDER BY owner, id LIMIT $1`, [limit])
        : await this.db.query(`SELECT ${columns} FROM mam_messages WHERE (owner, id) > ($1, $2) ORDER BY owner, id LIMIT $3`, [after.owner, after.id, limit]);
    return rows.map((row) => rowToMessage(str(row, 'owner'), { ...row, stamp: Math.round(Number(row.stamp)) }));
  }

  async allPrefs(): Promise<Array<{ owner: string; prefs: ArchivePrefs }>> {
    const rows = await this.db.query('SELECT owner FROM mam_prefs ORDER BY owner');
    const out: Array<{ owner: string; prefs: ArchivePrefs }> = [];
    for (const row of rows) {
      const owner = str(row, 'owner');
      const prefs = await this.getPrefs(owner);
      if (prefs !== undefined) out.push({ owner, prefs });
    }
    return out;
  }

  async removeOwner(owner: string): Promise<void> {
    await this.db.query('DELETE FROM mam_messages WHERE owner = $1', [owner]);
    await this.db.query('DELETE FROM mam_prefs WHERE owner = $1', [owner]);
  }
}
