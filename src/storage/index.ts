// The storage factory: PostgreSQL when a database URL is configured, else the embedded store.
import type { Config } from '../config/types.js';
import { ServerError } from '../errors.js';
import { openEmbeddedStores } from './embedded/index.js';
import type { Stores } from './types.js';

export type { Account, AccountStore, Stores } from './types.js';
export { StoreUnavailableError } from './types.js';

export async function openStores(config: Config, options: { migrate?: boolean } = {}): Promise<Stores> {
  const url = config.database.url;
  if (url === undefined || url === '') return openEmbeddedStores(config.dataDir);
  try {
    // Loaded only when configured, so the embedded default never loads the PostgreSQL driver.
    const { openPostgresStores } = await import('./postgres/index.js');
    return await openPostgresStores({ url, migrate: options.migrate ?? true });
  } catch (err) {
    if (err instanceof ServerError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new ServerError('STORE_OPEN_FAILED', `cannot open PostgreSQL at database.url (RATATOSK_DATABASE_URL): ${reason}`);
  }
}
