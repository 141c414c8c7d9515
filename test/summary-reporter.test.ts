// test/support/summary-reporter.cjs on a fixture suite run by the repository's mocha: the last line is
// "N passed, M failed"; skipped tests (the fixture declares one with xit, which mocha treats as a skip) are
// failures listed by title under CI=true, and loud elsewhere.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MOCHA = join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js');
const REPORTER = join(ROOT, 'test', 'support', 'summary-reporter.cjs');

const MIXED = `
describe('fixture', function () {
  it('passes once', function () {});
  it('passes twice', function () {});
  it('fails', function () { throw new Error('boom'); });
  xit('is pending (xit)', function () {});
  describe('a suite whose before() skips', function () {
    before(function () { this.skip(); });
    it('first skipped', function () {});
    it('second skipped', function () {});
  });
});
`;

const ONLY_SKIPS = `
describe('quiet', function () {
  it('passes', function () {});
  it('skips itself', function () { this.skip(); });
});
`;

interface Run {
  code: number;
  lines: string[];
}

async function runFixture(source: string, ci: boolean): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'ratatosk-reporter-'));
  try {
    const spec = join(dir, 'fixture.spec.cjs');
    await writeFile(spec, source);
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.CI;
    if (ci) env.CI = 'true';
    return await new Promise((resolve) => {
      execFile(process.execPath, [MOCHA, '--no-config', '--reporter', REPORTER, spec], { cwd: dir, env }, (err, stdout) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, lines: stdout.trimEnd().split('\n') });
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('summary reporter (test/support/summary-reporter.cjs)', function () {
  this.timeout(60_000);

  it('outside CI: the last line counts passes and failures, pending tests are announced loudly above it', async () => {
    const run = await runFixture(MIXED, false);
    assert.equal(run.lines.at(-1), '2 passed, 1 failed');
    // Positive control: mocha itself saw three pending tests.
    assert.ok(run.lines.some((l) => /^\s+3 pending$/.test(l)), run.lines.join('\n'));
    const loud = run.lines.findIndex((l) => l.includes('!!! 3 PENDING (skipped) tests'));
    assert.ok(loud !== -1 && loud < run.lines.length - 1, run.lines.join('\n'));
    assert.deepEqual(run.lines.slice(loud + 1, loud + 4), [
      '  - fixture is pending (xit)',
      '  - fixture a suite whose before() skips first skipped',
      '  - fixture a suite whose before() skips second skipped',
    ]);
    assert.equal(run.code, 1);
  });

  it('under CI=true: every pending test counts as failed and is listed by its full title above the last line', async () => {
    const run = await runFixture(MIXED, true);
    assert.equal(run.lines.at(-1), '2 passed, 4 failed');
    const header = run.lines.indexOf('3 pending (skipped) under CI=true, counted as failed:');
    assert.ok(header !== -1, run.lines.join('\n'));
    assert.deepEqual(run.lines.slice(header + 1, header + 4), [
      '  - fixture is pending (xit)',
      '  - fixture a suite whose before() skips first skipped',
      '  - fixture a suite whose before() skips second skipped',
    ]);
    assert.equal(run.code, 4, 'the exit status counts them too');
  });

  it('a run whose only problem is a skipped test passes outside CI and fails under CI=true', async () => {
    const outside = await runFixture(ONLY_SKIPS, false);
    assert.equal(outside.lines.at(-1), '1 passed, 0 failed');
    assert.equal(outside.code, 0);
    const ci = await runFixture(ONLY_SKIPS, true);
    assert.equal(ci.lines.at(-1), '1 passed, 1 failed');
    assert.ok(ci.lines.includes('  - quiet skips itself'));
    assert.notEqual(ci.code, 0);
  });

  it('without pending tests prints nothing but the summary line after mocha\'s own', async () => {
    const run = await runFixture(`describe('s', function () { it('ok', function () {}); });`, true);
    assert.equal(run.lines.at(-1), '1 passed, 0 failed');
    assert.ok(!run.lines.some((l) => /pending/i.test(l)));
    assert.equal(run.code, 0);
  });
});
