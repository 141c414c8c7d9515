// Runs the `ratatosk` CLI in-process with captured output, as an operator's shell would.
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
