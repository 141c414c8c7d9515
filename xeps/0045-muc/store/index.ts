// The MUC module's stores (ModuleDefinition.stores): persistent rooms in the server's storage engine.
// Rooms belong to their service, not to an account, so deleting an account leaves them.
import { moduleMigrationsDir, type ModuleStoresSpec } from '../../../src/modules/api.js';
import { EmbeddedRoomStore } from './embedded.js';
import { PostgresRoomStore } from './postgres.js';
import { mucTransfer } from './transfer.js';
import type { RoomStore } from './types.js';

export const mucStores: ModuleStoresSpec<RoomStore> = {
  migrations: moduleMigrationsDir(new URL('../index.js', import.meta.url).href),
  open: (engine) => (engine.kind === 'embedded' ? new EmbeddedRoomStore(engine.env) : new PostgresRoomStore(engine.db)),
  transfer: mucTransfer,
};
