// Mocha's spec reporter, ending with the one summary line CI reads: "N passed, M failed".
// A pending (skipped) test is never silent: under CI=true each one counts as failed, is listed by its
// full title above the summary line, and makes the run's exit status non-zero; elsewhere their number
// and titles are printed loudly above it.
'use strict';
const Mocha = require('mocha');

const { EVENT_RUN_END, EVENT_TEST_PENDING } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const pending = [];
    runner.on(EVENT_TEST_PENDING, (test) => pending.push(test.fullTitle()));
    // Registered before Runner#run adds the listener that hands runner.failures to the exit status.
    runner.once(EVENT_RUN_END, () => {
      const { passes, failures } = runner.stats ?? { passes: 0, failures: 0 };
      const ci = process.env.CI === 'true';
      const out = [];
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
