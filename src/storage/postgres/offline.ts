// Offline messages (XEP-0160) in PostgreSQL: table offline_messages of migration 0003. A push
// counts the queue and inserts while holding the user's row lock, so concurrent pushes (from
// any node) cannot together overfill a queue. A take locks the rows it hands out until it has
// deleted them, so a take of the same queue on another node waits and then skips them.
import type { OfflineMessage, OfflineStore, OfflineTake } from '../types.js';
import { deliveredIds } from '../records.js';
import { num, str, type Db, type Row } from './db.js';

/** Ids are bigserial values; anything else cannot name a stored message. */
const ID = /^[1-9]\d{0,17}$/;
/** A user's queue, oldest first, up to $2 (null: all); ordered by the column, not by the text alias (which would sort '10' before '9'). */
const QUEUE = 'SELECT id::text AS id, stanza, stored_at FROM offline_messages WHERE username = $1 ORDER BY offline_messages.id LIMIT $2';

const message = (row: Row): OfflineMessage => ({ id: str(row, 'id'), stanza: str(row, 'stanza'), storedAt: num(row, 'stored_at') });

export class PostgresOfflineStore implements OfflineStore {
  constructor(private readonly db: Db) {}

  async push(username: string, stanza: string, limit: number): Promise<boolean> {
    if (!(limit > 0)) return false;
    return this.db.transaction(async (tx) => {
      // FOR NO KEY UPDATE serialises pushes to this queue without blocking the foreign-key
      // checks of other tables' writes for the user. No row: no account, nowhere to store.
      const owner = await tx.query('SELECT 1 FROM users WHERE username = $1 FOR NO KEY UPDATE', [username]);
      if (owner.length === 0) return false;
      // A new statement, so a new snapshot: it sees what the pushes before us committed.
      const rows = await tx.query(
        `INSERT INTO offline_messages (username, stanza)
         SELECT $1, $2 WHERE (SELECT count(*) FROM offline_messages WHERE username = $1) < $3
         RETURNING id`,
        [username, stanza, Math.trunc(limit)],
      );
      return rows.length === 1;
    });
  }

  async list(username: string, limit?: number): Promise<OfflineMessage[]> {
    if (limit !== undefined && !(limit > 0)) return [];
    return (await this.db.query(QUEUE, [username, limit === undefined ? null : Math.trunc(limit)])).map(message);
  }

  async remove(username: string, ids: readonly string[]): Promise<void> {
    const valid = ids.filter((id) => ID.test(id));
    if (valid.length === 0) return;
    await this.db.query('DELETE FROM offline_messages WHERE username = $1 AND id = ANY($2::bigint[])', [username, valid]);
  }

  async take(username: string, limit: number, hand: (messages: readonly OfflineMessage[]) => readonly string[]): Promise<OfflineTake> {
    if (!(limit > 0)) return { listed: 0, removed: 0 };
    return this.db.transaction(async (tx) => {
      // A row another take has locked is waited for; once that take commits, a row it deleted is skipped.
      const messages = (await tx.query(`${QUEUE} FOR UPDATE`, [username, Math.trunc(limit)])).map(message);
      if (messages.length === 0) return { listed: 0, removed: 0 };
      const handed = deliveredIds(messages, hand(messages));
      if (handed.length > 0) await tx.query('DELETE FROM offline_messages WHERE username = $1 AND id = ANY($2::bigint[])', [username, handed]);
      return { listed: messages.length, removed: handed.length };
    });
  }

  async count(username: string): Promise<number> {
    const [row] = await this.db.query('SELECT count(*)::bigint AS n FROM offline_messages WHERE username = $1', [username]);
    return row ? num(row, 'n') : 0;
  }
}
