// Persistent MUC rooms (XEP-0045) in PostgreSQL: the tables of migrations/0006_muc_rooms.sql. The configuration
// is a jsonb object, validated when read; affiliations reference their room, so deleting a room
// deletes them in the same statement, and saving a room (an upsert of its row) keeps them.
import { ServerError } from '../../../src/errors.js';
import { num, optStr, str, type Db, type Row } from '../../../src/modules/api.js';
import { isAffiliation, isRoomConfigValue, type RoomAffiliation, type RoomConfigValue, type RoomStore, type StoredRoom } from './types.js';

/** PostgreSQL's foreign_key_violation. */
const FOREIGN_KEY_VIOLATION = '23503';

function sqlState(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

function corrupt(what: string): ServerError {
  return new ServerError('STORE_CORRUPT', `PostgreSQL store: ${what} is not valid`);
}

function parseConfig(room: string, value: unknown): Record<string, RoomConfigValue> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(`the configuration of room "${room}"`);
  const entries: Array<[string, RoomConfigValue]> = [];
  for (const [field, raw] of Object.entries(value)) {
    if (!isRoomConfigValue(raw)) throw corrupt(`the configuration field "${field}" of room "${room}"`);
    entries.push([field, raw]);
  }
  // fromEntries defines own properties, so a field named "__proto__" stays a field.
  return Object.fromEntries(entries);
}

function roomFromRow(row: Row): StoredRoom {
  const jid = str(row, 'jid');
  const room: StoredRoom = { jid, config: parseConfig(jid, row.config), createdAt: num(row, 'created_at') };
  const subject = optStr(row, 'subject');
  const subjectBy = optStr(row, 'subject_by');
  if (subject !== undefined) room.subject = subject;
  if (subjectBy !== undefined) room.subjectBy = subjectBy;
  return room;
}

function affiliationFromRow(room: string, row: Row): RoomAffiliation {
  const jid = str(row, 'jid');
  const affiliation = str(row, 'affiliation');
  if (!isAffiliation(affiliation)) throw corrupt(`the affiliation of "${jid}" in room "${room}"`);
  const result: RoomAffiliation = { jid, affiliation };
  const reason = optStr(row, 'reason');
  const nick = optStr(row, 'nick');
  if (reason !== undefined) result.reason = reason;
  if (nick !== undefined) result.nick = nick;
  return result;
}

const ROOM_COLUMNS = 'jid, config, subject, subject_by, created_at';

export class PostgresRoomStore implements RoomStore {
  constructor(private readonly db: Db) {}

  async get(jid: string): Promise<StoredRoom | undefined> {
    const [row] = await this.db.query(`SELECT ${ROOM_COLUMNS} FROM rooms WHERE jid = $1`, [jid]);
    return row === undefined ? undefined : roomFromRow(row);
  }

  async save(room: StoredRoom): Promise<void> {
    await this.db.query(
      `INSERT INTO rooms (jid, config, subject, subject_by, created_at)
       VALUES ($1, $2::jsonb, $3, $4, to_timestamp($5::double precision / 1000))
       ON CONFLICT (jid) DO UPDATE SET config = EXCLUDED.config, subject = EXCLUDED.subject,
         subject_by = EXCLUDED.subject_by, created_at = EXCLUDED.created_at`,
      [room.jid, JSON.stringify(room.config), room.subject ?? null, room.subjectBy ?? null, room.createdAt],
    );
  }

  async delete(jid: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM rooms WHERE jid = $1 RETURNING jid', [jid]);
    return rows.length === 1;
  }

  async list(service: string): Promise<StoredRoom[]> {
    const rows = await this.db.query(`SELECT ${ROOM_COLUMNS} FROM rooms WHERE service = $1 ORDER BY jid COLLATE "C"`, [service]);
    return rows.map(roomFromRow);
  }

  async services(): Promise<string[]> {
    const rows = await this.db.query('SELECT service FROM rooms GROUP BY service ORDER BY service COLLATE "C"');
    return rows.map((r) => str(r, 'service'));
  }

  async affiliations(jid: string): Promise<RoomAffiliation[]> {
    const rows = await this.db.query('SELECT jid, affiliation, reason, nick FROM room_affiliations WHERE room = $1 ORDER BY jid COLLATE "C"', [jid]);
    return rows.map((r) => affiliationFromRow(jid, r));
  }

  async setAffiliation(room: string, affiliation: RoomAffiliation | { jid: string; affiliation: 'none' }): Promise<void> {
    if (affiliation.affiliation === 'none') {
      await this.db.query('DELETE FROM room_affiliations WHERE room = $1 AND jid = $2', [room, affiliation.jid]);
      return;
    }
    try {
      await this.db.query(
        `INSERT INTO room_affiliations (room, jid, affiliation, reason, nick) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (room, jid) DO UPDATE SET affiliation = EXCLUDED.affiliation, reason = EXCLUDED.reason, nick = EXCLUDED.nick`,
        [room, affiliation.jid, affiliation.affiliation, affiliation.reason ?? null, affiliation.nick ?? null],
      );
    } catch (err) {
      if (sqlState(err) === FOREIGN_KEY_VIOLATION) {
        throw new ServerError('STORE_NO_SUCH_ROOM', `cannot set an affiliation in room "${room}": the room is not stored (save it first)`);
      }
      throw err;
    }
  }

  async countOwned(jid: string): Promise<number> {
    const [row] = await this.db.query("SELECT count(*)::bigint AS n FROM room_affiliations WHERE jid = $1 AND affiliation = 'owner'", [jid]);
    return row === undefined ? 0 : num(row, 'n');
  }
}
