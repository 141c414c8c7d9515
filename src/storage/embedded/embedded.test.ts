import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { open } from 'lmdb';
import { ServerError } from '../../errors.js';
import { accountStoreContract, fakeCredentials } from '../contract/accounts.contract.js';
import { bulkLoaderContract } from '../contract/bulk.contract.js';
import { offlineStoreContract } from '../contract/offline.contract.js';
import { rosterStoreContract, subscriptionRequestStoreContract, type ReopenableFixture } from '../contract/roster.contract.js';
import { embeddedPath, openEmbeddedStores } from './index.js';

const execFileAsync = promisify(execFile);

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'ratatosk-embedded-'));
}

accountStoreContract('embedded', openEmbeddedFixture);

/** Fresh embedded stores in a temporary directory, removed on cleanup. */
async function openEmbeddedFixture() {
  const dir = await tempDir();
  const stores = await openEmbeddedStores(dir);
  return {
    stores,
    async cleanup() {
      await stores.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

offlineStoreContract('embedded', openEmbeddedFixture);

/** Like openEmbeddedFixture, and able to close the stores and open the same directory again. */
async function openReopenableEmbeddedFixture(): Promise<ReopenableFixture> {
  const dir = await tempDir();
  const stores = await openEmbeddedStores(dir);
  return {
    stores,
    async reopen() {
      await stores.close();
      return openEmbeddedStores(dir);
    },
    async cleanup() {
      await stores.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

rosterStoreContract('embedded', openReopenableEmbeddedFixture);
subscriptionRequestStoreContract('embedded', openReopenableEmbeddedFixture);
bulkLoaderContract('embedded', openEmbeddedFixture);

/** Runs `script` in a fresh Node process (with tsx), where `open` is openEmbeddedStores; returns its stdout. */
async function inChildProcess(dir: string, script: string): Promise<string> {
  const moduleUrl = pathToFileURL(fileURLToPath(new URL('./index.ts', import.meta.url))).href;
  const code = `const { openEmbeddedStores: open } = await import(${JSON.stringify(moduleUrl)});
const dir = ${JSON.stringify(dir)};
${script}`;
  const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { timeout: 20_000 });
  return stdout.trim();
}

describe('embedded store', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await tempDir();
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the data directory and opens at <dataDir>/db', async () => {
    const nested = join(dir, 'a', 'b');
    const stores = await openEmbeddedStores(nested);
    assert.equal(stores.kind, 'embedded');
    assert.equal(embeddedPath(nested), join(nested, 'db'));
    await stores.accounts.create('alice', fakeCredentials('a'));
    await stores.close();
    await stores.close(); // closing twice is harmless

    const reopened = await openEmbeddedStores(nested);
    assert.equal(await reopened.accounts.exists('alice'), true);
    await reopened.close();
  });

  it('lets two instances on the same directory see each other’s writes', async () => {
    const a = await openEmbeddedStores(dir);
    const b = await openEmbeddedStores(dir);
    try {
      assert.equal(await b.accounts.exists('alice'), false);
      assert.equal(await a.accounts.create('alice', fakeCredentials('a')), true);
      assert.equal(await b.accounts.exists('alice'), true);
      assert.equal(await b.accounts.create('alice', fakeCredentials('b')), false);
      assert.equal(await b.accounts.setCredentials('alice', fakeCredentials('b')), true);
      assert.deepEqual((await a.accounts.get('alice'))?.credentials, fakeCredentials('b'));
      assert.equal(await a.accounts.delete('alice'), true);
      assert.equal(await b.accounts.exists('alice'), false);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('sees writes made by another process while open, and the other process sees ours', async function () {
    this.timeout(60_000);
    const stores = await openEmbeddedStores(dir);
    try {
      await stores.accounts.create('parent', fakeCredentials('p'));
      assert.equal(await stores.accounts.count(), 1); // a read snapshot is now in use here
      const out = await inChildProcess(
        dir,
        `const s = await open(dir);
const sawParent = await s.accounts.exists('parent');
const created = await s.accounts.create('child', { sha1: { salt: 'cw==', iterations: 1, storedKey: 'aw==', serverKey: 'aw==' }, sha256: { salt: 'cw==', iterations: 1, storedKey: 'aw==', serverKey: 'aw==' } });
await s.close();
console.log(JSON.stringify({ sawParent, created }));`,
      );
      assert.deepEqual(JSON.parse(out), { sawParent: true, created: true });
      assert.equal(await stores.accounts.exists('child'), true);
      assert.equal((await stores.accounts.get('child'))?.credentials.sha256?.iterations, 1);
      assert.deepEqual(await stores.accounts.list(), ['child', 'parent']);
      assert.equal(await stores.accounts.count(), 2);
    } finally {
      await stores.close();
    }
  });

  it('lets exactly one of several processes create the same account', async function () {
    this.timeout(60_000);
    const racers = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        inChildProcess(
          dir,
          `const s = await open(dir);
const c = { salt: 'cw==', iterations: ${i + 1}, storedKey: 'aw==', serverKey: 'aw==' };
const created = await s.accounts.create('race', { sha1: c, sha256: c });
await s.close();
console.log(JSON.stringify(created));`,
        ),
      ),
    );
    const results = racers.map((out): unknown => JSON.parse(out));
    assert.equal(results.filter((r) => r === true).length, 1, `results: ${racers.join(',')}`);
    const stores = await openEmbeddedStores(dir);
    try {
      assert.equal(await stores.accounts.count(), 1);
      assert.equal((await stores.accounts.get('race'))?.credentials.sha1?.iterations, results.indexOf(true) + 1);
    } finally {
      await stores.close();
    }
  });

  it('rejects a record that does not have the expected shape', async () => {
    const stores = await openEmbeddedStores(dir);
    const raw = open<unknown, string>({ path: embeddedPath(dir), maxDbs: 64 });
    try {
      await raw.openDB<unknown, string>({ name: 'accounts' }).put('broken', { credentials: { sha1: 'nope' }, createdAt: 'yesterday' });
      await assert.rejects(stores.accounts.get('broken'), (err: unknown) => err instanceof ServerError && err.code === 'STORE_CORRUPT' && err.message.includes('"broken"'));
      await assert.rejects(stores.accounts.setCredentials('broken', fakeCredentials('x')), (err: unknown) => err instanceof ServerError && err.code === 'STORE_CORRUPT');
      assert.equal(await stores.accounts.exists('broken'), true);
    } finally {
      await raw.close();
      await stores.close();
    }
  });
});
