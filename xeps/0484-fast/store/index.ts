// The FAST module's store (ModuleDefinition.stores): tokens per account and user agent, gone with the account.
import { moduleMigrationsDir, type ModuleStoresSpec } from '../../../src/modules/api.js';
import { EmbeddedFastTokenStore } from './embedded.js';
import { PostgresFastTokenStore } from './postgres.js';
import type { FastTokenStore } from './types.js';

export const fastStores: ModuleStoresSpec<FastTokenStore> = {
  migrations: moduleMigrationsDir(new URL('../index.js', import.meta.url).href),
  open: (engine) => (engine.kind === 'embedded' ? new EmbeddedFastTokenStore(engine.env) : new PostgresFastTokenStore(engine.db)),
  accountData: (store) => (store instanceof EmbeddedFastTokenStore ? store : undefined),
};
