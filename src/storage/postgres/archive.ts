// The message archive (XEP-0313, paged per XEP-0059) in PostgreSQL: table archive of migration
// 0007. A query counts its matches and reads one page in a single statement, so both come from
// the same snapshot; the page is read through the (owner, id) or (owner, with_jid, id) index.
import type { ArchivedMessage, ArchivePage, ArchiveQuery, ArchiveStore } from '../types.js';
import { num, str, type Db, type Row } from './db.js';

/** Largest page a query returns, whatever it asks for. */
const MAX_PAGE = 250;
/** Ids are bigserial values; anything else cannot name a stored message. */
const ID = /^[1-9]\d{0,17}$/;

function pageSize(limit: number): number {
  return Number.isFinite(limit) ? Math.min(Math.max(Math.trunc(limit), 0), MAX_PAGE) : 0;
}

function message(owner: string, row: Row): ArchivedMessage {
  return { id: str(row, 'id'), owner, with: str(row, 'with_jid'), timestamp: num(row, 'ts'), stanza: str(row, 'stanza') };
}

export class PostgresArchiveStore implements ArchiveStore {
  constructor(private readonly db: Db) {}

  async append(m: Omit<ArchivedMessage, 'id'>): Promise<string> {
    const [row] = await this.db.query(
      'INSERT INTO archive (owner, with_jid, ts, stanza) VALUES ($1, $2, $3, $4) RETURNING id::text AS id',
      [m.owner, m.with, Math.trunc(m.timestamp), m.stanza],
    );
    if (!row) throw new Error('archive: INSERT returned no id');
    return str(row, 'id');
  }

  async query(query: ArchiveQuery): Promise<ArchivePage> {
    const limit = pageSize(query.limit);
    const backward = query.before !== undefined;
    const params: unknown[] = [query.owner];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    const filters = ['owner = $1'];
    if (query.with !== undefined) filters.push(`with_jid = ${param(query.with)}`);
    if (query.start !== undefined) filters.push(`ts >= ${param(Math.ceil(query.start))}`);
    if (query.end !== undefined) filters.push(`ts <= ${param(Math.floor(query.end))}`);
    // Ids bound the page exclusively; an id that is not one of ours matches nothing.
    const bounds = [...filters];
    if (query.after !== undefined) bounds.push(ID.test(query.after) ? `id > ${param(query.after)}::bigint` : 'false');
    if (query.before !== undefined && query.before !== '') bounds.push(ID.test(query.before) ? `id < ${param(query.before)}::bigint` : 'false');
    // One row more than the page tells whether anything lies beyond it. Ordering is by the bigint
    // column (archive.id, p.id::bigint), never by the text alias, which would sort '10' before '9'.
    const fetch = param(limit + 1);
    const rows = await this.db.query(
      `SELECT c.total, p.id, p.with_jid, p.ts, p.stanza
       FROM (SELECT count(*)::bigint AS total FROM archive WHERE ${filters.join(' AND ')}) c
       LEFT JOIN LATERAL (
         SELECT id::text AS id, with_jid, ts, stanza FROM archive
         WHERE ${bounds.join(' AND ')}
         ORDER BY archive.id ${backward ? 'DESC' : 'ASC'} LIMIT ${fetch}
       ) p ON true
       ORDER BY p.id::bigint`,
      params,
    );
    const first = rows[0];
    const count = first ? num(first, 'total') : 0;
    const found = rows.filter((row) => row.id !== null && row.id !== undefined).map((row) => message(query.owner, row));
    const complete = found.length <= limit;
    // Oldest first either way; going backward the extra row is the oldest one.
    const messages = backward ? found.slice(Math.max(0, found.length - limit)) : found.slice(0, limit);
    return { messages, complete, count };
  }

  async deleteArchive(owner: string): Promise<void> {
    await this.db.query('DELETE FROM archive WHERE owner = $1', [owner]);
  }

  async pruneBefore(timestamp: number): Promise<number> {
    const [row] = await this.db.query(
      'WITH gone AS (DELETE FROM archive WHERE ts < $1 RETURNING 1) SELECT count(*)::bigint AS n FROM gone',
      [Math.ceil(timestamp)],
    );
    return row ? num(row, 'n') : 0;
  }
}
