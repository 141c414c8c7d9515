// Test support for a module's store contract: the module's stores opened through the storage factory
// on both back ends (embedded in a temporary directory; PostgreSQL in a schema of its own, with the
// core's and the module's migrations), beside the core stores (accounts, to create and delete owners).
//   onBothBackEnds('vcard', vcardStores, vcardStoreContract);
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModuleStoresSpec } from '../../modules/storage.js';
import { openEmbeddedStores } from '../embedded/index.js';
import { openPostgresStores } from '../postgres/index.js';
import { createTestSchema, requirePostgres, TEST_DATABASE_URL } from '../postgres/test-fixture.js';
import type { ContractFixture } from './accounts.contract.js';

export interface ModuleContractFixture<S> extends ContractFixture {
  /** The module's stores, opened as the server opens them. */
  readonly store: S;
}

export type OpenModuleFixture<S> = () => Promise<ModuleContractFixture<S>>;

export function embeddedModuleFixture<S>(module: string, spec: ModuleStoresSpec<S>): OpenModuleFixture<S> {
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), `ratatosk-${module}-store-`));
    const stores = await openEmbeddedStores(dir);
    return {
      stores,
      store: stores.module(module, spec),
      async cleanup() {
        await stores.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  };
}

export function postgresModuleFixture<S>(module: string, spec: ModuleStoresSpec<S>): OpenModuleFixture<S> {
  return async () => {
    const { schema, drop } = await createTestSchema();
    const stores = await openPostgresStores({ url: TEST_DATABASE_URL, schema, max: 4, migrations: spec.migrations === undefined ? [] : [spec.migrations] });
    return {
      stores,
      store: stores.module(module, spec),
      async cleanup() {
        await stores.close();
        await drop();
      },
    };
  };
}

/** Runs a module store's contract on the embedded store and on PostgreSQL (skipped, or failed under CI, without it). */
export function onBothBackEnds<S>(module: string, spec: ModuleStoresSpec<S>, contract: (backEnd: string, open: OpenModuleFixture<S>) => void): void {
  contract('embedded', embeddedModuleFixture(module, spec));
  describe('PostgreSQL', function () {
    before(async function () {
      await requirePostgres(this);
    });
    contract('postgres', postgresModuleFixture(module, spec));
  });
}
