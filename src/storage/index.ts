// The storage factory: PostgreSQL when a database URL is configured, else the embedded store.
import type { Config } from '../config/types.js';
import { ServerError } from '../errors.js';
import { openEmbeddedStores } from './embedded/index.js';
import type { Stores } from './types.js';

export type { Account, AccountStore, Stores } from './types.js';
export { StoreUnavailableError } from './types.js';

export async function openStores(config: Config): Promise<Stores> {
  if (config.database.url !== undefined && config.database.url !== '') {
    throw new ServerError(
      'STORE_UNSUPPORTED',
      'PostgreSQL storage is not built yet; unset database.url (RATATOSK_DATABASE_URL) to use the embedded store',
    );
  }
  return openEmbeddedStores(config.dataDir);
}
