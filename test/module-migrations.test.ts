// The module stores' migrations as shipped (issue #14): the core's migrations/ and each module's
// xeps/<module>/migrations/. A database migrated before the move (the old single directory, kept in
// test/fixtures/migrations-before-module-stores) starts with the new layout, only the private module's
// no-op 0009 is applied to it, and it ends with the same tables and columns as a new database (plus the
// unused `archive` table of the old 0007, now an empty migration).
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { MODULE_STORES } from '../src/main.js';
import { Db } from '../src/storage/postgres/db.js';
import { loadMigrations, migrate, migrationsDir } from '../src/storage/postgres/migrate.js';
import { createTestSchema, requirePostgres, TEST_DATABASE_URL } from '../src/storage/postgres/test-fixture.js';

const OLD_MIGRATIONS = fileURLToPath(new URL('./fixtures/migrations-before-module-stores', import.meta.url));
const NEW_LAYOUT = [migrationsDir(), ...MODULE_STORES.flatMap((m) => (m.stores.migrations === undefined ? [] : [m.stores.migrations]))];
/** The last version of the move (#14); tables of modules added since are new to every database. */
const MOVED_UP_TO = 9;
/** The new layout's migrations as the move left them. */
const movedLayout = async (): Promise<Awaited<ReturnType<typeof loadMigrations>>> => (await loadMigrations(NEW_LAYOUT)).filter((m) => m.version <= MOVED_UP_TO);

/** Every table's columns with their types, nullability and defaults; and every index and constraint, by name. */
async function shape(db: Db, schema: string): Promise<{ columns: string[]; indexes: string[]; constraints: string[] }> {
  const columns = await db.query(
    `SELECT table_name, column_name, data_type, is_nullable, column_default, collation_name FROM information_schema.columns
     WHERE table_schema = $1 AND table_name <> 'schema_migrations' ORDER BY table_name, column_name`,
    [schema],
  );
  const indexes = await db.query('SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname', [schema]);
  const constraints = await db.query(
    `SELECT conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
     WHERE n.nspname = $1 ORDER BY conname`,
    [schema],
  );
  return {
    columns: columns.map((r) => [r.table_name, r.column_name, r.data_type, r.is_nullable, r.column_default, r.collation_name].map(String).join(' ')),
    indexes: indexes.map((r) => `${String(r.indexname)}: ${String(r.indexdef).replaceAll(`${schema}.`, '')}`),
    constraints: constraints.map((r) => `${String(r.conname)}: ${String(r.def)}`),
  };
}

/** What only the old 0007 created: the archive table of the store that went. */
const isOldArchive = (line: string): boolean => /^archive[ :_]/.test(line);

describe('module migrations (issue #14 layout)', function () {
  before(async function () {
    await requirePostgres(this);
  });

  it('ships every module table in the modules\' directories, nothing of them in migrations/', async () => {
    const core = (await loadMigrations(migrationsDir())).map((m) => m.name);
    assert.deepEqual(core, ['0001_core_accounts.sql', '0002_im_roster.sql', '0003_im_offline.sql', '0007_mam_archive.sql', '0021_core_scram_sha512.sql']);
    const all = (await loadMigrations(NEW_LAYOUT)).map((m) => m.name);
    for (const name of ['0004_im_vcard_private.sql', '0005_im_privacy_blocklist.sql', '0006_muc_rooms.sql', '0008_im_last_activity.sql', '0009_private_xml.sql']) assert.ok(all.includes(name), name);
  });

  it('an old database starts with the new layout: only the no-op 0009 is applied, and its tables are a new database\'s', async () => {
    const oldSchema = await createTestSchema();
    const newSchema = await createTestSchema();
    const oldDb = new Db({ url: TEST_DATABASE_URL, schema: oldSchema.schema, max: 1 });
    const newDb = new Db({ url: TEST_DATABASE_URL, schema: newSchema.schema, max: 1 });
    try {
      await migrate(oldDb, await loadMigrations(OLD_MIGRATIONS));
      await oldDb.query("INSERT INTO users (username, sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key, sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key) VALUES ('alice', 's', 1, 'k', 'k', 's', 1, 'k', 'k')");
      await oldDb.query("INSERT INTO private_xml (username, key, xml) VALUES ('alice', 'storage storage:bookmarks', '<storage xmlns=\"storage:bookmarks\"/>')");
      const before = await shape(oldDb, oldSchema.schema);

      const upgrade = await migrate(oldDb, await movedLayout());
      assert.deepEqual(upgrade.applied, ['0009_private_xml.sql']);
      assert.deepEqual(await shape(oldDb, oldSchema.schema), before, 'the old database is left as it was');
      const [row] = await oldDb.query("SELECT xml FROM private_xml WHERE username = 'alice'");
      assert.equal(row?.xml, '<storage xmlns="storage:bookmarks"/>', 'its private XML is kept');

      const fresh = await migrate(newDb, await movedLayout());
      assert.deepEqual(fresh.applied, (await movedLayout()).map((m) => m.name));
      const made = await shape(newDb, newSchema.schema);
      // Positive control: the comparison sees a table: the old database has the archive table, the new one not.
      assert.ok(before.columns.some(isOldArchive));
      assert.ok(!made.columns.some(isOldArchive));
      assert.deepEqual(made, { columns: before.columns.filter((l) => !isOldArchive(l)), indexes: before.indexes.filter((l) => !isOldArchive(l)), constraints: before.constraints.filter((l) => !isOldArchive(l)) });
      assert.ok(made.columns.some((l) => l.startsWith('private_xml ')) && made.columns.some((l) => l.startsWith('vcards ')), 'both tables of the old 0004 exist');
    } finally {
      await oldDb.close();
      await newDb.close();
      await oldSchema.drop();
      await newSchema.drop();
    }
  });
});
