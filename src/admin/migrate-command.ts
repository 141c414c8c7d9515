// `ratatosk migrate`: applies the PostgreSQL migrations in migrations/ and the modules' that the database lacks
// (the server also does this at start). The embedded store keeps no schema.
import { ServerError } from '../errors.js';
import { Db } from '../storage/postgres/db.js';
import { loadMigrations, migrate, migrationsDir } from '../storage/postgres/migrate.js';
import type { CommandResult, ConfigCommand } from './command.js';

export const migrateCommand: ConfigCommand = {
  name: 'migrate',
  runs: 'config',
  summary: 'Apply missing PostgreSQL schema migrations and print the schema version.',
  usage: 'migrate',
  details: [
    'Needs database.url (RATATOSK_DATABASE_URL). Safe while servers run and from several',
    'processes at once (they take turns on an advisory lock). With the embedded store there',
    'is nothing to migrate.',
  ],
  args: [],
  options: [],
  async run(ctx): Promise<CommandResult> {
    const url = ctx.config.database.url;
    if (url === undefined || url === '') {
      return { exitCode: 0, lines: ['nothing to migrate: the embedded store has no schema (set database.url / RATATOSK_DATABASE_URL for PostgreSQL)'], data: { store: 'embedded', applied: [] } };
    }
    const db = new Db({ url, max: 1 });
    try {
      const report = await migrate(db, await loadMigrations([migrationsDir(), ...(ctx.migrations ?? [])]));
      const lines = report.applied.map((name) => `applied ${name}`);
      lines.push(report.applied.length === 0 ? `schema is up to date at version ${report.current}` : `schema is now at version ${report.current}`);
      return { exitCode: 0, lines, data: { store: 'postgres', applied: report.applied, version: report.current } };
    } catch (err) {
      if (err instanceof ServerError) throw err;
      throw new ServerError('STORE_OPEN_FAILED', `cannot migrate PostgreSQL at database.url (RATATOSK_DATABASE_URL): ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      await db.close();
    }
  },
};
