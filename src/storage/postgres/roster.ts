// Rosters with XEP-0237 versions, and pending subscription requests, in PostgreSQL (tables of
// migration 0002). Each write is one statement whose CTE changes the item and bumps the version
// together, so they commit atomically in one round trip; the row lock on roster_versions puts
// concurrent writers to one roster in order. A roster is read with its version in one statement,
// so both come from the same snapshot. A write for a username without an account breaks the
// foreign key to users and is reported as USER_NOT_FOUND, as the embedded store does.
import pg from 'pg';
import { ServerError } from '../../errors.js';
import type { Roster, RosterItem, RosterStore, SubscriptionRequest, SubscriptionRequestStore, SubscriptionState } from '../types.js';
import { bool, num, optStr, str, type Db, type Row } from './db.js';

const SUBSCRIPTION_STATES: ReadonlySet<string> = new Set<SubscriptionState>(['none', 'to', 'from', 'both']);

function isSubscriptionState(value: string): value is SubscriptionState {
  return SUBSCRIPTION_STATES.has(value);
}

function subscription(row: Row): SubscriptionState {
  const value = str(row, 'subscription');
  if (!isSubscriptionState(value)) throw new Error(`column subscription: unexpected value "${value}"`);
  return value;
}

function groups(row: Row): string[] {
  const value = row.groups;
  if (!Array.isArray(value) || !value.every((g): g is string => typeof g === 'string')) throw new Error('column groups: expected text[]');
  return value;
}

function rosterItem(row: Row): RosterItem {
  const item: RosterItem = { jid: str(row, 'jid'), subscription: subscription(row), ask: bool(row, 'ask'), approved: bool(row, 'approved'), groups: groups(row) };
  const name = optStr(row, 'name');
  if (name !== undefined) item.name = name;
  return item;
}

/** The parameters $2..$7 of an item write: groups keep their order and lose duplicates. */
function itemParams(item: RosterItem): unknown[] {
  return [item.jid, item.name ?? null, item.subscription, item.ask, item.approved, [...new Set(item.groups)]];
}

const ITEM_COLUMNS = 'jid, name, subscription, ask, approved, groups';

/** A write for a username without an account breaks the foreign key to users: say so plainly. */
async function forExistingUser<T>(username: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof pg.DatabaseError && err.code === '23503') throw new ServerError('USER_NOT_FOUND', `there is no account "${username}" to keep this for`);
    throw err;
  }
}

/** Bumps $1's version for each row of `changed`; RETURNING the new version. */
const BUMP_VERSION = `INSERT INTO roster_versions (username, version) SELECT $1, 1 FROM changed
  ON CONFLICT (username) DO UPDATE SET version = roster_versions.version + 1 RETURNING version`;

export class PostgresRosterStore implements RosterStore {
  constructor(private readonly db: Db) {}

  async get(username: string): Promise<Roster> {
    const rows = await this.db.query(
      `SELECT v.version, i.jid, i.name, i.subscription, i.ask, i.approved, i.groups
       FROM (SELECT coalesce(max(version), 0) AS version FROM roster_versions WHERE username = $1) v
       LEFT JOIN roster_items i ON i.username = $1
       ORDER BY i.jid`,
      [username],
    );
    const first = rows[0];
    const version = first ? num(first, 'version') : 0;
    const items = rows.filter((r) => r.jid !== null && r.jid !== undefined).map(rosterItem);
    return { version, items };
  }

  async getItem(username: string, jid: string): Promise<RosterItem | undefined> {
    const [row] = await this.db.query(`SELECT ${ITEM_COLUMNS} FROM roster_items WHERE username = $1 AND jid = $2`, [username, jid]);
    return row ? rosterItem(row) : undefined;
  }

  async setItem(username: string, item: RosterItem): Promise<number> {
    const [row] = await forExistingUser(username, () => this.db.query(
      `WITH changed AS (
         INSERT INTO roster_items (username, ${ITEM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (username, jid) DO UPDATE SET name = EXCLUDED.name, subscription = EXCLUDED.subscription,
           ask = EXCLUDED.ask, approved = EXCLUDED.approved, groups = EXCLUDED.groups
         RETURNING 1)
       ${BUMP_VERSION}`,
      [username, ...itemParams(item)],
    ));
    if (!row) throw new Error('roster setItem: the version was not returned');
    return num(row, 'version');
  }

  async removeItem(username: string, jid: string): Promise<number | undefined> {
    const [row] = await this.db.query(
      `WITH changed AS (DELETE FROM roster_items WHERE username = $1 AND jid = $2 RETURNING 1)
       ${BUMP_VERSION}`,
      [username, jid],
    );
    return row ? num(row, 'version') : undefined;
  }

  async version(username: string): Promise<number> {
    const [row] = await this.db.query('SELECT version FROM roster_versions WHERE username = $1', [username]);
    return row ? num(row, 'version') : 0;
  }

  async count(username: string): Promise<number> {
    const [row] = await this.db.query('SELECT count(*)::bigint AS n FROM roster_items WHERE username = $1', [username]);
    return row ? num(row, 'n') : 0;
  }
}

export class PostgresSubscriptionRequestStore implements SubscriptionRequestStore {
  constructor(private readonly db: Db) {}

  async put(username: string, request: SubscriptionRequest): Promise<void> {
    await forExistingUser(username, () => this.db.query(
      `INSERT INTO subscription_requests (username, from_jid, stanza, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (username, from_jid) DO UPDATE SET stanza = EXCLUDED.stanza, created_at = EXCLUDED.created_at, seq = DEFAULT`,
      [username, request.from, request.stanza, new Date(request.createdAt)],
    ));
  }

  async remove(username: string, from: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM subscription_requests WHERE username = $1 AND from_jid = $2 RETURNING 1 AS gone', [username, from]);
    return rows.length === 1;
  }

  async list(username: string): Promise<SubscriptionRequest[]> {
    const rows = await this.db.query(
      'SELECT from_jid, stanza, created_at FROM subscription_requests WHERE username = $1 ORDER BY created_at, seq',
      [username],
    );
    return rows.map((r) => ({ from: str(r, 'from_jid'), stanza: str(r, 'stanza'), createdAt: num(r, 'created_at') }));
  }
}
