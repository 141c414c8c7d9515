// The archive writer on a real embedded store: messages go in batches (batch_size, or after flush_ms), a
// failed batch stays queued, and while the store is down the queue keeps at most max_pending messages.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedStores } from '../../src/storage/embedded/index.js';
import { createLogger } from '../../src/observability/log.js';
import { StoreUnavailableError } from '../../src/storage/types.js';
import { archiveIdAt } from './ids.js';
import { archiveStores } from './store/index.js';
import type { ArchivedMessage, ArchivePage, ArchiveQuery, ArchiveStore } from './store/types.js';
import { ArchiveWriter } from './writer.js';

/** The real store, counting the batches it was given; `down` makes writes fail as an unreachable store's do (outage.test.ts has a real one). */
class CountingStore implements ArchiveStore {
  batches: number[] = [];
  down = false;
  constructor(private readonly inner: ArchiveStore) {}
  append(messages: readonly ArchivedMessage[]): Promise<void> {
    if (this.down) return Promise.reject(new StoreUnavailableError('the store is down'));
    this.batches.push(messages.length);
    return this.inner.append(messages);
  }
  query(q: ArchiveQuery): Promise<ArchivePage> {
    return this.inner.query(q);
  }
  has(owner: string, id: string): Promise<boolean> {
    return this.inner.has(owner, id);
  }
  getPrefs = (owner: string) => this.inner.getPrefs(owner);
  setPrefs: ArchiveStore['setPrefs'] = (owner, prefs) => this.inner.setPrefs(owner, prefs);
  purgeBefore = (ts: number) => this.inner.purgeBefore(ts);
  removeOwner = (owner: string) => this.inner.removeOwner(owner);
  scan: ArchiveStore['scan'] = (after, limit) => this.inner.scan(after, limit);
  allPrefs = () => this.inner.allPrefs();
}

const message = (i: number): ArchivedMessage => ({ owner: 'alice', id: archiveIdAt(1_700_000_000_000 + i, i), with: 'bob@localhost', peer: 'bob@localhost', timestamp: 1_700_000_000_000 + i, stanza: `<message><body>${i}</body></message>` });

describe('XEP-0313 archive writer', function () {
  let dir: string;
  let stores: Awaited<ReturnType<typeof openEmbeddedStores>>;
  let store: CountingStore;
  const log = createLogger('silent');

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'ratatosk-mam-writer-'));
    stores = await openEmbeddedStores(dir);
    store = new CountingStore(stores.module('mam', archiveStores));
  });

  afterEach(async function () {
    await stores.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  const count = async (): Promise<number> => (await store.query({ owner: 'alice', max: 10_000, from: 'first' })).messages.length;

  it('writes what arrives together in batches of batch_size', async function () {
    const writer = new ArchiveWriter(store, { batchSize: 200, flushMs: 5, maxPending: 10_000 }, log);
    for (let i = 0; i < 450; i++) writer.add(message(i));
    await writer.flush();
    assert.deepEqual(store.batches, [200, 200, 50]);
    assert.equal(await count(), 450);
  });

  it('writes a lone message after flush_ms without being asked', async function () {
    const writer = new ArchiveWriter(store, { batchSize: 200, flushMs: 5, maxPending: 10_000 }, log);
    writer.add(message(1));
    assert.equal(await count(), 0, 'not written synchronously');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await count(), 1);
    assert.equal(writer.queued, 0);
  });

  it('keeps a failed batch and at most max_pending messages while the store is down, and writes them when it is back', async function () {
    const writer = new ArchiveWriter(store, { batchSize: 10, flushMs: 1000, maxPending: 100 }, log);
    store.down = true;
    for (let i = 0; i < 30; i++) writer.add(message(i));
    await assert.rejects(writer.flush());
    assert.equal(writer.queued, 30, 'the failed batch is kept');
    for (let i = 30; i < 150; i++) writer.add(message(i));
    assert.equal(writer.queued, 100, 'the oldest beyond max_pending are dropped');
    store.down = false;
    await writer.flush();
    const kept = (await store.query({ owner: 'alice', max: 10_000, from: 'first' })).messages.map((m) => m.stanza);
    assert.deepEqual(kept, Array.from({ length: 100 }, (_, k) => `<message><body>${k + 50}</body></message>`));
    await writer.stop(100);
  });
});
