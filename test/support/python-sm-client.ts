// Python XMPP libraries with their own stream management (XEP-0198), as child processes: Gajim's nbxmpp and
// slixmpp, from Debian's python3-nbxmpp and python3-slixmpp for /usr/bin/python3 (not a pyenv python3).
// The drivers (test/support/python/sm_*.py) print JSON events and take `cut`, `send <to> <body>`, `quit`.
// Without the packages a suite is skipped loudly, or fails under CI=true.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { Mailbox } from './mailbox.js';

export const SYSTEM_PYTHON = '/usr/bin/python3';
export type PythonSmLibrary = 'slixmpp' | 'nbxmpp';
const DEBIAN_PACKAGE: Record<PythonSmLibrary, string> = { slixmpp: 'python3-slixmpp', nbxmpp: 'python3-nbxmpp' };

/** A line of the driver's output. */
interface DriverEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

export interface PythonSmEvent extends DriverEvent {
  /** When the test read the line (Date.now()). */
  readonly at: number;
}

export interface PythonSmClient {
  /** Every event so far, in the order the driver printed them. */
  readonly events: readonly PythonSmEvent[];
  next(event: string, timeoutMs?: number): Promise<PythonSmEvent>;
  command(line: string): void;
  stop(): Promise<void>;
}

/** Call in a mocha before(): skips (fails under CI=true) when /usr/bin/python3 cannot import the library. */
export function requirePythonLibrary(ctx: Mocha.Context, library: PythonSmLibrary): void {
  try {
    execFileSync(SYSTEM_PYTHON, ['-c', `import ${library}`], { stdio: 'pipe' });
    return;
  } catch {
    const message = `${SYSTEM_PYTHON} cannot import ${library}`;
    if (process.env.CI === 'true') throw new Error(`${message}; it is required under CI=true (apt-get install ${DEBIAN_PACKAGE[library]})`);
    console.warn(`\n  !!! ${message}: SKIPPING the ${library} tests !!!\n`);
    ctx.skip();
  }
}

export interface PythonSmOptions {
  readonly jid: string;
  readonly password: string;
  readonly port: number;
  /** Control runs: the library without stream management (it then reconnects with a fresh bind). */
  readonly withoutSm?: boolean;
}

export function startPythonSmClient(library: PythonSmLibrary, options: PythonSmOptions): PythonSmClient {
  const script = fileURLToPath(new URL(`./python/sm_${library}.py`, import.meta.url));
  const args = [script, options.jid, options.password, '127.0.0.1', String(options.port), ...(options.withoutSm ? ['--no-sm'] : [])];
  const child: ChildProcessWithoutNullStreams = spawn(SYSTEM_PYTHON, args, { stdio: 'pipe' });
  const events: PythonSmEvent[] = [];
  const mailbox = new Mailbox<PythonSmEvent>();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const event: PythonSmEvent = { ...parseEvent(line), at: Date.now() };
    events.push(event);
    mailbox.deliver(event);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  return {
    events,
    async next(event, timeoutMs = 10_000) {
      try {
        return await mailbox.next((e) => e.event === event, timeoutMs);
      } catch {
        throw new Error(`${library}: no "${event}" event within ${timeoutMs} ms; events: ${JSON.stringify(events)}; stderr: ${stderr.slice(-2000)}`);
      }
    },
    command(line) {
      child.stdin.write(`${line}\n`);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end('quit\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function parseEvent(line: string): DriverEvent {
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed && typeof parsed === 'object' && 'event' in parsed && typeof parsed.event === 'string') return parsed as DriverEvent;
  } catch {
    // reported below
  }
  return { event: 'unparsed', line };
}
