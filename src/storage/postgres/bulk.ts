// Bulk provisioning in PostgreSQL: one transaction per batch, each table filled by one
// INSERT ... SELECT FROM unnest($arrays), so a batch of thousands of users with their rosters
// costs four round trips and needs no COPY package. Measured on this kind of machine
// (loadtest/bench/bulk-load.ts): nearly all the time goes to inserting roster rows, and two
// thirds of that to the per-row check of the foreign key to users, which COPY would pay too.
import pg from 'pg';
import { ServerError } from '../../errors.js';
import { prepareBatch, type PreparedUser } from '../bulk-batch.js';
import type { BulkLoader, BulkUser } from '../types.js';
import { SCRAM_HASHES } from '../../auth/credentials.js';
import { CREDENTIAL_COLUMNS, credentialParams } from './accounts.js';
import { str, type Db, type Queryable } from './db.js';

const CREDENTIAL_ARRAYS = SCRAM_HASHES.flatMap((_h, i) => ['text', 'integer', 'text', 'text'].map((type, j) => `$${2 + i * 4 + j}::${type}[]`)).join(', ');
const USER_COLUMN_COUNT = 2 + SCRAM_HASHES.length * 4;
const USERS_INSERT = `INSERT INTO users (username, ${CREDENTIAL_COLUMNS}, created_at)
  SELECT * FROM unnest($1::text[], ${CREDENTIAL_ARRAYS}, $${USER_COLUMN_COUNT}::timestamptz[])`;

const ROSTER_INSERT = `INSERT INTO roster_items (username, jid, name, subscription, ask, approved, groups)
  SELECT u, j, n, s, a, p, g::text[]
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::boolean[], $7::text[]) AS t(u, j, n, s, a, p, g)`;

const VERSIONS_INSERT = 'INSERT INTO roster_versions (username, version) SELECT unnest($1::text[]), 1';

/** A text[] literal of `values`, every element quoted, so it can travel as one text element. */
export function textArrayLiteral(values: readonly string[]): string {
  if (values.length === 0) return '{}';
  return `{${values.map((v) => `"${v.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}

function userColumns(users: readonly PreparedUser[], now: number): unknown[][] {
  const columns: unknown[][] = Array.from({ length: USER_COLUMN_COUNT }, () => new Array<unknown>(users.length));
  users.forEach((user, i) => {
    const row = [user.username, ...credentialParams(user.credentials), new Date(user.createdAt ?? now).toISOString()];
    row.forEach((value, c) => {
      (columns[c] as unknown[])[i] = value;
    });
  });
  return columns;
}

function rosterColumns(users: readonly PreparedUser[]): { columns: unknown[][]; versioned: string[] } {
  const username: string[] = [];
  const jid: string[] = [];
  const name: Array<string | null> = [];
  const subscription: string[] = [];
  const ask: boolean[] = [];
  const approved: boolean[] = [];
  const groups: string[] = [];
  const versioned: string[] = [];
  for (const user of users) {
    if (user.roster.length === 0) continue;
    versioned.push(user.username);
    for (const item of user.roster) {
      username.push(user.username);
      jid.push(item.jid);
      name.push(item.name ?? null);
      subscription.push(item.subscription);
      ask.push(item.ask);
      approved.push(item.approved);
      groups.push(textArrayLiteral([...new Set(item.groups)]));
    }
  }
  return { columns: [username, jid, name, subscription, ask, approved, groups], versioned };
}

function isUniqueViolationOnUsers(err: unknown): err is pg.DatabaseError {
  return err instanceof pg.DatabaseError && err.code === '23505' && err.table === 'users';
}

function userExists(username: string): ServerError {
  return new ServerError('USER_EXISTS', `cannot load the batch: user "${username}" already exists (nothing in the batch was written)`);
}

export class PostgresBulkLoader implements BulkLoader {
  constructor(private readonly db: Db) {}

  async load(users: readonly BulkUser[], options: { onExisting: 'skip' | 'fail' }): Promise<number> {
    const given = prepareBatch(users, options.onExisting);
    if (given.length === 0) return 0;
    // Concurrent loads insert their users in one order, so one waits for the other instead of
    // the two taking the same unique keys in opposite orders and deadlocking.
    const batch = [...given].sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0));
    const now = Date.now();
    try {
      return await this.db.transaction(async (tx) => {
        const created = options.onExisting === 'fail' ? await this.insertAll(tx, given, batch, now) : await this.insertMissing(tx, batch, now);
        const { columns, versioned } = rosterColumns(created);
        if (versioned.length > 0) {
          await tx.query(ROSTER_INSERT, columns);
          await tx.query(VERSIONS_INSERT, [versioned]);
        }
        return created.length;
      });
    } catch (err) {
      // A user created by someone else between our check and our insert.
      if (isUniqueViolationOnUsers(err)) throw userExists(/\(username\)=\((.*)\)/.exec(err.detail ?? '')?.[1] ?? '?');
      throw err;
    }
  }

  /** 'fail': refuses the batch, naming its first existing user (in the order given), unless all are new. */
  private async insertAll(tx: Queryable, given: readonly PreparedUser[], sorted: readonly PreparedUser[], now: number): Promise<PreparedUser[]> {
    const names = sorted.map((u) => u.username);
    const existing = new Set((await tx.query('SELECT username FROM users WHERE username = ANY($1::text[])', [names])).map((r) => str(r, 'username')));
    const first = given.find((u) => existing.has(u.username));
    if (first !== undefined) throw userExists(first.username);
    await tx.query(USERS_INSERT, userColumns(sorted, now));
    return [...sorted];
  }

  /** 'skip': creates the users that do not exist yet and returns them. */
  private async insertMissing(tx: Queryable, batch: readonly PreparedUser[], now: number): Promise<PreparedUser[]> {
    const rows = await tx.query(`${USERS_INSERT} ON CONFLICT (username) DO NOTHING RETURNING username`, userColumns(batch, now));
    if (rows.length === batch.length) return [...batch];
    const created = new Set(rows.map((r) => str(r, 'username')));
    return batch.filter((u) => created.has(u.username));
  }
}
