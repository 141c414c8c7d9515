// What a module's own stores are built from (ModuleDefinition.stores): the engine the server opened
// (the one LMDB environment or the one PostgreSQL pool) and the helpers the core's stores use with it.
// Migrations sit in the module's folder (xeps/<module>/migrations/NNNN_<module>_<what>.sql) and are
// applied with the core's, in one sequence of versions, by `ratatosk migrate` and at start.
import type { StorageEngine } from '../storage/types.js';

export type { StorageEngine };
export { StoreUnavailableError } from '../storage/types.js';
export { guard, type EmbeddedEnv } from '../storage/embedded/env.js';
export { bool, num, optStr, str, type Db, type Row } from '../storage/postgres/db.js';

/** A module's stores: the directory of its migrations (PostgreSQL) and how to open them in the engine. */
export interface ModuleStoresSpec<S> {
  /** Absolute path of the module's migrations directory, e.g. fileURLToPath(new URL('./migrations', import.meta.url)). */
  readonly migrations?: string;
  open(engine: StorageEngine): S;
}
