// The server under test, as a separate process, so the load generator's own work is not counted in
// its memory or CPU. Readings come from outside: /proc/<pid>/status and /proc/<pid>/stat, the
// /healthz endpoint, and (optionally) the V8 inspector, which can force a full garbage collection
// and report the heap before memory is read.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

export type ServerRunner = 'tsx' | 'built';

export interface ServerOptions {
  runner: ServerRunner;
  dataDir: string;
  domain: string;
  /** Write a V8 CPU profile (.cpuprofile) of the whole run into this directory. */
  cpuProfileDir?: string;
  /** Start with --inspect on a loopback port, so memory can be read after a forced GC. */
  inspector: boolean;
}

export interface MemoryReading {
  /** VmRSS: resident memory, KiB. */
  rssKiB: number;
  /** RssAnon: the anonymous part (heap, buffers, stacks), without mapped files such as the LMDB database. */
  anonKiB: number;
  /** V8 heap in use, bytes; only after a forced GC through the inspector. */
  heapUsedBytes?: number;
}

const SERVE_SCRIPT = fileURLToPath(new URL('./login-serve.ts', import.meta.url));
const BUILT_BIN = fileURLToPath(new URL('../../bin/ratatosk.js', import.meta.url));
const BUILT_CLI = fileURLToPath(new URL('../../dist/src/admin/cli.js', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

let clockTicks: number | undefined;
/** Clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU time the whole machine spent busy (all cores, every process), in ms, from /proc/stat. */
export async function machineBusyMs(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user).
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return ((user + nice + system + irq + softirq + steal) * 1000) / ticksPerSecond();
}

/** utime + stime of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat line, in ms. */
function statCpuMs(stat: string): number {
  // Fields after "(comm)": state is field 3, utime 14, stime 15 (proc(5)).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond();
}

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('could not pick a free port');
  return address.port;
}

/** The soft limit on open files of this process (children inherit it). */
export async function openFilesLimit(pid: number | 'self' = 'self'): Promise<{ soft: number; hard: number }> {
  const text = await readFile(`/proc/${pid}/limits`, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line ?? '').replace('Max open files', '').trim().split(/\s+/);
  const parse = (v: string | undefined): number => (v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v));
  return { soft: parse(soft), hard: parse(hard) };
}

export class ServerProcess {
  private exitStatus: string | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly ports: { c2s: number; c2sTls: number; http: number },
    private readonly inspectPort: number | undefined,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = signal ? `signal ${signal}` : `exit code ${code}`;
        resolve();
      });
    });
  }

  static async start(options: ServerOptions): Promise<ServerProcess> {
    const ports = { c2s: await freePort(), c2sTls: await freePort(), http: await freePort() };
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('RATATOSK_')) env[key] = value;
    Object.assign(env, {
      RATATOSK_DATA_DIR: options.dataDir,
      RATATOSK_DOMAIN: options.domain,
      RATATOSK_NODE_ID: 'login-bench',
      RATATOSK_C2S_HOST: '127.0.0.1',
      RATATOSK_C2S_PORT: String(ports.c2s),
      RATATOSK_C2S_TLS_PORT: String(ports.c2sTls),
      RATATOSK_HTTP_HOST: '127.0.0.1',
      RATATOSK_HTTP_PORT: String(ports.http),
      RATATOSK_REQUIRE_TLS: 'false',
      RATATOSK_LOG_LEVEL: 'warn',
      // Every client connects from loopback: lift the per-address limits ([limits]).
      RATATOSK_MAX_CONNECTIONS_PER_ADDRESS: '1000000',
      RATATOSK_MAX_PRE_AUTH_PER_ADDRESS: '1000000',
    });

    const nodeArgs: string[] = [];
    let inspectPort: number | undefined;
    if (options.inspector) {
      inspectPort = await freePort();
      nodeArgs.push(`--inspect=127.0.0.1:${inspectPort}`);
    }
    if (options.cpuProfileDir !== undefined) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
    if (options.runner === 'built') {
      if (!existsSync(BUILT_CLI)) throw new Error('--server built needs the build output: run `npm run build` first');
      nodeArgs.push(BUILT_BIN, 'serve');
    } else {
      nodeArgs.push('--import', import.meta.resolve('tsx'), SERVE_SCRIPT);
    }

    // cwd is the data directory, so no ./ratatosk.toml from the checkout is read.
    const child = spawn(process.execPath, nodeArgs, { cwd: options.dataDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    forward(child.stdout, '[server] ');
    forward(child.stderr, '[server] ');
    const server = new ServerProcess(child, ports, inspectPort);
    await server.waitReady();
    return server;
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error('the server process has no pid');
    return pid;
  }

  /** Set once the process has exited. */
  get exitedWith(): string | undefined {
    return this.exitStatus;
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (this.exitStatus !== undefined) throw new Error(`the server exited during start-up (${this.exitStatus})`);
      try {
        await this.health();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`the server did not answer /healthz within ${READY_TIMEOUT_MS / 1000} s`);
        await sleep(100);
      }
    }
  }

  async health(): Promise<{ sessions: number }> {
    const response = await fetch(`http://127.0.0.1:${this.ports.http}/healthz`);
    const body: unknown = await response.json();
    if (!response.ok || typeof body !== 'object' || body === null || !('sessions' in body) || typeof body.sessions !== 'number') {
      throw new Error(`unexpected /healthz answer: ${JSON.stringify(body)}`);
    }
    return { sessions: body.sessions };
  }

  /** User plus system CPU time of every thread of the server (libuv's pool included), in ms. */
  async cpuMs(): Promise<number> {
    return statCpuMs(await readFile(`/proc/${this.pid}/stat`, 'utf8'));
  }

  /** CPU time of the main thread (the event loop) alone, in ms; the rest is libuv's pool and V8's helpers. */
  async mainThreadCpuMs(): Promise<number> {
    return statCpuMs(await readFile(`/proc/${this.pid}/task/${this.pid}/stat`, 'utf8'));
  }

  async memory(): Promise<MemoryReading> {
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
    const kib = (key: string): number => {
      const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
      if (!match) throw new Error(`no ${key} in /proc/${this.pid}/status`);
      return Number(match[1]);
    };
    return { rssKiB: kib('VmRSS'), anonKiB: kib('RssAnon') };
  }

  /** Forces a full GC in the server through the inspector, then reads memory. Undefined without --inspect. */
  async memoryAfterGc(): Promise<MemoryReading | undefined> {
    const session = await this.inspect();
    if (!session) return undefined;
    try {
      await session.call('HeapProfiler.collectGarbage');
      await session.call('HeapProfiler.collectGarbage');
      const usage = await session.call('Runtime.getHeapUsage');
      const used = usage.usedSize;
      const reading = await this.memory();
      return typeof used === 'number' ? { ...reading, heapUsedBytes: used } : reading;
    } finally {
      session.close();
    }
  }

  /** Writes a V8 heap snapshot of the server (for Chrome DevTools); false without --inspect. */
  async heapSnapshot(path: string): Promise<boolean> {
    const session = await this.inspect();
    if (!session) return false;
    const out = createWriteStream(path);
    try {
      session.onEvent = (method, params) => {
        if (method === 'HeapProfiler.addHeapSnapshotChunk' && typeof params.chunk === 'string') out.write(params.chunk);
      };
      await session.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
    } finally {
      session.close();
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    }
    return true;
  }

  private async inspect(): Promise<InspectorSession | undefined> {
    if (this.inspectPort === undefined) return undefined;
    const targets: unknown = await (await fetch(`http://127.0.0.1:${this.inspectPort}/json/list`)).json();
    const first: unknown = Array.isArray(targets) ? targets[0] : undefined;
    const url = typeof first === 'object' && first !== null && 'webSocketDebuggerUrl' in first ? first.webSocketDebuggerUrl : undefined;
    if (typeof url !== 'string') throw new Error('the server has no inspector target');
    return InspectorSession.connect(url);
  }

  /** SIGTERM (a clean `serve` shutdown, which also writes the CPU profile), SIGKILL if it hangs. */
  async stop(): Promise<string> {
    if (this.exitStatus === undefined) {
      this.child.kill('SIGTERM');
      const timeout = sleep(STOP_TIMEOUT_MS).then(() => 'timeout' as const);
      if ((await Promise.race([this.exited.then(() => 'exited' as const), timeout])) === 'timeout') {
        this.child.kill('SIGKILL');
        await this.exited;
        return `killed after ${STOP_TIMEOUT_MS / 1000} s (${this.exitStatus})`;
      }
    }
    return this.exitStatus ?? 'unknown';
  }
}

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
class InspectorSession {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(result: Record<string, unknown>): void; reject(err: Error): void }>();
  /** Receives protocol events (messages without an id). */
  onEvent: ((method: string, params: Record<string, unknown>) => void) | undefined;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData) => {
      const message: unknown = JSON.parse(String(data));
      if (typeof message !== 'object' || message === null) return;
      if (!('id' in message) && 'method' in message && typeof message.method === 'string') {
        const params = 'params' in message && typeof message.params === 'object' && message.params !== null ? (message.params as Record<string, unknown>) : {};
        this.onEvent?.(message.method, params);
        return;
      }
      if (!('id' in message) || typeof message.id !== 'number') return;
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if ('error' in message) waiter.reject(new Error(`inspector: ${JSON.stringify(message.error)}`));
      else waiter.resolve('result' in message && typeof message.result === 'object' && message.result !== null ? (message.result as Record<string, unknown>) : {});
    });
    ws.on('close', () => {
      for (const waiter of this.pending.values()) waiter.reject(new Error('inspector connection closed'));
      this.pending.clear();
    });
  }

  static async connect(url: string): Promise<InspectorSession> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return new InspectorSession(ws);
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.ws.close();
  }
}

/** Copies a child's output line by line with a prefix, leaving out the inspector's own chatter. */
function forward(stream: NodeJS.ReadableStream | null, prefix: string): void {
  if (!stream) return;
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (/^(Debugger listening on|Debugger ending on|For help, see|Debugger attached|Waiting for the debugger)/.test(line)) continue;
      process.stderr.write(`${prefix}${line}\n`);
    }
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

