// The vCard module's store (ModuleDefinition.stores): one vCard per account, gone with the account.
import { moduleMigrationsDir, type ModuleStoresSpec } from '../../../src/modules/api.js';
import { EmbeddedVCardStore } from './embedded.js';
import { PostgresVCardStore } from './postgres.js';
import { vcardTransfer } from './transfer.js';
import type { VCardStore } from './types.js';

export const vcardStores: ModuleStoresSpec<VCardStore> = {
  migrations: moduleMigrationsDir(new URL('../index.js', import.meta.url).href),
  open: (engine) => (engine.kind === 'embedded' ? new EmbeddedVCardStore(engine.env) : new PostgresVCardStore(engine.db)),
  accountData: (store) => (store instanceof EmbeddedVCardStore ? store : undefined),
  transfer: vcardTransfer,
};
