// Bulk loading benchmark: N users (100,000 by default), each with a roster of 18 contacts (the next
// 18 users, wrapping around, subscription both), loaded in batches through Stores.bulk into
// (a) a fresh embedded store in a temporary directory and (b) a fresh PostgreSQL schema.
// Every user gets the same credentials, derived once, as `ratatosk user load` does when told to.
//
//   npx tsx loadtest/bench/bulk-load.ts [--users 100000] [--roster 18] [--batch 5000] [--only embedded|postgres]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { deriveCredentials, type StoredCredentials } from '../../src/auth/credentials.js';
import { openEmbeddedStores } from '../../src/storage/embedded/index.js';
import { openPostgresStores } from '../../src/storage/postgres/index.js';
import { createTestSchema, postgresReachable, TEST_DATABASE_URL } from '../../src/storage/postgres/test-fixture.js';
import type { BulkUser, RosterItem, Stores } from '../../src/storage/types.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '100000' },
    roster: { type: 'string', default: '18' },
    batch: { type: 'string', default: '5000' },
    only: { type: 'string' },
  },
});

const USERS = Number(values.users);
const ROSTER = Number(values.roster);
const BATCH = Number(values.batch);
const DOMAIN = 'bench.example';

function username(i: number): string {
  return `user${i}`;
}

function batchOf(start: number, end: number, credentials: StoredCredentials): BulkUser[] {
  const users: BulkUser[] = [];
  for (let i = start; i < end; i++) {
    const roster: RosterItem[] = [];
    for (let k = 1; k <= ROSTER; k++) {
      const contact = username((i + k) % USERS);
      roster.push({ jid: `${contact}@${DOMAIN}`, name: contact, subscription: 'both', ask: false, approved: false, groups: ['Bench'] });
    }
    users.push({ username: username(i), credentials, roster });
  }
  return users;
}

interface Result {
  backEnd: string;
  seconds: number;
  created: number;
}

async function run(backEnd: string, stores: Stores, credentials: StoredCredentials): Promise<Result> {
  const started = process.hrtime.bigint();
  let created = 0;
  for (let start = 0; start < USERS; start += BATCH) {
    created += await stores.bulk.load(batchOf(start, Math.min(start + BATCH, USERS), credentials), { onExisting: 'fail' });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // Spot check: the last user's roster is all there.
  const last = await stores.roster.get(username(USERS - 1));
  if (created !== USERS || last.items.length !== Math.min(ROSTER, USERS - 1) || (await stores.accounts.count()) !== USERS) {
    throw new Error(`${backEnd}: expected ${USERS} users with rosters of ${ROSTER}, got ${created} created, last roster ${last.items.length}`);
  }
  return { backEnd, seconds, created };
}

function report(r: Result): void {
  console.log(`${r.backEnd.padEnd(9)} ${r.created} users x ${ROSTER} contacts, batches of ${BATCH}: ${r.seconds.toFixed(1)} s, ${Math.round(r.created / r.seconds)} users/s, ${Math.round((r.created * ROSTER) / r.seconds)} roster items/s`);
}

async function main(): Promise<void> {
  const credentials = await deriveCredentials('bench-password');
  if (values.only === undefined || values.only === 'embedded') {
    const dir = await mkdtemp(join(tmpdir(), 'ratatosk-bulk-'));
    const stores = await openEmbeddedStores(dir);
    try {
      report(await run('embedded', stores, credentials));
    } finally {
      await stores.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
  if (values.only === undefined || values.only === 'postgres') {
    if (!(await postgresReachable())) {
      console.log(`postgres  skipped: ${TEST_DATABASE_URL} does not answer`);
      return;
    }
    const { schema, drop } = await createTestSchema();
    const stores = await openPostgresStores({ url: TEST_DATABASE_URL, schema, max: 2 });
    try {
      report(await run('postgres', stores, credentials));
    } finally {
      await stores.close();
      await drop();
    }
  }
}

await main();
