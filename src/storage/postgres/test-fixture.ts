// Test support: a PostgreSQL schema of the test's own in the machine's database, migrated, and
// dropped afterwards. Under CI=true a missing PostgreSQL fails the suite; elsewhere it is skipped
// with a loud notice.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Stores } from '../types.js';
import { openPostgresStores } from './index.js';

/** SQLSTATE 40P01. */
const DEADLOCK_DETECTED = '40P01';

export const TEST_DATABASE_URL = process.env.RATATOSK_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<boolean> | undefined;

export function postgresReachable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachable;
}

/** Call in a mocha before(): skips the suite (or fails it under CI) when PostgreSQL is not there. */
export async function requirePostgres(ctx: Mocha.Context): Promise<void> {
  if (await postgresReachable()) return;
  if (process.env.CI === 'true') throw new Error(`PostgreSQL is required under CI=true but ${TEST_DATABASE_URL} does not answer`);
  console.warn(`\n  !!! PostgreSQL at ${TEST_DATABASE_URL} does not answer: SKIPPING PostgreSQL tests !!!\n`);
  ctx.skip();
}

export interface PostgresFixture {
  stores: Stores;
  schema: string;
  url: string;
  cleanup(): Promise<void>;
}

export async function createTestSchema(): Promise<{ schema: string; drop(): Promise<void> }> {
  const schema = `rt_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  return {
    schema,
    async drop() {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      try {
        // Dropping a schema locks every object in it. A server of another suite still ending its own
        // transactions can make that a deadlock, and PostgreSQL then aborts one of the two: the drop is tried again.
        for (let attempt = 1; ; attempt++) {
          try {
            await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
            return;
          } catch (err) {
            if ((err as { code?: string }).code !== DEADLOCK_DETECTED || attempt === 5) throw err;
            await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
          }
        }
      } finally {
        await c.end();
      }
    },
  };
}

/** Fresh migrated stores in a schema of their own. */
export async function openPostgresFixture(): Promise<PostgresFixture> {
  const { schema, drop } = await createTestSchema();
  const stores = await openPostgresStores({ url: TEST_DATABASE_URL, schema, max: 4 });
  return {
    stores,
    schema,
    url: TEST_DATABASE_URL,
    async cleanup() {
      await stores.close();
      await drop();
    },
  };
}
