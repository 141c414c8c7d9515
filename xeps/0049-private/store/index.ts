// The private XML module's store (ModuleDefinition.stores): fragments per account, gone with the account.
import { moduleMigrationsDir, type ModuleStoresSpec } from '../../../src/modules/api.js';
import { EmbeddedPrivateXmlStore } from './embedded.js';
import { PostgresPrivateXmlStore } from './postgres.js';
import { privateXmlTransfer } from './transfer.js';
import type { PrivateXmlStore } from './types.js';

export const privateXmlStores: ModuleStoresSpec<PrivateXmlStore> = {
  migrations: moduleMigrationsDir(new URL('../index.js', import.meta.url).href),
  open: (engine) => (engine.kind === 'embedded' ? new EmbeddedPrivateXmlStore(engine.env) : new PostgresPrivateXmlStore(engine.db)),
  accountData: (store) => (store instanceof EmbeddedPrivateXmlStore ? store : undefined),
  transfer: privateXmlTransfer,
};
