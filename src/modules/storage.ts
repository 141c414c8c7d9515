// What a module's own stores are built from (ModuleDefinition.stores): the engine the server opened
// (the one LMDB environment or the one PostgreSQL pool) and the helpers the core's stores use with it.
// Migrations sit in the module's folder (xeps/<module>/migrations/NNNN_<module>_<what>.sql) and are
// applied with the core's, in one sequence of versions, by `ratatosk migrate` and at start.
import { existsSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { UserDataOwner } from '../storage/embedded/env.js';
import type { StorageEngine } from '../storage/types.js';

export type { StorageEngine, UserDataOwner };
export { StoreUnavailableError } from '../storage/types.js';
export { accountExists, guard, type EmbeddedEnv } from '../storage/embedded/env.js';
export { bool, num, optStr, str, type Db, type Row } from '../storage/postgres/db.js';

/** A JSON value, as `ratatosk export` writes a module's data. */
export type TransferValue = string | number | boolean | null | TransferValue[] | { [key: string]: TransferValue };

/**
 * How `ratatosk export` and `import` move a module's data between back ends: data that belongs to an
 * account travels on that account's line (written after the account, only for accounts the import
 * creates); other data (a MUC service's rooms) on lines of its own.
 */
export interface ModuleTransfer<S> {
  /** What the module keeps for one account; undefined when nothing. */
  exportAccount?(store: S, username: string): Promise<TransferValue | undefined>;
  /** Writes an account's data as exportAccount gave it (checked by checkAccount first). */
  importAccount?(store: S, username: string, data: TransferValue): Promise<void>;
  /** What is wrong with an account's data read from a file; undefined when it can be imported. */
  checkAccount?(data: unknown): string | undefined;
  /** Every record of the module's data that belongs to no account, in a stable order. */
  exportRecords?(store: S): AsyncIterable<TransferValue>;
  /** Writes a record (checked by checkRecord first); false when the store already held it and it was left as it is. */
  importRecord?(store: S, data: TransferValue): Promise<boolean>;
  checkRecord?(data: unknown): string | undefined;
}

/** A module's stores: the directory of its migrations (PostgreSQL) and how to open them in the engine. */
export interface ModuleStoresSpec<S> {
  /** Absolute path of the module's migrations directory: moduleMigrationsDir(import.meta.url). */
  readonly migrations?: string;
  open(engine: StorageEngine): S;
  /**
   * Embedded back end: what removes an account's data, run inside the account's delete transaction
   * (`user del`, XEP-0077 cancel). On PostgreSQL the module's tables reference users (username)
   * ON DELETE CASCADE instead, and this is not asked.
   */
  accountData?(store: S): UserDataOwner | undefined;
  /** The module's data in `ratatosk export` and `import`. */
  readonly transfer?: ModuleTransfer<S>;
}

/** A module's stores spec with the module's name, as the storage factory opens it. */
export interface NamedModuleStores {
  readonly name: string;
  readonly stores: ModuleStoresSpec<unknown>;
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
