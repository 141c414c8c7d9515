// What a module's own stores are built from (ModuleDefinition.stores): the engine the server opened
// (the one LMDB environment or the one PostgreSQL pool) and the helpers the core's stores use with it.
// Migrations sit in the module's folder (xeps/<module>/migrations/NNNN_<module>_<what>.sql) and are
// applied with the core's, in one sequence of versions, by `ratatosk migrate` and at start.
import { existsSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StorageEngine } from '../storage/types.js';

export type { StorageEngine };
export { StoreUnavailableError } from '../storage/types.js';
export { guard, type EmbeddedEnv } from '../storage/embedded/env.js';
export { bool, num, optStr, str, type Db, type Row } from '../storage/postgres/db.js';

/** A module's stores: the directory of its migrations (PostgreSQL) and how to open them in the engine. */
export interface ModuleStoresSpec<S> {
  /** Absolute path of the module's migrations directory: moduleMigrationsDir(import.meta.url). */
  readonly migrations?: string;
  open(engine: StorageEngine): S;
}

/**
 * The migrations/ directory of the module whose file is `moduleUrl` (its import.meta.url), in the source
 * tree: the .sql files are not compiled, so a built server (dist/xeps/<module>/) reads them from
 * xeps/<module>/migrations next to package.json, as the core reads migrations/.
 */
export function moduleMigrationsDir(moduleUrl: string): string {
  const moduleDir = dirname(fileURLToPath(moduleUrl));
  let root = moduleDir;
  while (!existsSync(join(root, 'package.json'))) {
    const up = dirname(root);
    if (up === root) return join(moduleDir, 'migrations');
    root = up;
  }
  const parts = relative(root, moduleDir).split(sep);
  if (parts[0] === 'dist') parts.shift();
  return join(root, ...parts, 'migrations');
}
