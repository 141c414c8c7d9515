// Server CPU per one-to-one chat message on the plain TCP c2s path: the built server (bin/ratatosk.js serve,
// `npm run build` first) in a child process with an embedded store in a temporary directory, no MAM archiving
// ([mam] default_prefs = "never", as loadtest/run without ARCHIVE), default modules on. N pairs of raw TCP
// clients log in (PLAIN); each sender sends chat messages to its partner's bare JID, pre-serialised strings at
// a fixed total rate; every message must arrive. CPU is the server's utime and stime from /proc/<pid>/stat
// over the measured phase (after a warm-up), per delivered message.
//
//   npm run build && npx tsx loadtest/bench/message-path.ts [--pairs 50] [--rate 2000] [--seconds 20] [--warmup 3] [--cpu-prof DIR] [--node-args="--trace-gc ..."] [--root DIR | --floor | --floor-xml | --floor-xml-own]
//
// --root: a directory holding bin/ratatosk.js and dist/ of another build (e.g. `tsc -p tsconfig.build.json --outDir
// DIR/dist` with bin/, package.json and a node_modules link beside it), to measure without touching ./dist.
// --floor: the same clients and messages against the do-nothing relay (loadtest/floor, compiled with tsc as
// loadtest/run does) instead of Ratatosk: the yardstick of issue #18's "1.25 times the relay", on this path.
// --floor-xml: the relay parsing each message into an ltx tree and writing it back (`loadtest/run --target floor-xml`).
// --floor-xml-own: the same with Ratatosk's own frame parser and serialiser, from --root's dist/ (`--target floor-xml-own`).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { deriveCredentials } from '../../src/auth/credentials.js';
import { loadConfig } from '../../src/config/index.js';
import { openStores } from '../../src/storage/index.js';
import type { BulkUser } from '../../src/storage/types.js';
import { freePort, sleep } from './login-server.js';

const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '50' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    'cpu-prof': { type: 'string' },
    root: { type: 'string', default: join(import.meta.dirname, '..', '..') },
    floor: { type: 'boolean', default: false },
    'floor-xml': { type: 'boolean', default: false },
    'floor-xml-own': { type: 'boolean', default: false },
    'node-args': { type: 'string', default: '' },
  },
});
const PAIRS = Number(values.pairs);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const DOMAIN = 'bench.example';
const PASSWORD = 'secret';
const TICK_MS = 10;
const BODY = 'Wherefore art thou Romeo? Deny thy father and refuse thy name.';

/** The server's node options: --node-args (e.g. "--trace-gc", which NODE_OPTIONS does not allow), then --cpu-prof's. */
function nodeArgs(): string[] {
  const extra = values['node-args'].split(' ').filter((arg) => arg !== '');
  return values['cpu-prof'] ? [...extra, '--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`] : extra;
}

const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime and stime of a process (every thread), or of one of its threads, ms. */
async function cpu(pid: number, thread?: number): Promise<{ user: number; system: number }> {
  const stat = await readFile(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(fields[11]) * 1000) / ticks, system: (Number(fields[12]) * 1000) / ticks };
}

interface Server {
  child: ChildProcess;
  pid: number;
  c2s: number;
}

/** bin/ratatosk.js serve of the build under `root`, in the data directory (which holds its ratatosk.toml). */
async function startServer(root: string, dataDir: string): Promise<Server> {
  const c2s = await freePort();
  const http = await freePort();
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('RATATOSK_')) env[key] = value;
  Object.assign(env, {
    RATATOSK_DATA_DIR: dataDir,
    RATATOSK_DOMAIN: DOMAIN,
    RATATOSK_NODE_ID: 'message-path',
    RATATOSK_C2S_HOST: '127.0.0.1',
    RATATOSK_C2S_PORT: String(c2s),
    RATATOSK_C2S_TLS_PORT: '-1',
    RATATOSK_HTTP_HOST: '127.0.0.1',
    RATATOSK_HTTP_PORT: String(http),
    RATATOSK_ADMIN_PORT: '-1',
    RATATOSK_REQUIRE_TLS: 'false',
    RATATOSK_LOG_LEVEL: 'warn',
    RATATOSK_MAX_CONNECTIONS_PER_ADDRESS: '1000000',
    RATATOSK_MAX_PRE_AUTH_PER_ADDRESS: '1000000',
  });
  const child = spawn(process.execPath, [...nodeArgs(), join(root, 'bin', 'ratatosk.js'), 'serve'], { cwd: dataDir, env, stdio: ['ignore', 'inherit', 'inherit'] });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited during start-up (${child.exitCode})`);
    try {
      if ((await fetch(`http://127.0.0.1:${http}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('the server did not answer /healthz within 60 s');
    await sleep(100);
  }
  if (child.pid === undefined) throw new Error('the server has no pid');
  return { child, pid: child.pid, c2s };
}

/** The relay (loadtest/floor/server.ts) compiled into `dataDir` and started there; it accepts any password. */
async function startFloor(dataDir: string): Promise<Server> {
  const repo = join(import.meta.dirname, '..', '..');
  const out = join(dataDir, 'floor');
  await rm(out, { recursive: true, force: true });
  execFileSync('npx', ['tsc', '--outDir', out, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node',
    '--skipLibCheck', '--ignoreConfig', join(repo, 'loadtest', 'floor', 'server.ts')], { cwd: repo, stdio: 'inherit' });
  await writeFile(join(out, 'package.json'), '{"type":"module"}');
  await symlink(join(repo, 'node_modules'), join(out, 'node_modules'));
  const c2s = await freePort();
  const child = spawn(process.execPath, [...nodeArgs(), join(out, 'server.js'), '--host', '127.0.0.1', '--port', String(c2s), '--domain', DOMAIN,
    '--xml-work', values['floor-xml-own'] ? 'own' : values['floor-xml'] ? '1' : '0', '--ratatosk-dist', join(values.root, 'dist')], { cwd: dataDir, stdio: ['ignore', 'inherit', 'inherit'] });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the relay exited during start-up (${child.exitCode})`);
    const listening = await new Promise<boolean>((resolve) => {
      const probe = net.connect({ host: '127.0.0.1', port: c2s });
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (listening) break;
    if (Date.now() > deadline) throw new Error('the relay did not listen within 30 s');
    await sleep(100);
  }
  if (child.pid === undefined) throw new Error('the relay has no pid');
  return { child, pid: child.pid, c2s };
}

/** startServer, again on other ports when one was taken meanwhile (another process on this machine may pick ports too). */
async function startServerRetrying(root: string, dataDir: string): Promise<Server> {
  for (let attempt = 1; ; attempt++) {
    try {
      return values.floor || values['floor-xml'] || values['floor-xml-own'] ? await startFloor(dataDir) : await startServer(root, dataDir);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

const user = (i: number): string => `mp${String(i).padStart(5, '0')}`;

async function provision(dataDir: string, count: number): Promise<void> {
  const config = loadConfig({ file: false, env: {}, overrides: { dataDir, domain: DOMAIN } });
  const stores = await openStores(config);
  try {
    const credentials = await deriveCredentials(PASSWORD, config.auth.scramIterations);
    const users: BulkUser[] = Array.from({ length: count }, (_, i) => ({ username: user(i), credentials }));
    await stores.bulk.load(users, { onExisting: 'fail' });
  } finally {
    await stores.close();
  }
}

/** A logged-in raw TCP client: text in, text out; what arrives after login is scanned for our message ids. */
class RawClient {
  private text = '';
  private waiter: { pattern: RegExp; resolve: () => void; reject: (err: Error) => void } | undefined;
  private counting = false;
  closed: string | undefined;

  private constructor(private readonly socket: net.Socket, private readonly seen: Uint8Array, private readonly onSeen: () => void) {
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.data(chunk));
    socket.on('error', (err) => this.fail(err.message));
    socket.on('close', () => this.fail('connection closed'));
  }

  static async login(port: number, name: string, seen: Uint8Array, onSeen: () => void): Promise<RawClient> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new RawClient(socket, seen, onSeen);
    const header = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${DOMAIN}' version='1.0'>`;
    client.write(header);
    await client.expect(/<\/stream:features>/);
    client.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${name}\0${PASSWORD}`).toString('base64')}</auth>`);
    await client.expect(/<success[^>]*(\/>|>[^<]*<\/success>)/);
    client.write(header);
    await client.expect(/<\/stream:features>/);
    client.write(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bench</resource></bind></iq>`);
    await client.expect(/<\/iq>/);
    client.write('<presence/>');
    client.counting = true;
    return client;
  }

  write(text: string): void {
    this.socket.write(text);
  }

  close(): void {
    this.closed ??= 'closed';
    this.socket.destroy();
  }

  private fail(reason: string): void {
    this.closed ??= reason;
    this.waiter?.reject(new Error(reason));
    this.waiter = undefined;
  }

  private expect(pattern: RegExp): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiter = { pattern, resolve, reject };
      this.check();
    });
  }

  private check(): void {
    const waiter = this.waiter;
    if (!waiter) return;
    const match = waiter.pattern.exec(this.text);
    if (!match) return;
    this.text = this.text.slice(match.index + match[0].length);
    this.waiter = undefined;
    waiter.resolve();
  }

  private data(chunk: string): void {
    this.text += chunk;
    if (!this.counting) return this.check();
    const end = this.text.lastIndexOf('</message>');
    if (end === -1) return;
    const done = this.text.slice(0, end);
    this.text = this.text.slice(end);
    for (const match of done.matchAll(/id=["']m(\d+)["']/g)) {
      const id = Number(match[1]);
      if (this.seen[id] === 0) {
        this.seen[id] = 1;
        this.onSeen();
      }
    }
  }
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-message-path-'));
  let server: Server | undefined;
  const clients: RawClient[] = [];
  try {
    await provision(dataDir, PAIRS * 2);
    // The server runs in the data directory and reads ./ratatosk.toml there.
    await writeFile(join(dataDir, 'ratatosk.toml'), '[mam]\ndefault_prefs = "never"\n');
    server = await startServerRetrying(values.root, dataDir);
    const warmupCount = Math.round(RATE * WARMUP);
    const measuredCount = Math.round(RATE * SECONDS);
    const total = warmupCount + measuredCount;
    const seen = new Uint8Array(total);
    let delivered = 0;
    const onSeen = (): void => void delivered++;
    for (let i = 0; i < PAIRS * 2; i++) clients.push(await RawClient.login(server.c2s, user(i), seen, onSeen));
    await sleep(500);

    // Pre-serialised: sender 2k sends to 2k+1's bare JID.
    const messages = Array.from({ length: total }, (_, id) => {
      const pair = id % PAIRS;
      return `<message type='chat' to='${user(2 * pair + 1)}@${DOMAIN}' id='m${id}'><body>${BODY}</body></message>`;
    });
    const send = async (from: number, to: number): Promise<void> => {
      const started = performance.now();
      for (let id = from; id < to; ) {
        const due = from + Math.floor(((performance.now() - started) / 1000) * RATE);
        for (; id < Math.min(due, to); id++) clients[2 * (id % PAIRS)]?.write(messages[id] ?? '');
        await sleep(TICK_MS);
      }
    };
    const waitDelivered = async (count: number, timeoutMs: number): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      while (delivered < count && Date.now() < deadline) await sleep(5);
    };

    await send(0, warmupCount);
    await waitDelivered(warmupCount, 10_000);
    const before = await cpu(server.pid);
    // The main thread alone: the event loop, where the JavaScript runs (the rest is GC helpers and libuv's pool).
    const mainBefore = await cpu(server.pid, server.pid);
    const wallStart = performance.now();
    await send(warmupCount, total);
    await waitDelivered(total, 30_000);
    const after = await cpu(server.pid);
    const mainAfter = await cpu(server.pid, server.pid);
    const wall = (performance.now() - wallStart) / 1000;
    const measured = delivered - warmupCount;
    const closed = clients.filter((c) => c.closed !== undefined).length;
    if (delivered !== total || closed > 0) {
      console.log(`FAILED: ${delivered} of ${total} messages delivered; ${closed} clients closed (${clients.find((c) => c.closed)?.closed ?? ''})`);
      process.exitCode = 1;
    }
    const us = (ms: number): string => ((ms * 1000) / measured).toFixed(1);
    console.log(
      `${values['floor-xml-own'] ? 'relay with XML work, own parser (loadtest/floor --xml-work own): ' : values['floor-xml'] ? 'relay with XML work (loadtest/floor --xml-work 1): ' : values.floor ? 'relay (loadtest/floor): ' : ''}${PAIRS} pairs, ${RATE}/s for ${SECONDS} s (${measured} messages, ${wall.toFixed(1)} s): server CPU per delivered message ` +
        `user ${us(after.user - before.user)} µs, system ${us(after.system - before.system)} µs, total ${us(after.user - before.user + after.system - before.system)} µs; ` +
        `main thread user ${us(mainAfter.user - mainBefore.user)} µs, system ${us(mainAfter.system - mainBefore.system)} µs`,
    );
  } finally {
    for (const c of clients) c.close();
    if (server) await stopServer(server);
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
