// A private redis-server for the cluster tests, on a free loopback port with no persistence; never
// the machine's own 6379. Without the binary the suite is skipped loudly, or fails under CI=true.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './postgres-instance.js';

export interface RedisInstance {
  readonly port: number;
  readonly url: string;
  /** A new client (closed by stop()), for assertions on keys and for SUBSCRIBE spies. */
  client(): Redis;
  /** Runs redis-cli against this server; the reply as text. */
  cli(...args: string[]): string;
  stop(): Promise<void>;
}

export function findRedisServer(): string | undefined {
  try {
    return execFileSync('which', ['redis-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Call in a mocha before(): a fresh server, started and answering. */
export async function startRedis(ctx: Mocha.Context): Promise<RedisInstance> {
  const binary = findRedisServer();
  if (!binary) {
    const message = 'redis-server is not installed';
    if (process.env.CI === 'true') throw new Error(`${message}; it is required under CI=true (apt-get install redis-server)`);
    console.warn(`\n  !!! ${message}: SKIPPING the cluster tests that need a private Redis !!!\n`);
    ctx.skip();
  }
  let lastError: unknown;
  // The port is free when chosen, but another process may take it before redis-server binds it.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launch(binary, await freePort());
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

async function launch(binary: string, port: number): Promise<RedisInstance> {
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const onExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', onExit);
  try {
    await ready(child);
  } catch (err) {
    process.off('exit', onExit);
    child.kill('SIGKILL');
    throw err;
  }
  const clients: Redis[] = [];
  const cliPath = binary.replace(/redis-server$/, 'redis-cli');
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client() {
      const client = new Redis({ port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 1 });
      client.on('error', () => undefined);
      clients.push(client);
      return client;
    },
    cli: (...args) => execFileSync(cliPath, ['-p', String(port), ...args], { encoding: 'utf8' }).trim(),
    async stop() {
      for (const client of clients.splice(0)) client.disconnect();
      process.off('exit', onExit);
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
      child.kill('SIGKILL');
    },
  };
}

function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`redis-server did not start in time:\n${output}`)), 10_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (output.includes('Ready to accept connections')) {
        cleanup();
        resolve();
      }
    };
    const onExit = (code: number | null): void => fail(new Error(`redis-server exited (${code}) before it was ready:\n${output}`));
    const fail = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      // Keep draining the pipes so that the server never blocks on a full one.
      child.stdout?.resume();
      child.stderr?.resume();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}
