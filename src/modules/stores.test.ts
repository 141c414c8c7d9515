// The module contract's stores (issue #14): a module's own store opens in the server's one storage
// engine (the LMDB environment, the PostgreSQL pool) on both back ends, and its migrations, in a
// directory of its own, are applied with the core's in one version order; a database migrated before
// a migration moved to a module's directory is accepted without applying anything again.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Config } from '../config/types.js';
import { ServerError } from '../errors.js';
import { HookBus } from '../hooks/bus.js';
import type { CoreHooks } from '../hooks/core-hooks.js';
import { createLogger } from '../observability/log.js';
import { IqRegistry } from '../router/iq-registry.js';
import { Router } from '../router/router.js';
import { LocalSessionRegistry } from '../sessions/local-registry.js';
import { openStores } from '../storage/index.js';
import { Db } from '../storage/postgres/db.js';
import { openPostgresStores } from '../storage/postgres/index.js';
import { loadMigrations, migrate, migrationsDir } from '../storage/postgres/migrate.js';
import { createTestSchema, requirePostgres, TEST_DATABASE_URL } from '../storage/postgres/test-fixture.js';
import type { Stores } from '../storage/types.js';
import { defineModule, moduleMigrationsDir, str, type StorageEngine } from './api.js';
import { DiscoRegistry } from './disco-registry.js';
import { ModuleHost } from './host.js';

interface NoteStore {
  put(key: string, text: string): Promise<void>;
  get(key: string): Promise<string | undefined>;
}

function openNoteStore(engine: StorageEngine): NoteStore {
  if (engine.kind === 'embedded') {
    const db = engine.env.openDB<string, string>({ name: 'demo_notes', cache: false });
    return { put: async (key, text) => void (await db.put(key, text)), get: async (key) => db.get(key) };
  }
  const { db } = engine;
  return {
    put: async (key, text) => void (await db.query('INSERT INTO demo_notes (key, text) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET text = EXCLUDED.text', [key, text])),
    get: async (key) => {
      const [row] = await db.query('SELECT text FROM demo_notes WHERE key = $1', [key]);
      return row === undefined ? undefined : str(row, 'text');
    },
  };
}

async function notesMigrations(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ratatosk-notes-migrations-'));
  await writeFile(join(dir, '9001_demo_notes.sql'), 'CREATE TABLE demo_notes (key text PRIMARY KEY, text text NOT NULL);\n');
  return dir;
}

function hostOver(stores: Stores, config: Config): ModuleHost {
  const log = createLogger('silent');
  const hooks = new HookBus<CoreHooks>(log);
  const sessions = new LocalSessionRegistry();
  const iqs = new IqRegistry();
  const router = new Router({ domain: config.domain, sessions, accounts: stores.accounts, hooks, iqs, log });
  return new ModuleHost({ config, server: { name: 'test', version: '0', startedAt: 0 }, log, stores, sessions, hooks, iqs, router, disco: new DiscoRegistry() });
}

/** A module that writes a note through its own store when it starts. */
function notesModule(migrations: string, seen: string[]) {
  return defineModule({
    name: 'notes',
    specs: [],
    stores: { migrations, open: openNoteStore },
    async setup(ctx) {
      await ctx.store.put('greeting', `hello from ${ctx.name}`);
      seen.push((await ctx.store.get('greeting')) ?? 'nothing');
    },
  });
}

/** migrations/ as it was before the module stores moved into xeps/ (issue #14). */
const OLD_MIGRATIONS = fileURLToPath(new URL('../../test/fixtures/migrations-before-module-stores', import.meta.url));

const config = (dataDir: string, url?: string): Config => ({ domain: 'localhost', nodeId: 'test', dataDir, database: url === undefined ? {} : { url } }) as Partial<Config> as Config;

describe('module stores', () => {
  let dir: string;
  let migrationsOfNotes: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ratatosk-module-stores-'));
    migrationsOfNotes = await notesMigrations();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    await rm(migrationsOfNotes, { recursive: true, force: true });
  });

  it('embedded: a module store opens in the server\'s LMDB environment', async () => {
    const stores = await openStores(config(dir));
    try {
      const seen: string[] = [];
      const host = hostOver(stores, config(dir));
      await host.startAll([notesModule(migrationsOfNotes, seen)]);
      assert.deepEqual(seen, ['hello from notes']);
      assert.equal(stores.engine.kind, 'embedded');
      // The same environment: the core's handle reads what the module wrote.
      if (stores.engine.kind === 'embedded') assert.equal(stores.engine.env.openDB<string, string>({ name: 'demo_notes', cache: false }).get('greeting'), 'hello from notes');
      await host.stopAll();
    } finally {
      await stores.close();
    }
  });

  describe('PostgreSQL', function () {
    before(async function () {
      await requirePostgres(this);
    });

    it('a module store opens in the server\'s pool, its migration applied with the core\'s', async () => {
      const { schema, drop } = await createTestSchema();
      const stores = await openPostgresStores({ url: TEST_DATABASE_URL, schema, max: 2, migrations: [migrationsOfNotes] });
      try {
        const seen: string[] = [];
        const host = hostOver(stores, config(dir, TEST_DATABASE_URL));
        await host.startAll([notesModule(migrationsOfNotes, seen)]);
        assert.deepEqual(seen, ['hello from notes']);
        const [row] = await stores.db.query('SELECT text FROM demo_notes WHERE key = $1', ['greeting']);
        assert.equal(row?.text, 'hello from notes');
        const versions = (await stores.db.query('SELECT version, name FROM schema_migrations ORDER BY version')).map((r) => `${String(r.version)} ${String(r.name)}`);
        assert.equal(versions.at(-1), '9001 9001_demo_notes.sql');
        await host.stopAll();
      } finally {
        await stores.close();
        await drop();
      }
    });

    it('applies the core\'s and the modules\' migrations in one version order, once', async () => {
      const { schema, drop } = await createTestSchema();
      const db = new Db({ url: TEST_DATABASE_URL, schema, max: 1 });
      try {
        const all = await loadMigrations([migrationsOfNotes, migrationsDir()]);
        assert.deepEqual(all.map((m) => m.version), [...all.map((m) => m.version)].sort((a, b) => a - b), 'version order whatever the directory order');
        const first = await migrate(db, all);
        assert.deepEqual(first.applied, all.map((m) => m.name));
        assert.deepEqual((await migrate(db, await loadMigrations([migrationsDir(), migrationsOfNotes]))).applied, []);
      } finally {
        await db.close();
        await drop();
      }
    });

    it('a database migrated by the old runner (one directory) is accepted when a migration moves to a module\'s directory', async () => {
      // The old runner: every file in one directory, rows (version, file name) as it wrote them; the
      // directory as it was before the module stores moved (test/fixtures/migrations-before-module-stores).
      const { schema, drop } = await createTestSchema();
      const db = new Db({ url: TEST_DATABASE_URL, schema, max: 1 });
      const core = await mkdtemp(join(tmpdir(), 'ratatosk-core-migrations-'));
      const moved = await mkdtemp(join(tmpdir(), 'ratatosk-muc-migrations-'));
      try {
        const old = await migrate(db, await loadMigrations(OLD_MIGRATIONS));
        const files = (await readdir(OLD_MIGRATIONS)).filter((f) => f.endsWith('.sql')).sort();
        assert.deepEqual(old.applied, files);
        // A new layout: 0006_muc_rooms.sql in the module's directory under the same name.
        for (const file of files) await copyFile(join(OLD_MIGRATIONS, file), join(file.includes('_muc_') ? moved : core, file));
        assert.deepEqual(await readdir(moved), ['0006_muc_rooms.sql']);
        const report = await migrate(db, await loadMigrations([core, moved]));
        assert.deepEqual(report.applied, [], 'nothing applied again');
        assert.equal(report.current, old.current);
        // Positive control: the same runner applies a module migration the database lacks.
        assert.deepEqual((await migrate(db, await loadMigrations([core, moved, migrationsOfNotes]))).applied, ['9001_demo_notes.sql']);
      } finally {
        await db.close();
        await drop();
        await rm(core, { recursive: true, force: true });
        await rm(moved, { recursive: true, force: true });
      }
    });
  });

  it('refuses two migrations with one number in different directories, naming both files', async () => {
    const clash = await mkdtemp(join(tmpdir(), 'ratatosk-clash-'));
    try {
      await writeFile(join(clash, '0001_other_things.sql'), 'SELECT 1;\n');
      await assert.rejects(loadMigrations([migrationsDir(), clash]), (err: unknown) => err instanceof ServerError && err.code === 'MIGRATION_NAME' && /0001_core_accounts\.sql and .*0001_other_things\.sql/.test(err.message));
    } finally {
      await rm(clash, { recursive: true, force: true });
    }
  });

  it('names a module\'s migrations directory that is missing (not shipped), not the database', async () => {
    const missing = join(tmpdir(), 'ratatosk-no-such-module', 'migrations');
    await assert.rejects(loadMigrations([migrationsDir(), missing]), (err: unknown) => err instanceof ServerError && err.code === 'MIGRATIONS_MISSING' && err.message.includes(missing) && /ENOENT/.test(err.message));
  });

  it('finds a module\'s migrations in its source folder, also from the built tree', () => {
    const root = join(migrationsDir(), '..');
    const expected = join(root, 'xeps', '0045-muc', 'migrations');
    assert.equal(moduleMigrationsDir(pathToFileURL(join(root, 'xeps', '0045-muc', 'index.ts')).href), expected);
    assert.equal(moduleMigrationsDir(pathToFileURL(join(root, 'dist', 'xeps', '0045-muc', 'index.js')).href), expected);
  });
});
