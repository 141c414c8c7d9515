// The PostgreSQL back end: one pool shared by every store (the modules' too), the schema from
// migrations/ and the modules' migrations directories.
import { ModuleStoreRegistry } from '../module-stores.js';
import type { Stores } from '../types.js';
import { StoreUnavailableError } from '../types.js';
import { PostgresAccountStore } from './accounts.js';
import { PostgresBulkLoader } from './bulk.js';
import { Db, type DbOptions } from './db.js';
import { loadMigrations, migrate, migrationsDir } from './migrate.js';
import { PostgresOfflineStore } from './offline.js';
import { PostgresRosterStore, PostgresSubscriptionRequestStore } from './roster.js';

export { isUnavailable } from './db.js';

export interface PostgresOptions extends DbOptions {
  /** Apply missing migrations before opening (ratatosk serve does; tools may not). */
  migrate?: boolean;
  /** The modules' migration directories, applied with the core's (migrate.ts). */
  migrations?: readonly string[];
}

export async function openPostgresStores(options: PostgresOptions): Promise<Stores & { db: Db }> {
  const db = new Db(options);
  try {
    if (options.migrate !== false) await migrate(db, await loadMigrations([migrationsDir(), ...(options.migrations ?? [])]));
  } catch (err) {
    await db.close();
    throw err;
  }
  const modules = new ModuleStoreRegistry({ kind: 'postgres', db });
  return {
    kind: 'postgres',
    engine: { kind: 'postgres', db },
    db,
    accounts: new PostgresAccountStore(db),
    roster: new PostgresRosterStore(db),
    subscriptionRequests: new PostgresSubscriptionRequestStore(db),
    offline: new PostgresOfflineStore(db),
    module: (name, spec) => modules.open(name, spec),
    bulk: new PostgresBulkLoader(db),
    async ping() {
      try {
        await db.query('SELECT 1');
      } catch (err) {
        if (err instanceof StoreUnavailableError) throw err;
        throw new StoreUnavailableError('PostgreSQL did not answer', err);
      }
    },
    close: () => db.close(),
  };
}
