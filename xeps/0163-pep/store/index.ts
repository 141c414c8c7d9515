// The PEP module's store (ModuleDefinition.stores): nodes and items per account, gone with the account and
// moved with it by `ratatosk export`/`import` (transfer.ts).
import { moduleMigrationsDir, type ModuleStoresSpec } from '../../../src/modules/api.js';
import { EmbeddedPepStore } from './embedded.js';
import { PostgresPepStore } from './postgres.js';
import { pepTransfer } from './transfer.js';
import type { PepStore } from './types.js';

export const pepStores: ModuleStoresSpec<PepStore> = {
  migrations: moduleMigrationsDir(new URL('../index.js', import.meta.url).href),
  open: (engine) => (engine.kind === 'embedded' ? new EmbeddedPepStore(engine.env) : new PostgresPepStore(engine.db)),
  accountData: (store) => (store instanceof EmbeddedPepStore ? store : undefined),
  transfer: pepTransfer,
};
