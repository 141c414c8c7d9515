// A private PostgreSQL cluster for tests that stop and start the database under a running server
// (outages). It uses Debian's server binaries (/usr/lib/postgresql/<version>/bin), a data directory
// and socket directory in a temporary folder, and a free loopback port. initdb refuses to run as root,
// so as root every command runs as the `postgres` system user (runuser), which owns the folder.
// Without the binaries the suite is skipped loudly, or fails under CI=true.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DEBIAN_ROOT = '/usr/lib/postgresql';

export interface PostgresInstance {
  readonly port: number;
  /** A connection URL for the `postgres` database as the `postgres` superuser (trust auth). */
  readonly url: string;
  readonly dataDir: string;
  readonly running: boolean;
  /** Starts the server again after stop(); waits until it accepts connections. */
  start(): Promise<void>;
  /** 'fast' disconnects clients cleanly (admin shutdown); 'immediate' is as near to a crash as pg_ctl gets. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Stops the server if it runs and removes its folder. */
  cleanup(): Promise<void>;
}

/** The bin folder of the newest PostgreSQL with initdb and pg_ctl, or undefined. */
export function findPostgresBin(): string | undefined {
  if (!existsSync(DEBIAN_ROOT)) return undefined;
  const versions = readdirSync(DEBIAN_ROOT)
    .filter((name) => /^\d+(\.\d+)?$/.test(name))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  for (const version of versions) {
    const bin = join(DEBIAN_ROOT, version, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  return undefined;
}

/**
 * Call in a mocha before(): a fresh cluster, started. Skips the suite when the binaries are missing
 * (fails under CI=true, where they are part of the machine's set-up).
 */
export async function startPostgresInstance(ctx: Mocha.Context): Promise<PostgresInstance> {
  const bin = findPostgresBin();
  if (!bin) {
    const message = `PostgreSQL server binaries (${DEBIAN_ROOT}/<version>/bin/initdb, pg_ctl) are not installed`;
    if (process.env.CI === 'true') throw new Error(`${message}; they are required under CI=true (apt-get install postgresql)`);
    console.warn(`\n  !!! ${message}: SKIPPING the tests that need a private PostgreSQL !!!\n`);
    ctx.skip();
  }
  return createInstance(bin);
}

async function createInstance(bin: string): Promise<PostgresInstance> {
  const asRoot = process.getuid?.() === 0;
  const root = await mkdtemp(join(tmpdir(), 'ratatosk-pg-'));
  if (asRoot) await chown(root, postgresUid('-u'), postgresUid('-g'));
  const dataDir = join(root, 'data');
  const logFile = join(root, 'server.log');
  const run = (tool: string, args: string[]): Promise<string> => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
    return new Promise((resolve, reject) => {
      execFile(file, argv, { timeout: 60_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${tool} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
  };

  await run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  // -l: the server's output goes to a file, so pg_ctl's own pipes close when it returns.
  const startArgs = ['-D', dataDir, '-l', logFile, '-o', `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off`, '-w', '-t', '30', 'start'];
  const stopArgs = (mode: 'fast' | 'immediate'): string[] => ['-D', dataDir, '-m', mode, '-w', '-t', '30', 'stop'];
  let running = false;
  // Should the test process die first, the cluster must not outlive it.
  const onExit = (): void => {
    if (!running) return;
    try {
      const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), ...stopArgs('immediate')]] : [join(bin, 'pg_ctl'), stopArgs('immediate')];
      execFileSync(file, argv, { stdio: 'ignore', timeout: 10_000 });
    } catch {
      // best effort at exit
    }
  };
  process.on('exit', onExit);

  const instance: PostgresInstance = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir,
    get running() {
      return running;
    },
    async start() {
      if (running) return;
      await run('pg_ctl', startArgs);
      running = true;
    },
    async stop(mode = 'fast') {
      if (!running) return;
      await run('pg_ctl', stopArgs(mode));
      running = false;
    },
    async restart(mode = 'fast') {
      await instance.stop(mode);
      await instance.start();
    },
    async cleanup() {
      try {
        await instance.stop('immediate');
      } finally {
        process.off('exit', onExit);
        await rm(root, { recursive: true, force: true });
      }
    },
  };
  await instance.start();
  return instance;
}

function postgresUid(flag: '-u' | '-g'): number {
  return Number.parseInt(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim(), 10);
}

/** A loopback port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
