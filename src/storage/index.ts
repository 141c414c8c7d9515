// The storage factory: PostgreSQL when a database URL is configured, else the embedded store.
import type { Config } from '../config/types.js';
import { ServerError } from '../errors.js';
import type { NamedModuleStores } from '../modules/storage.js';
import type { Logger } from '../observability/log.js';
import { openEmbeddedStores } from './embedded/index.js';
import { isUnavailable, openPostgresStores } from './postgres/index.js';
import { StoreUnavailableError, type Stores } from './types.js';

export type { Account, AccountStore, StorageEngine, Stores } from './types.js';
export { StoreUnavailableError } from './types.js';

/** How long `serve` waits for an unreachable PostgreSQL at start-up when the configuration says nothing. */
export const DEFAULT_STARTUP_RETRY_SECONDS = 60;
const FIRST_RETRY_DELAY_MS = 250;
const MAX_RETRY_DELAY_MS = 5000;

export interface OpenStoresOptions {
  migrate?: boolean;
  /** The modules' migration directories (PostgreSQL), applied with the core's in version order. */
  migrations?: readonly string[];
  /**
   * The modules' stores, opened with the core's: their migrations are applied, and on the embedded
   * back end deleting an account removes their data too, whether or not the modules run (the CLI).
   */
  modules?: readonly NamedModuleStores[];
  /**
   * Keep retrying while PostgreSQL does not answer, for this long, logging each attempt (the server at
   * start-up, so that a database that comes up a little later is waited for). Unset: fail at once.
   */
  retry?: { seconds: number; log: Logger };
}

export async function openStores(config: Config, options: OpenStoresOptions = {}): Promise<Stores> {
  const stores = await openEngine(config, options);
  for (const { name, stores: spec } of options.modules ?? []) stores.module(name, spec);
  return stores;
}

/** Every migrations directory of the modules, given either way, each once. */
function moduleMigrations(options: OpenStoresOptions): string[] {
  const fromModules = (options.modules ?? []).flatMap((m) => (m.stores.migrations === undefined ? [] : [m.stores.migrations]));
  return [...new Set([...(options.migrations ?? []), ...fromModules])];
}

async function openEngine(config: Config, options: OpenStoresOptions): Promise<Stores> {
  const url = config.database.url;
  if (url === undefined || url === '') return openEmbeddedStores(config.dataDir);
  const migrations = moduleMigrations(options);
  const retry = options.retry;
  const deadline = Date.now() + (retry?.seconds ?? 0) * 1000;
  let delay = FIRST_RETRY_DELAY_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await openPostgresStores({ url, migrate: options.migrate ?? true, migrations });
    } catch (err) {
      if (err instanceof ServerError) throw err;
      const reason = reasonOf(err);
      const unreachable = err instanceof StoreUnavailableError || isUnavailable(err);
      const wait = Math.min(delay, deadline - Date.now());
      if (!retry || !unreachable || wait <= 0) {
        const tried = retry && unreachable ? ` (no answer in ${retry.seconds} s, ${attempt} attempts; database.startup_retry_seconds sets how long to wait)` : '';
        throw new ServerError('STORE_OPEN_FAILED', `cannot open PostgreSQL at database.url (RATATOSK_DATABASE_URL)${tried}: ${reason}`);
      }
      retry.log.warn({ attempt, reason, retryInMs: wait }, 'PostgreSQL (RATATOSK_DATABASE_URL) does not answer; retrying');
      await new Promise((resolve) => setTimeout(resolve, wait));
      delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
    }
  }
}

function reasonOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as Error & { code?: unknown }).code;
  // A refused connection to a name with several addresses is an AggregateError with an empty message.
  const message = err.message || (err instanceof AggregateError ? err.errors.map(reasonOf).join('; ') : err.name);
  return typeof code === 'string' && !message.includes(code) ? `${code} ${message}` : message;
}
