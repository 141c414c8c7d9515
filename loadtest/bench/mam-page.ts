// Message archive (XEP-0313) page times: one archive of 1,000,000 messages (20 contacts, one message a
// second of simulated time), bulk-loaded through the archive store in batches, into (a) a fresh embedded
// (LMDB) store in a temporary directory and (b) a fresh PostgreSQL schema; then a page of 50, timed as the
// server asks for it (ArchiveStore.query): the latest page (<before/> empty), a page in the middle
// (before-id), the latest page with a `with` filter, and a page in the middle by time (start/end as id bounds).
//
//   npx tsx loadtest/bench/mam-page.ts [--messages 1000000] [--batch 5000] [--runs 200] [--only embedded|postgres]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openEmbeddedStores } from '../../src/storage/embedded/index.js';
import { openPostgresStores } from '../../src/storage/postgres/index.js';
import { createTestSchema, postgresReachable, TEST_DATABASE_URL } from '../../src/storage/postgres/test-fixture.js';
import { archiveIdAt, idFloor } from '../../xeps/0313-mam/ids.js';
import { archiveStores } from '../../xeps/0313-mam/store/index.js';
import type { ArchivedMessage, ArchiveQuery, ArchiveStore } from '../../xeps/0313-mam/store/types.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '5000' },
    runs: { type: 'string', default: '200' },
    only: { type: 'string' },
  },
});

const MESSAGES = Number(values.messages);
const BATCH = Number(values.batch);
const RUNS = Number(values.runs);
const OWNER = 'alice';
const PEERS = 20;
const T0 = Date.UTC(2025, 0, 1);

function messageAt(i: number): ArchivedMessage {
  const peer = `contact${i % PEERS}@bench.example`;
  const ts = T0 + i * 1000;
  const stanza = `<message xmlns="jabber:client" from="${peer}/phone" to="alice@bench.example/pc" type="chat" id="m${i}"><body>message number ${i}, about as long as a chat line usually is</body></message>`;
  return { owner: OWNER, id: archiveIdAt(ts, i), with: peer, peer: `${peer}/phone`, timestamp: ts, stanza };
}

async function fill(store: ArchiveStore): Promise<{ seconds: number; middleId: string }> {
  const started = process.hrtime.bigint();
  let middleId = '';
  for (let start = 0; start < MESSAGES; start += BATCH) {
    const batch: ArchivedMessage[] = [];
    for (let i = start; i < Math.min(MESSAGES, start + BATCH); i++) batch.push(messageAt(i));
    const middle = batch.find((_, k) => start + k === Math.floor(MESSAGES / 2));
    if (middle !== undefined) middleId = middle.id;
    await store.append(batch);
  }
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, middleId };
}

async function time(store: ArchiveStore, query: ArchiveQuery): Promise<{ median: number; p99: number }> {
  for (let i = 0; i < 20; i++) await store.query(query);
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    const page = await store.query(query);
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (page.messages.length !== 50) throw new Error(`a page of ${page.messages.length}`);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(RUNS / 2)] ?? 0, p99: samples[Math.floor(RUNS * 0.99)] ?? 0 };
}

async function measure(name: string, store: ArchiveStore, prepare?: () => Promise<void>): Promise<void> {
  const { seconds, middleId } = await fill(store);
  await prepare?.();
  console.log(`${name}: ${MESSAGES} messages loaded in ${seconds.toFixed(1)} s (${Math.round(MESSAGES / seconds)}/s)`);
  const middleTime = T0 + Math.floor(MESSAGES / 2) * 1000;
  const cases: Array<[string, ArchiveQuery]> = [
    ['latest page (before empty)', { owner: OWNER, max: 50, from: 'last' }],
    ['middle page (before-id)', { owner: OWNER, max: 50, from: 'last', before: middleId }],
    ['latest page, with=contact7', { owner: OWNER, max: 50, from: 'last', with: 'contact7@bench.example' }],
    ['middle page by time (start)', { owner: OWNER, max: 50, from: 'first', after: idFloor(middleTime), before: idFloor(middleTime + 3_600_000) }],
  ];
  for (const [label, query] of cases) {
    const { median, p99 } = await time(store, query);
    console.log(`  ${label.padEnd(30)} median ${median.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms (${RUNS} runs)`);
  }
}

if (values.only !== 'postgres') {
  const dir = await mkdtemp(join(tmpdir(), 'ratatosk-mam-bench-'));
  const stores = await openEmbeddedStores(dir);
  try {
    await measure('embedded (LMDB)', stores.module('mam', archiveStores));
  } finally {
    await stores.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (values.only !== 'embedded') {
  if (!(await postgresReachable())) {
    console.log(`PostgreSQL at ${TEST_DATABASE_URL} is not reachable: skipped`);
  } else {
    const { schema, drop } = await createTestSchema();
    const url = new URL(TEST_DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const stores = await openPostgresStores({ url: url.toString(), max: 4, migrations: archiveStores.migrations === undefined ? [] : [archiveStores.migrations] });
    try {
      await measure('PostgreSQL', stores.module('mam', archiveStores), async () => {
        await stores.db.query('VACUUM ANALYZE mam_messages');
      });
    } finally {
      await stores.close();
      await drop();
    }
  }
}
