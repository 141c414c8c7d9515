// The last-activity module's store (ModuleDefinition.stores): one record per account, gone with the account.
import { moduleMigrationsDir, type ModuleStoresSpec } from '../../../src/modules/api.js';
import { EmbeddedLastActivityStore } from './embedded.js';
import { PostgresLastActivityStore } from './postgres.js';
import { lastActivityTransfer } from './transfer.js';
import type { LastActivityStore } from './types.js';

export const lastActivityStores: ModuleStoresSpec<LastActivityStore> = {
  migrations: moduleMigrationsDir(new URL('../index.js', import.meta.url).href),
  open: (engine) => (engine.kind === 'embedded' ? new EmbeddedLastActivityStore(engine.env) : new PostgresLastActivityStore(engine.db)),
  accountData: (store) => (store instanceof EmbeddedLastActivityStore ? store : undefined),
  transfer: lastActivityTransfer,
};
