// Times `ratatosk user add-many` end to end (the real CLI, in this process) against a fresh
// embedded store in a temporary directory and a fresh PostgreSQL schema, then checks a sample
// of rosters for symmetry. The target: 100,000 users with rosters of 18 in under 2 minutes.
//
//   npx tsx loadtest/bench/provision.ts [--count 100000] [--roster-size 18] [--own-salts] [--only embedded|postgres]
//
// Without --own-salts the run uses --same-salt (one credential set for all users), as load
// tests do; with it every user's two PBKDF2 derivations dominate (about 2 ms each here).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { runCli } from '../../src/admin/cli.js';
import { openEmbeddedStores } from '../../src/storage/embedded/index.js';
import { openPostgresStores } from '../../src/storage/postgres/index.js';
import { createTestSchema, postgresReachable, TEST_DATABASE_URL } from '../../src/storage/postgres/test-fixture.js';
import type { Stores } from '../../src/storage/types.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    'roster-size': { type: 'string', default: '18' },
    'own-salts': { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const COUNT = Number(values.count);
const ROSTER = Number(values['roster-size']);
const DOMAIN = 'bench.example';

class Lines extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function provision(env: NodeJS.ProcessEnv): Promise<{ seconds: number; output: string }> {
  const argv = ['user', 'add-many', '--prefix', 'user', '--count', String(COUNT), '--domain', DOMAIN, '--password', 'secret', '--roster-size', String(ROSTER)];
  if (!values['own-salts']) argv.push('--same-salt');
  const stdout = new Lines();
  const started = performance.now();
  // Progress goes straight to this terminal's stderr.
  const code = await runCli(argv, { stdout, stderr: process.stderr, stdin: process.stdin, env: { ...env, RATATOSK_DOMAIN: DOMAIN } });
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`ratatosk ${argv.join(' ')} exited with ${code}`);
  return { seconds, output: stdout.text.trim() };
}

/** Every 997th user's roster has ROSTER items, each of which lists the user back. */
async function check(stores: Stores): Promise<void> {
  const count = await stores.accounts.count();
  if (count !== COUNT) throw new Error(`expected ${COUNT} accounts, found ${count}`);
  for (let i = 1; i <= COUNT; i += 997) {
    const roster = await stores.roster.get(`user${i}`);
    if (roster.items.length !== ROSTER) throw new Error(`user${i} has ${roster.items.length} contacts`);
    for (const item of roster.items) {
      const back = await stores.roster.getItem(item.jid.split('@')[0] ?? '', `user${i}@${DOMAIN}`);
      if (back?.subscription !== 'both') throw new Error(`${item.jid} does not have user${i} back`);
    }
  }
}

const results: string[] = [];

if (values.only === undefined || values.only === 'embedded') {
  const dir = await mkdtemp(join(tmpdir(), 'ratatosk-provision-'));
  try {
    const { seconds, output } = await provision({ RATATOSK_DATA_DIR: dir });
    const stores = await openEmbeddedStores(dir);
    try {
      await check(stores);
    } finally {
      await stores.close();
    }
    results.push(`embedded:   ${seconds.toFixed(1)} s wall (${output})`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (values.only === undefined || values.only === 'postgres') {
  if (!(await postgresReachable())) {
    results.push(`postgres:   skipped, ${TEST_DATABASE_URL} does not answer`);
  } else {
    const { schema, drop } = await createTestSchema();
    const dir = await mkdtemp(join(tmpdir(), 'ratatosk-provision-'));
    try {
      const url = new URL(TEST_DATABASE_URL);
      url.searchParams.set('options', `-c search_path=${schema}`);
      const { seconds, output } = await provision({ RATATOSK_DATABASE_URL: url.toString(), RATATOSK_DATA_DIR: dir });
      const stores = await openPostgresStores({ url: TEST_DATABASE_URL, schema, migrate: false, max: 2 });
      try {
        await check(stores);
      } finally {
        await stores.close();
      }
      results.push(`postgres:   ${seconds.toFixed(1)} s wall (${output})`);
    } finally {
      await drop();
      await rm(dir, { recursive: true, force: true });
    }
  }
}

console.log(`\nuser add-many: ${COUNT} users, roster ${ROSTER}, ${values['own-salts'] ? 'own salts' : '--same-salt'}`);
for (const line of results) console.log(`  ${line}`);
