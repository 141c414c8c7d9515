import { moduleMigrationsDir, type ModuleStoresSpec } from '../../../src/modules/api.js';
import { EmbeddedArchiveStore } from './embedded.js';
import { PostgresArchiveStore } from './postgres.js';
import { archiveTransfer } from './transfer.js';
import type { ArchiveStore } from './types.js';

export const archiveStores: ModuleStoresSpec<ArchiveStore> = {
  migrations: moduleMigrationsDir(new URL('../index.js', import.meta.url).href),
  open: (engine) => (engine.kind === 'embedded' ? new EmbeddedArchiveStore(engine.env) : new PostgresArchiveStore(engine.db)),
  // On PostgreSQL a trigger on users does it (the migration).
  accountData: (store) => (store instanceof EmbeddedArchiveStore ? store : undefined),
  transfer: archiveTransfer,
};
