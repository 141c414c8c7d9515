// Schema migrations: numbered SQL files in migrations/ and in the modules' migrations/ directories
// (NNNN_<module>_<what>.sql, one sequence of versions), forward only,
// each applied once in its own transaction. Several nodes starting together serialise on an
// advisory lock; a database that has migrations this code does not know refuses to start.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServerError } from '../../errors.js';
import { num, str, type Db } from './db.js';

/** An arbitrary constant shared by every Ratatosk node: the key of the migration advisory lock. */
const MIGRATION_LOCK = 7_146_532_001;
const FILE_NAME = /^(\d{4})_([a-z0-9]+)_([a-z0-9_]+)\.sql$/;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The repository's migrations/ directory, from src/ (tsx) or dist/src/ (built). */
export function migrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'migrations');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new ServerError('MIGRATIONS_MISSING', 'cannot find the migrations/ directory next to package.json');
}

/**
 * The migrations of the core's directory and of the modules' (xeps/<module>/migrations), in version order.
 * A migration is recorded by its version and file name, so a file that moves to a module's directory
 * under the same name is not applied again. Versions are one sequence across every directory.
 */
export async function loadMigrations(dirs: string | readonly string[] = migrationsDir()): Promise<Migration[]> {
  const migrations: Array<Migration & { path: string }> = [];
  for (const dir of typeof dirs === 'string' ? [dirs] : dirs) {
    const files = (await readdir(dir).catch((err: unknown) => {
      // A module's directory missing from an installed tree: the files were not shipped, the database is not at fault.
      const code = err instanceof Error && 'code' in err ? String(err.code) : 'error';
      throw new ServerError('MIGRATIONS_MISSING', `cannot read the migrations directory ${dir} (${code}): install every xeps/<module>/migrations/ beside migrations/`);
    })).filter((f) => f.endsWith('.sql')).sort();
    for (const file of files) {
      const match = FILE_NAME.exec(file);
      if (!match) throw new ServerError('MIGRATION_NAME', `migration file "${join(dir, file)}" must be named NNNN_<module>_<what>.sql`);
      const version = Number(match[1]);
      const other = migrations.find((m) => m.version === version);
      if (other) throw new ServerError('MIGRATION_NAME', `two migrations are numbered ${version}: ${other.path} and ${join(dir, file)}`);
      migrations.push({ version, name: file, sql: await readFile(join(dir, file), 'utf8'), path: join(dir, file) });
    }
  }
  return migrations.sort((a, b) => a.version - b.version).map(({ version, name, sql }) => ({ version, name, sql }));
}

export interface MigrationReport {
  applied: string[];
  current: number;
}

/** Applies what is missing. Safe to run from several processes at once. */
export async function migrate(db: Db, migrations?: Migration[]): Promise<MigrationReport> {
  const all = migrations ?? (await loadMigrations());
  const latest = all.reduce((max, m) => Math.max(max, m.version), 0);
  const client = await db.pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const rows = (await client.query('SELECT version, name FROM schema_migrations ORDER BY version')).rows as Array<Record<string, unknown>>;
      const done = new Set(rows.map((r) => num(r, 'version')));
      const newest = Math.max(0, ...done);
      if (newest > latest) {
        const unknown = rows.filter((r) => num(r, 'version') > latest).map((r) => str(r, 'name'));
        throw new ServerError(
          'DATABASE_TOO_NEW',
          `the database schema is at version ${newest} (${unknown.join(', ')}) but this Ratatosk knows migrations up to ${latest}; upgrade Ratatosk or point it at another database`,
        );
      }
      const applied: string[] = [];
      for (const m of all) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new ServerError('MIGRATION_FAILED', `migration ${m.name} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
        applied.push(m.name);
      }
      return { applied, current: Math.max(newest, ...all.map((m) => m.version)) };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}
