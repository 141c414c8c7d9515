// The privacy module's stores (ModuleDefinition.stores): privacy lists and the block list per account,
// gone with the account.
import { moduleMigrationsDir, type ModuleStoresSpec } from '../../../src/modules/api.js';
import { EmbeddedBlockListStore, EmbeddedPrivacyStore } from './embedded.js';
import { PostgresBlockListStore, PostgresPrivacyStore } from './postgres.js';
import { privacyTransfer } from './transfer.js';
import type { PrivacyModuleStores } from './types.js';

export const privacyStores: ModuleStoresSpec<PrivacyModuleStores> = {
  migrations: moduleMigrationsDir(new URL('../index.js', import.meta.url).href),
  open: (engine) =>
    engine.kind === 'embedded'
      ? { privacy: new EmbeddedPrivacyStore(engine.env), blocklist: new EmbeddedBlockListStore(engine.env) }
      : { privacy: new PostgresPrivacyStore(engine.db), blocklist: new PostgresBlockListStore(engine.db) },
  accountData: ({ privacy, blocklist }) =>
    privacy instanceof EmbeddedPrivacyStore && blocklist instanceof EmbeddedBlockListStore
      ? { removeUserData: (username) => (privacy.removeUserData(username), blocklist.removeUserData(username)) }
      : undefined,
  transfer: privacyTransfer,
};
