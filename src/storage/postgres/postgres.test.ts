// The PostgreSQL back end against the machine's real PostgreSQL: the shared contract suites,
// and the migration runner's guarantees.
import assert from 'node:assert/strict';
import { ServerError } from '../../errors.js';
import { accountStoreContract } from '../contract/accounts.contract.js';
import { bulkLoaderContract } from '../contract/bulk.contract.js';
import { offlineStoreContract } from '../contract/offline.contract.js';
import { rosterStoreContract, subscriptionRequestStoreContract, type ReopenableFixture } from '../contract/roster.contract.js';
import { Db } from './db.js';
import { openPostgresStores } from './index.js';
import { loadMigrations, migrate } from './migrate.js';
import { createTestSchema, openPostgresFixture, requirePostgres, TEST_DATABASE_URL } from './test-fixture.js';

/** openPostgresFixture, and able to open the same schema again through a pool of its own. */
async function openReopenablePostgresFixture(): Promise<ReopenableFixture> {
  const fixture = await openPostgresFixture();
  return { ...fixture, reopen: () => openPostgresStores({ url: fixture.url, schema: fixture.schema, max: 2, migrate: false }) };
}

describe('PostgreSQL back end', function () {
  before(async function () {
    await requirePostgres(this);
  });

  accountStoreContract('postgres', openPostgresFixture);
  offlineStoreContract('postgres', openPostgresFixture);
  rosterStoreContract('postgres', openReopenablePostgresFixture);
  subscriptionRequestStoreContract('postgres', openReopenablePostgresFixture);
  bulkLoaderContract('postgres', openPostgresFixture);

  describe('migrations', function () {
    it('applies every migration once, also when several nodes start together', async function () {
      const { schema, drop } = await createTestSchema();
      const dbs = [0, 1, 2].map(() => new Db({ url: TEST_DATABASE_URL, schema, max: 2 }));
      try {
        const reports = await Promise.all(dbs.map((db) => migrate(db)));
        const all = await loadMigrations();
        assert.equal(reports.reduce((n, r) => n + r.applied.length, 0), all.length, 'each migration applied exactly once across the racers');
        const again = await migrate(dbs[0] as Db);
        assert.deepEqual(again.applied, []);
      } finally {
        await Promise.all(dbs.map((db) => db.close()));
        await drop();
      }
    });

    it('refuses a database newer than the code', async function () {
      const { schema, drop } = await createTestSchema();
      const db = new Db({ url: TEST_DATABASE_URL, schema, max: 1 });
      try {
        await migrate(db);
        await db.query("INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future_thing.sql')");
        await assert.rejects(migrate(db), (err: unknown) => err instanceof ServerError && err.code === 'DATABASE_TOO_NEW' && /9999/.test(err.message));
      } finally {
        await db.close();
        await drop();
      }
    });
  });
});
