// Entry point of the server process the login benchmark starts (`node --import tsx login-serve.ts`):
// `ratatosk serve` from the TypeScript sources, configured by the RATATOSK_* environment.
import { runCli } from '../../src/admin/cli.js';

process.exitCode = await runCli(['serve'], { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
