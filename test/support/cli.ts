// Runs the `ratatosk` CLI in-process with captured output, as an operator's shell would.
import { execFile } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { runCli } from '../../src/admin/cli.js';

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    done();
  }
}

export interface CliOutcome {
  code: number;
  out: string;
  err: string;
}

export async function runCliCaptured(argv: string[], env: NodeJS.ProcessEnv, stdin?: string): Promise<CliOutcome> {
  const stdout = new Collect();
  const stderr = new Collect();
  const input = Readable.from(stdin === undefined ? [] : [Buffer.from(stdin)]);
  const code = await runCli(argv, { stdout, stderr, stdin: input, env });
  return { code, out: stdout.text, err: stderr.text };
}

const ROOT = new URL('../..', import.meta.url);
// What bin/ratatosk.js does with the build output, done on the TypeScript sources.
const RUN_CLI = `import('./src/admin/cli.ts').then((m) => m.runCli(process.argv.slice(1), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env })).then((code) => { process.exitCode = code; })`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `ratatosk --config <configFile> <args>` in a child process, as an operator's shell would while a server runs on
 * `dataDir`: none of this process's RATATOSK_* variables leak into it.
 */
export function runCliProcess(configFile: string, dataDir: string, args: readonly string[]): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('RATATOSK_') && k !== 'NODE_TLS_REJECT_UNAUTHORIZED') env[k] = v;
  env.RATATOSK_DATA_DIR = dataDir;
  env.RATATOSK_DOMAIN = 'localhost';
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', '-e', RUN_CLI, '--', '--config', configFile, ...args], { cwd: ROOT, env, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}
