// Ratatosk nodes as child processes sharing one Redis and one embedded store (LMDB allows several
// processes on the same files), for the cluster tests. Each node runs test/support/cluster-node.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { deriveCredentials } from '../../src/auth/credentials.js';
import { loadConfig } from '../../src/config/index.js';
import { openStores } from '../../src/storage/index.js';
import type { ClientTarget } from './clients.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = fileURLToPath(new URL('./cluster-node.ts', import.meta.url));

export interface NodeProcess extends ClientTarget {
  readonly id: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** What the node wrote to stderr (its log), for failure messages. */
  readonly log: () => string;
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** SIGTERM: the node stops as `serve` does (see-other-host or system-shutdown, leaves the cluster). */
  terminate(timeoutMs?: number): Promise<number | string>;
  /** SIGKILL: gone at once, no goodbye to Redis or clients. */
  kill(): Promise<number | string>;
}

export interface NodeOptions {
  id: string;
  redisUrl: string;
  dataDir: string;
  /** More RATATOSK_* settings. */
  env?: Record<string, string>;
}

export async function startNode(options: NodeOptions): Promise<NodeProcess> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('RATATOSK_')) env[key] = value;
  Object.assign(env, {
    RATATOSK_NODE_ID: options.id,
    RATATOSK_REDIS_URL: options.redisUrl,
    RATATOSK_DATA_DIR: options.dataDir,
    RATATOSK_DOMAIN: 'localhost',
    RATATOSK_PUBLIC_HOST: '127.0.0.1',
    RATATOSK_C2S_HOST: '127.0.0.1',
    RATATOSK_C2S_PORT: '0',
    RATATOSK_C2S_TLS_PORT: '-1',
    RATATOSK_HTTP_HOST: '127.0.0.1',
    RATATOSK_HTTP_PORT: '0',
    RATATOSK_ADMIN_PORT: '-1',
    RATATOSK_REQUIRE_TLS: 'false',
    // As startTestServer: xmpp.js takes SASL2 when offered, and Bind2 then picks the resource (XEP-0386), which
    // tests that name full JIDs cannot know. The SASL2 tests turn it on.
    RATATOSK_SASL2: 'false',
    RATATOSK_LOG_LEVEL: process.env.RATATOSK_TEST_LOG ?? 'warn',
    ...options.env,
  });
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    if (process.env.RATATOSK_TEST_LOG) process.stderr.write(`[${options.id}] ${chunk.toString('utf8')}`);
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const ready = await new Promise<{ pid: number; ports: { c2s: number; c2sTls: number; http: number } }>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`node ${options.id} did not start in time:\n${stderr}`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const line = stdout.split('\n').find((l) => l.startsWith('{"ready":true'));
      if (!line) return;
      clearTimeout(timer);
      resolve(JSON.parse(line) as { pid: number; ports: { c2s: number; c2sTls: number; http: number } });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`node ${options.id} exited (${code}) before it was ready:\n${stderr}`));
    });
  });
  const onExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', onExit);
  void exited.then(() => process.off('exit', onExit));
  return {
    id: options.id,
    pid: ready.pid,
    ports: ready.ports,
    domain: 'localhost',
    child,
    log: () => stderr,
    exited,
    async terminate(timeoutMs = 15_000) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill() {
      child.kill('SIGKILL');
      return exited;
    },
  };
}

/** Creates accounts in the shared store before (or while) nodes run. */
export async function addUsers(dataDir: string, password: string, ...usernames: string[]): Promise<void> {
  const config = loadConfig({ file: false, env: {}, overrides: { dataDir } });
  const stores = await openStores(config);
  try {
    const credentials = await deriveCredentials(password, 4096);
    for (const username of usernames) await stores.accounts.create(username, credentials);
  } finally {
    await stores.close();
  }
}

/** Makes two users subscribed to each other ('both'), straight in the shared store. */
export async function befriend(dataDir: string, a: string, b: string): Promise<void> {
  const config = loadConfig({ file: false, env: {}, overrides: { dataDir } });
  const stores = await openStores(config);
  try {
    await stores.roster.setItem(a, { jid: `${b}@localhost`, subscription: 'both', ask: false, approved: false, groups: [] });
    await stores.roster.setItem(b, { jid: `${a}@localhost`, subscription: 'both', ask: false, approved: false, groups: [] });
  } finally {
    await stores.close();
  }
}
