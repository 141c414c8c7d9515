// The embedded store maps its LMDB file once. Without a map size, lmdb-js starts with a small map and, each
// time the file outgrows it, maps the file again at twice the size while the older mappings stay: the same
// pages then count several times in the server's RSS (the soak, loadtest/soak, saw 123 MiB of mappings of a
// 58 MiB file after 25 minutes).
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { embeddedPath, openEmbeddedStores } from './index.js';

async function mappingsOf(file: string): Promise<number> {
  const maps = await readFile('/proc/self/maps', 'utf8');
  return maps.split('\n').filter((line) => line.endsWith(` ${file}`)).length;
}

describe('embedded store: one mapping of the LMDB file', function () {
  // /proc/self/maps is Linux's; the servers and CI run on Linux.
  it('keeps a single mapping of data.mdb while the file grows to several MiB', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'ratatosk-map-size-'));
    const stores = await openEmbeddedStores(dir);
    try {
      const file = join(resolve(embeddedPath(dir)), 'data.mdb');
      const stanza = `<message to='a@example.test'><body>${'x'.repeat(20_000)}</body></message>`;
      for (let i = 0; i < 400; i++) assert.equal(await stores.offline.push('a', stanza, 1_000_000), true);
      assert.equal((await stores.offline.list('a')).length, 400);
      // Positive control: the file is mapped at all (the path matches the line format of /proc/self/maps).
      const mappings = await mappingsOf(file);
      assert.ok(mappings >= 1, `no mapping of ${file} found`);
      assert.equal(mappings, 1, `data.mdb is mapped ${mappings} times`);
    } finally {
      await stores.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
