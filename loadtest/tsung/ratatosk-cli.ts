// `ratatosk` from the TypeScript sources (node --import tsx ...): what bin/ratatosk.js runs from dist/,
// so that loadtest/run measures the working tree without a build step. `loadtest/run --built` uses
// bin/ratatosk.js instead.
import { runCli } from '../../src/admin/cli.js';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
