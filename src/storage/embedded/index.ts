// The embedded back end: one LMDB environment at <dataDir>/db with a named sub-database per
// kind of data. Several processes may open it at once (the server and `ratatosk user add`):
// LMDB serialises writers with a lock file, and lmdb-js renews its read snapshot on every event
// turn and after every commit, so a process sees another's commits from its next event turn on.
// No object cache is enabled, since a per-process cache would go stale when another process
// writes. Within one process every opener of a directory shares one environment (as LMDB
// advises), so an instance never reads an older snapshot than a sibling has just written.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { ServerError } from '../../errors.js';
import { ModuleStoreRegistry } from '../module-stores.js';
import { StoreUnavailableError, type Stores } from '../types.js';
import { EmbeddedAccountStore, type AccountsDb } from './accounts.js';
import { EmbeddedBulkLoader } from './bulk.js';
import { EmbeddedOfflineStore } from './offline.js';
import { EmbeddedRosterStore, EmbeddedSubscriptionRequestStore } from './roster.js';
import type { EmbeddedEnv, UserDataOwner } from './env.js';

/** Room for the sub-databases of the core's stores and the modules' (rooms, vcards, ...). */
const MAX_DBS = 64;
/**
 * Address space reserved for the map, not disk or memory: the file grows only as data is written. Without it
 * lmdb-js starts small and maps the file again at twice the size each time it fills, keeping the older
 * mappings, so the same pages count several times in the RSS (map-size.test.ts). lmdb-js still grows the map
 * past this size if a store ever needs more.
 */
const MAP_SIZE = 2 ** 36;

interface SharedEnv {
  env: RootDatabase<unknown, string>;
  accounts: AccountsDb;
  users: number;
}

/** Open environments of this process, by absolute path. */
const shared = new Map<string, SharedEnv>();

export function embeddedPath(dataDir: string): string {
  return join(dataDir, 'db');
}

function acquire(path: string): SharedEnv {
  const existing = shared.get(path);
  if (existing !== undefined) {
    existing.users++;
    return existing;
  }
  const env = open<unknown, string>({ path, maxDbs: MAX_DBS, mapSize: MAP_SIZE, cache: false, compression: false });
  const entry: SharedEnv = { env, accounts: env.openDB<unknown, string>({ name: 'accounts', cache: false }), users: 1 };
  shared.set(path, entry);
  return entry;
}

async function release(path: string, entry: SharedEnv): Promise<void> {
  entry.users--;
  if (entry.users > 0) return;
  shared.delete(path);
  await entry.env.close();
}

export async function openEmbeddedStores(dataDir: string): Promise<Stores> {
  const path = resolve(embeddedPath(dataDir));
  let entry: SharedEnv;
  try {
    await mkdir(path, { recursive: true });
    entry = acquire(path);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ServerError('STORE_OPEN_FAILED', `cannot open the embedded store at ${path} (data_dir / RATATOSK_DATA_DIR): ${reason}`);
  }
  const env: EmbeddedEnv = entry.env;
  const roster = new EmbeddedRosterStore(env);
  const subscriptionRequests = new EmbeddedSubscriptionRequestStore(env);
  const offline = new EmbeddedOfflineStore(env);
  // Everything an account owns goes with it, in the account's delete transaction: the core's stores
  // and the modules' opened through `module` (their spec's accountData).
  const owners: UserDataOwner[] = [roster, subscriptionRequests, offline];
  const accounts = new EmbeddedAccountStore(entry.accounts, owners);
  const modules = new ModuleStoreRegistry({ kind: 'embedded', env }, owners);
  let closed = false;
  return {
    kind: 'embedded',
    engine: { kind: 'embedded', env },
    accounts,
    roster,
    subscriptionRequests,
    offline,
    module: (name, spec) => modules.open(name, spec),
    bulk: new EmbeddedBulkLoader(env, entry.accounts, roster),
    async ping(): Promise<void> {
      if (closed) throw new StoreUnavailableError('the embedded store is closed');
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await release(path, entry);
    },
  };
}
