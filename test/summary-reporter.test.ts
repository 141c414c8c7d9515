// test/support/summary-reporter.cjs on a fixture suite run by the repository's mocha: the last line is
// "N passed, M failed"; skipped tests (the fixture declares one without a body, which mocha treats as pending) are
// failures listed by title under CI=true, and loud elsewhere; above them, the slowest files, tests and hooks.
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
  it('is pending (no body)');
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

async function runFixture(source: string | Record<string, string>, ci: boolean): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'ratatosk-reporter-'));
  try {
    const files = typeof source === 'string' ? { 'fixture.spec.cjs': source } : source;
    const specs = Object.keys(files).sort();
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.CI;
    if (ci) env.CI = 'true';
    return await new Promise((resolve) => {
      execFile(process.execPath, [MOCHA, '--no-config', '--reporter', REPORTER, ...specs], { cwd: dir, env }, (err, stdout) => {
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
      '  - fixture is pending (no body)',
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
      '  - fixture is pending (no body)',
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

  it('without pending tests prints only the timings and the summary line after mocha\'s own', async () => {
    const run = await runFixture(`describe('s', function () { it('ok', function () {}); });`, true);
    assert.equal(run.lines.at(-1), '1 passed, 0 failed');
    assert.ok(!run.lines.some((l) => /pending/i.test(l)));
    const epilogue = run.lines.findIndex((l) => /^\s+1 passing/.test(l));
    assert.ok(epilogue !== -1, run.lines.join('\n'));
    const after = run.lines.slice(epilogue + 1).filter((l) => l !== '');
    const expected = [
      /^Slowest test files \(1 of 1, all files: \d+\.\ds\):$/,
      /^\s+\d+\.\ds {2}fixture\.spec\.cjs$/,
      /^Slowest tests and hooks \(1\):$/,
      /^\s+\d+\.\ds {2}test s ok \(fixture\.spec\.cjs\)$/,
      /^1 passed, 0 failed$/,
    ];
    assert.equal(after.length, expected.length, run.lines.join('\n'));
    expected.forEach((pattern, i) => assert.match(after[i] ?? '', pattern));
    assert.equal(run.code, 0);
  });

  it('lists the 15 slowest of 17 files, slowest first, and the slowest tests and hooks, above the last line', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 15; i += 1) {
      files[`quick-${String(i).padStart(2, '0')}.spec.cjs`] = `describe('quick ${i}', function () { it('ok', function () {}); });`;
    }
    // A slow hook makes a file slow without a slow test; the slowest test sits in another file.
    files['slow-hook.spec.cjs'] = `describe('hooked', function () {
      before(function (done) { setTimeout(done, 600); });
      it('quick after a slow hook', function () {});
    });`;
    files['slow-test.spec.cjs'] = `describe('slow', function () {
      it('takes a while', function (done) { setTimeout(done, 300); });
      it('fails', function () { throw new Error('boom'); });
    });`;
    const run = await runFixture(files, true);
    const text = run.lines.join('\n');
    assert.equal(run.lines.at(-1), '17 passed, 1 failed');
    const header = run.lines.findIndex((l) => l.startsWith('Slowest test files (15 of 17, all files: '));
    assert.ok(header !== -1, text);
    const listed = run.lines.slice(header + 1, header + 16);
    assert.deepEqual(
      listed.slice(0, 2).map((l) => l.trim().split(/\s+/)[1]),
      ['slow-hook.spec.cjs', 'slow-test.spec.cjs'],
      text,
    );
    const hookFile = /^\s+(\d+\.\d)s {2}slow-hook\.spec\.cjs$/.exec(listed[0] ?? '');
    assert.ok(hookFile && Number(hookFile[1]) >= 0.5, text);
    assert.equal(run.lines[header + 16], '', 'exactly 15 files are listed');
    assert.equal(listed.filter((l) => l.includes('quick-')).length, 13);
    const tests = run.lines.indexOf('Slowest tests and hooks (10):');
    assert.ok(tests > header, text);
    assert.match(run.lines[tests + 1] ?? '', /^\s+0\.\ds {2}hook hooked "before all" hook for "quick after a slow hook" \(slow-hook\.spec\.cjs\)$/);
    assert.match(run.lines[tests + 2] ?? '', /^\s+0\.\ds {2}test slow takes a while \(slow-test\.spec\.cjs\)$/);
    assert.equal(run.lines[tests + 11], '');
    assert.equal(run.code, 1);
  });
});
