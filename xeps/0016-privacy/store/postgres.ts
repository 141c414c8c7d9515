// Privacy lists (XEP-0016) and the block list (XEP-0191) in PostgreSQL: the tables of migration
// 0005. A list's items are replaced in one transaction that first locks the list's row, so two
// writers of the same list take turns. The default list references its list, so deleting the
// list clears the default in the same statement.
import { ServerError } from '../../../src/errors.js';
import type { BlockListStore, PrivacyItem, PrivacyStore } from './types.js';
import { bool, num, optStr, str, type Db, type Row } from '../../../src/modules/api.js';

/** PostgreSQL's foreign_key_violation. */
const FOREIGN_KEY_VIOLATION = '23503';

function sqlState(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  return typeof err.code === 'string' ? err.code : undefined;
}

type ItemType = NonNullable<PrivacyItem['type']>;

function isItemType(value: unknown): value is ItemType {
  return value === 'jid' || value === 'group' || value === 'subscription';
}

function itemFromRow(username: string, list: string, row: Row): PrivacyItem {
  const type = optStr(row, 'type');
  const value = optStr(row, 'value');
  const action = str(row, 'action');
  if ((type !== undefined && !isItemType(type)) || (action !== 'allow' && action !== 'deny')) {
    throw new ServerError('STORE_CORRUPT', `PostgreSQL store: an item of privacy list "${list}" of user "${username}" is not valid`);
  }
  const item: PrivacyItem = {
    action,
    order: num(row, 'item_order'),
    message: bool(row, 'message'),
    iq: bool(row, 'iq'),
    presenceIn: bool(row, 'presence_in'),
    presenceOut: bool(row, 'presence_out'),
  };
  if (type !== undefined) item.type = type;
  if (value !== undefined) item.value = value;
  return item;
}

export class PostgresPrivacyStore implements PrivacyStore {
  constructor(private readonly db: Db) {}

  async names(username: string): Promise<{ lists: string[]; default?: string }> {
    const rows = await this.db.query(
      `SELECT l.name, d.list IS NOT NULL AS is_default
         FROM privacy_lists l
         LEFT JOIN privacy_defaults d ON d.username = l.username AND d.list = l.name
        WHERE l.username = $1
        ORDER BY l.name COLLATE "C"`,
      [username],
    );
    const result: { lists: string[]; default?: string } = { lists: rows.map((r) => str(r, 'name')) };
    const byDefault = rows.find((r) => bool(r, 'is_default'));
    if (byDefault !== undefined) result.default = str(byDefault, 'name');
    return result;
  }

  async getList(username: string, name: string): Promise<PrivacyItem[] | undefined> {
    // One statement, so the list and its items come from the same snapshot; a list without items
    // yields one row whose item columns are null.
    const rows = await this.db.query(
      `SELECT i.type, i.value, i.action, i.item_order, i.message, i.iq, i.presence_in, i.presence_out
         FROM privacy_lists l
         LEFT JOIN privacy_list_items i ON i.username = l.username AND i.list = l.name
        WHERE l.username = $1 AND l.name = $2
        ORDER BY i.item_order, i.position`,
      [username, name],
    );
    if (rows.length === 0) return undefined;
    return rows.filter((r) => r.action !== null).map((r) => itemFromRow(username, name, r));
  }

  async setList(username: string, name: string, items: readonly PrivacyItem[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      // DO UPDATE (rather than DO NOTHING) locks an existing row until commit, so concurrent
      // writers of one list replace its items one after the other.
      await tx.query(
        `INSERT INTO privacy_lists (username, name) VALUES ($1, $2)
         ON CONFLICT (username, name) DO UPDATE SET name = EXCLUDED.name`,
        [username, name],
      );
      await tx.query('DELETE FROM privacy_list_items WHERE username = $1 AND list = $2', [username, name]);
      if (items.length === 0) return;
      await tx.query(
        `INSERT INTO privacy_list_items
           (username, list, position, type, value, action, item_order, message, iq, presence_in, presence_out)
         SELECT $1, $2, t.n, t.type, t.value, t.action, t.item_order, t.message, t.iq, t.presence_in, t.presence_out
           FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[], $7::boolean[], $8::boolean[], $9::boolean[], $10::boolean[])
                WITH ORDINALITY AS t(type, value, action, item_order, message, iq, presence_in, presence_out, n)`,
        [
          username,
          name,
          items.map((i) => i.type ?? null),
          items.map((i) => i.value ?? null),
          items.map((i) => i.action),
          items.map((i) => i.order),
          items.map((i) => i.message),
          items.map((i) => i.iq),
          items.map((i) => i.presenceIn),
          items.map((i) => i.presenceOut),
        ],
      );
    });
  }

  async deleteList(username: string, name: string): Promise<boolean> {
    // Cascades to the items and, when it was the default, to the default.
    const rows = await this.db.query('DELETE FROM privacy_lists WHERE username = $1 AND name = $2 RETURNING name', [username, name]);
    return rows.length === 1;
  }

  async setDefault(username: string, name: string | undefined): Promise<boolean> {
    if (name === undefined) {
      await this.db.query('DELETE FROM privacy_defaults WHERE username = $1', [username]);
      return true;
    }
    try {
      const rows = await this.db.query(
        `INSERT INTO privacy_defaults (username, list)
         SELECT username, name FROM privacy_lists WHERE username = $1 AND name = $2
         ON CONFLICT (username) DO UPDATE SET list = EXCLUDED.list
         RETURNING list`,
        [username, name],
      );
      return rows.length === 1;
    } catch (err) {
      // The list was deleted between the SELECT and the foreign key check.
      if (sqlState(err) === FOREIGN_KEY_VIOLATION) return false;
      throw err;
    }
  }
}

export class PostgresBlockListStore implements BlockListStore {
  constructor(private readonly db: Db) {}

  async list(username: string): Promise<string[]> {
    const rows = await this.db.query('SELECT jid FROM blocklist WHERE username = $1 ORDER BY jid COLLATE "C"', [username]);
    return rows.map((r) => str(r, 'jid'));
  }

  async block(username: string, jids: readonly string[]): Promise<string[]> {
    const wanted = [...new Set(jids)];
    if (wanted.length === 0) return [];
    const rows = await this.db.query(
      `INSERT INTO blocklist (username, jid) SELECT $1, j FROM unnest($2::text[]) AS j
       ON CONFLICT (username, jid) DO NOTHING
       RETURNING jid`,
      [username, wanted],
    );
    const added = new Set(rows.map((r) => str(r, 'jid')));
    return wanted.filter((jid) => added.has(jid));
  }

  async unblock(username: string, jids: readonly string[] | 'all'): Promise<string[]> {
    if (jids === 'all') {
      const rows = await this.db.query(
        `WITH removed AS (DELETE FROM blocklist WHERE username = $1 RETURNING jid)
         SELECT jid FROM removed ORDER BY jid COLLATE "C"`,
        [username],
      );
      return rows.map((r) => str(r, 'jid'));
    }
    const wanted = [...new Set(jids)];
    if (wanted.length === 0) return [];
    const rows = await this.db.query('DELETE FROM blocklist WHERE username = $1 AND jid = ANY($2::text[]) RETURNING jid', [username, wanted]);
    const removed = new Set(rows.map((r) => str(r, 'jid')));
    return wanted.filter((jid) => removed.has(jid));
  }
}
