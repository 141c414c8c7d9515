// The `ratatosk` command run from the TypeScript sources (node --import tsx), so that a local cluster
// always runs the code in the tree rather than a possibly stale build in dist/.
import { runCli } from '../../src/admin/cli.js';

process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });
