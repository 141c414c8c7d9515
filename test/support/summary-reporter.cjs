// Mocha's spec reporter, ending with the one summary line CI reads: "N passed, M failed".
// A pending (skipped) test is never silent: under CI=true each one counts as failed, is listed by its
// full title above the summary line, and makes the run's exit status non-zero; elsewhere their number
// and titles are printed loudly above it.
// Above all that it lists where the run's time went: the slowest test files (wall time from the start of a
// file's first top-level suite to the end of its last, hooks included) and the slowest tests and hooks.
'use strict';
const path = require('node:path');
const Mocha = require('mocha');

const {
  EVENT_RUN_END,
  EVENT_TEST_PENDING,
  EVENT_SUITE_BEGIN,
  EVENT_SUITE_END,
  EVENT_TEST_BEGIN,
  EVENT_TEST_END,
  EVENT_HOOK_BEGIN,
  EVENT_HOOK_END,
} = Mocha.Runner.constants;

const SLOWEST_FILES = 15;
const SLOWEST_RUNNABLES = 10;

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)}s`.padStart(8);
}

/** Wall time per test file and per test or hook run, for the lists above the summary line. */
class Timings {
  constructor(runner) {
    this.perFile = new Map();
    this.runnables = [];
    const started = new Map();
    const fileOf = (runnable) => path.relative(process.cwd(), runnable.file ?? '(no file)');
    const add = (file, ms) => this.perFile.set(file, (this.perFile.get(file) ?? 0) + ms);
    // A file's time is the sum of its top-level suites; a test or hook outside every describe counts itself.
    runner.on(EVENT_SUITE_BEGIN, (suite) => {
      if (suite.parent?.root) started.set(suite, performance.now());
    });
    runner.on(EVENT_SUITE_END, (suite) => {
      if (started.has(suite)) add(fileOf(suite), performance.now() - started.get(suite));
    });
    const begin = (runnable) => started.set(runnable, performance.now());
    const end = (kind) => (runnable) => {
      const start = started.get(runnable);
      if (start === undefined) return;
      started.delete(runnable);
      const ms = performance.now() - start;
      this.runnables.push({ ms, title: `${kind} ${runnable.fullTitle()}`, file: fileOf(runnable) });
      if (runnable.parent?.root) add(fileOf(runnable), ms);
    };
    runner.on(EVENT_TEST_BEGIN, begin);
    runner.on(EVENT_TEST_END, end('test'));
    runner.on(EVENT_HOOK_BEGIN, begin);
    runner.on(EVENT_HOOK_END, end('hook'));
  }

  lines() {
    if (this.perFile.size === 0) return [];
    const files = [...this.perFile].sort((a, b) => b[1] - a[1]);
    const total = files.reduce((sum, [, ms]) => sum + ms, 0);
    const out = ['', `Slowest test files (${Math.min(SLOWEST_FILES, files.length)} of ${files.length}, all files: ${seconds(total).trim()}):`];
    for (const [file, ms] of files.slice(0, SLOWEST_FILES)) out.push(`${seconds(ms)}  ${file}`);
    const slowest = [...this.runnables].sort((a, b) => b.ms - a.ms).slice(0, SLOWEST_RUNNABLES);
    out.push('', `Slowest tests and hooks (${slowest.length}):`);
    for (const { ms, title, file } of slowest) out.push(`${seconds(ms)}  ${title} (${file})`);
    return out;
  }
}

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const pending = [];
    const timings = new Timings(runner);
    runner.on(EVENT_TEST_PENDING, (test) => pending.push(test.fullTitle()));
    // Registered before Runner#run adds the listener that hands runner.failures to the exit status.
    runner.once(EVENT_RUN_END, () => {
      const { passes, failures } = runner.stats ?? { passes: 0, failures: 0 };
      const ci = process.env.CI === 'true';
      const out = timings.lines();
      if (pending.length > 0) {
        out.push('');
        out.push(
          ci
            ? `${pending.length} pending (skipped) under CI=true, counted as failed:`
            : `!!! ${pending.length} PENDING (skipped) test${pending.length === 1 ? '' : 's'}: not run on this machine, not counted as passed !!!`,
        );
        for (const title of pending) out.push(`  - ${title}`);
        if (ci) runner.failures += pending.length;
      }
      out.push('', `${passes} passed, ${failures + (ci ? pending.length : 0)} failed`);
      process.stdout.write(`${out.join('\n')}\n`);
    });
  }
}

module.exports = SummaryReporter;
