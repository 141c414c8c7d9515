// The push module's store (ModuleDefinition.stores): an account's app server registrations, gone with it.
import { moduleMigrationsDir, type ModuleStoresSpec } from '../../../src/modules/api.js';
import { EmbeddedPushStore } from './embedded.js';
import { PostgresPushStore } from './postgres.js';
import { pushTransfer } from './transfer.js';
import type { PushStore } from './types.js';

export const pushStores: ModuleStoresSpec<PushStore> = {
  migrations: moduleMigrationsDir(new URL('../index.js', import.meta.url).href),
  open: (engine) => (engine.kind === 'embedded' ? new EmbeddedPushStore(engine.env) : new PostgresPushStore(engine.db)),
  accountData: (store) => (store instanceof EmbeddedPushStore ? store : undefined),
  transfer: pushTransfer,
};
