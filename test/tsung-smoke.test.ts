// Smoke test of the Tsung scenarios (loadtest/tsung, issue 8): `loadtest/run --smoke` provisions 100 users,
// starts Ratatosk from this tree, runs Debian's Tsung 1.7 (message-rate over TCP: SASL PLAIN, bind, legacy
// session, roster, presence, stamped chat messages to online users for ~25 s) and writes summary.json.
// The assertions are on counts, not timings: every session logged in and messages came back with their stamp.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;

async function tsungInstalled(): Promise<boolean> {
  try {
    await run('sh', ['-c', 'command -v tsung']);
    return true;
  } catch {
    return false;
  }
}

interface Summary {
  sessions_max: number;
  logins: number;
  messages_sent: number;
  messages_delivered: number;
  errors: string[];
}

describe('Tsung smoke run (loadtest/run --smoke: 100 users, ~30 s, TCP)', function () {
  this.timeout(120_000);
  let out: string;

  before(async function () {
    if (!(await tsungInstalled())) {
      if (process.env.CI === 'true') throw new Error('tsung is missing: .ci/run installs Debian\'s tsung package (apt-get install -y tsung)');
      console.warn('\n  !!! SKIPPING the Tsung smoke run: tsung is missing. Install it with: apt-get install -y tsung\n');
      this.skip();
    }
    out = await mkdtemp(join(tmpdir(), 'ratatosk-tsung-smoke-'));
  });

  after(async () => {
    if (out !== undefined) await rm(out, { recursive: true, force: true });
  });

  it('logs every user in and delivers stamped messages between them', async () => {
    const { stdout } = await run(join(ROOT, 'loadtest/run'), ['--smoke', '--out', out], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Summary;
    const context = `summary line: ${stdout.trim()}`;
    assert.equal(summary.sessions_max, 100, context);
    assert.equal(summary.logins, 100, context);
    assert.deepEqual(summary.errors, [], context);
    assert.ok(summary.messages_sent > 0, context);
    // Tsung reads one stamp per network read; two messages in one read count once, so allow a little loss.
    assert.ok(summary.messages_delivered >= summary.messages_sent * 0.9, context);
  });
});
