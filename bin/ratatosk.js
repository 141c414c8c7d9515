#!/usr/bin/env node
// The `ratatosk` command. The code lives in the TypeScript build output (npm run build).
import { existsSync } from 'node:fs';

const cliUrl = new URL('../dist/src/admin/cli.js', import.meta.url);
if (!existsSync(cliUrl)) {
  process.stderr.write('ratatosk: not built yet; run `npm run build`\n');
  process.exit(1);
}
const { runCli } = await import(cliUrl.href);
// No process.exit(): `serve` returns only after a clean stop, and pending output must drain.
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
