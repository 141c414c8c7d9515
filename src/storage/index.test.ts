import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/types.js';
import { ServerError } from '../errors.js';
import { openStores } from './index.js';

function configWith(dataDir: string, databaseUrl?: string): Config {
  // Only the fields openStores reads matter here.
  const database: Config['database'] = databaseUrl === undefined ? {} : { url: databaseUrl };
  return { dataDir, database } as Partial<Config> as Config;
}

describe('openStores', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ratatosk-stores-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('opens the embedded store at the data directory when no database URL is set', async () => {
    const stores = await openStores(configWith(dir));
    try {
      assert.equal(stores.kind, 'embedded');
      assert.equal(await stores.accounts.count(), 0);
    } finally {
      await stores.close();
    }
  });

  it('names the setting when PostgreSQL cannot be reached', async () => {
    await assert.rejects(
      openStores(configWith(dir, 'postgres://postgres@127.0.0.1:1/none')),
      (err: unknown) => err instanceof ServerError && err.code === 'STORE_OPEN_FAILED' && /RATATOSK_DATABASE_URL/.test(err.message),
    );
  });
});
