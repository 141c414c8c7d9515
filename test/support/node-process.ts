// A Ratatosk node in a child process, as an operator runs one: `ratatosk serve` from the sources
// (loadtest/cluster/ratatosk-dev.ts) with RATATOSK_* variables, its own data directory, and ports
// chosen by the system (0), read back from its "Ratatosk is ready" log line. Cluster and fail-over
// tests run several of these against real Redis, so that each node has its own event loop and its
// own Redis connections, and can be killed like a real process.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCliCaptured } from './cli.js';
import { connect, type ClientOptions, type TestClient } from './clients.js';
import type { TestServer } from './server.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const ENTRY = join(ROOT, 'loadtest', 'cluster', 'ratatosk-dev.ts');

export interface NodeProcess {
  readonly nodeId: string;
  readonly domain: string;
  readonly dataDir: string;
  readonly ports: TestServer['ports'];
  readonly pid: number;
  readonly running: boolean;
  /** A real xmpp.js client logged in to this node. */
  connect(options: ClientOptions): Promise<TestClient>;
  /** The node's log lines (pino JSON), newest last. */
  logLines(): string[];
  /** SIGTERM: the node's own graceful shutdown. */
  stop(): Promise<void>;
  /** SIGKILL: a crashed node. */
  kill(): Promise<void>;
}

export interface NodeProcessOptions {
  nodeId: string;
  /** RATATOSK_* settings (Redis, database...) on top of the test defaults. */
  env: Record<string, string>;
  /** Accounts created in the node's store before it starts (embedded stores are per node). */
  users?: readonly { username: string; password: string }[];
  domain?: string;
  startTimeoutMs?: number;
}

const MAX_LOG_LINES = 2000;

export async function startNodeProcess(options: NodeProcessOptions): Promise<NodeProcess> {
  const domain = options.domain ?? 'localhost';
  const dataDir = await mkdtemp(join(tmpdir(), `ratatosk-${options.nodeId}-`));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    RATATOSK_NODE_ID: options.nodeId,
    RATATOSK_DOMAIN: domain,
    RATATOSK_DATA_DIR: dataDir,
    RATATOSK_C2S_HOST: '127.0.0.1',
    RATATOSK_HTTP_HOST: '127.0.0.1',
    RATATOSK_C2S_PORT: '0',
    RATATOSK_C2S_TLS_PORT: '0',
    RATATOSK_HTTP_PORT: '0',
    RATATOSK_ADMIN_PORT: '0',
    RATATOSK_LOG_LEVEL: process.env.RATATOSK_TEST_NODE_LOG ?? 'info',
    ...options.env,
  };
  for (const user of options.users ?? []) {
    const outcome = await runCliCaptured(['user', 'add', `${user.username}@${domain}`, '--password', user.password], env);
    if (outcome.code !== 0) throw new Error(`user add ${user.username} for ${options.nodeId} failed: ${outcome.err}`);
  }

  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer): void => {
    const text = partial + chunk.toString();
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    if (lines.length > MAX_LOG_LINES) lines.splice(0, lines.length - MAX_LOG_LINES);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  let running = true;
  const exited = new Promise<void>((done) =>
    child.once('exit', () => {
      running = false;
      done();
    }),
  );
  const killAtExit = (): void => {
    if (running) child.kill('SIGKILL');
  };
  process.on('exit', killAtExit);

  const cleanup = async (): Promise<void> => {
    process.off('exit', killAtExit);
    await rm(dataDir, { recursive: true, force: true });
  };

  let ports: TestServer['ports'];
  try {
    ports = await new Promise<TestServer['ports']>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`${options.nodeId} did not become ready in time:\n${lines.slice(-30).join('\n')}`)), options.startTimeoutMs ?? 60_000);
      const check = (): void => {
        for (const line of lines) {
          const ready = readyPorts(line);
          if (ready) {
            clearTimeout(timer);
            child.stdout.off('data', check);
            child.stderr.off('data', check);
            done(ready);
            return;
          }
        }
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        fail(new Error(`${options.nodeId} exited (${code ?? signal ?? '?'}) before it was ready:\n${lines.slice(-30).join('\n')}`));
      });
    });
  } catch (err) {
    if (running) child.kill('SIGKILL');
    await exited;
    await cleanup();
    throw err;
  }

  const node: NodeProcess = {
    nodeId: options.nodeId,
    domain,
    dataDir,
    ports,
    pid: child.pid ?? -1,
    get running() {
      return running;
    },
    // connect() reads only the ports and the domain of the server it is given.
    connect: (clientOptions) => connect({ ports, domain } as TestServer, clientOptions),
    logLines: () => [...lines, ...(partial ? [partial] : [])],
    async stop() {
      if (running) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      await cleanup();
    },
    async kill() {
      if (running) child.kill('SIGKILL');
      await exited;
      await cleanup();
    },
  };
  return node;
}

function readyPorts(line: string): TestServer['ports'] | undefined {
  if (!line.includes('Ratatosk is ready')) return undefined;
  try {
    const entry: unknown = JSON.parse(line);
    if (typeof entry !== 'object' || entry === null) return undefined;
    const { c2s, c2sTls, http } = entry as Record<string, unknown>;
    if (typeof c2s === 'number' && typeof c2sTls === 'number' && typeof http === 'number') return { c2s, c2sTls, http };
  } catch {
    // not a JSON log line
  }
  return undefined;
}
