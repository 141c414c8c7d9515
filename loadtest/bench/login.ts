// Login benchmark: logins per second, and memory per idle authenticated session.
//
//   npx tsx loadtest/bench/login.ts [--sessions 5000] [--concurrency 200] [--transport websocket|tcp]
//        [--mechanism PLAIN|SCRAM-SHA-1|SCRAM-SHA-256] [--server tsx|built] [--warmup 200] [--idle 5]
//        [--timeout 60] [--cpu-prof <dir>] [--heap-snapshot <prefix>] [--no-inspect]
//
// 1. Measures the ceiling: SASL PLAIN costs the server one PBKDF2-SHA-256 of 4096 iterations per
//    login, so the most logins/s this machine could do is what libuv's pool computes of those.
// 2. Provisions N users in a fresh embedded store (one derived credential, shared by all).
// 3. Starts the server as a separate process (plaintext TCP as Tsung's runs use; WebSocket from
//    loopback counts as secure), logs in and drops a few warm-up sessions, then reads its memory.
// 4. Logs N clients in with at most `concurrency` logins in flight. Each does the real protocol, one
//    round trip at a time: open, features, SASL, restart, bind, <presence/>; then stays idle.
// 5. After `idle` seconds reads the server's memory again, also after a GC forced through the inspector.
// Exits 1 if any login failed or any session was dropped.
import { pbkdf2 } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { DEFAULT_ITERATIONS, deriveCredentials } from '../../src/auth/credentials.js';
import { loadConfig } from '../../src/config/index.js';
import { openStores } from '../../src/storage/index.js';
import type { BulkUser } from '../../src/storage/types.js';
import { BenchSession, MECHANISM_NAMES, type LoginTarget, type MechanismName, type TransportName } from './login-client.js';
import { machineBusyMs, openFilesLimit, ServerProcess, sleep, type MemoryReading, type ServerRunner } from './login-server.js';

const DOMAIN = 'localhost';
const PASSWORD = 'bench-password';
/** File descriptors beyond one per session, for the process's own files, listeners and the inspector. */
const SPARE_FDS = 200;

interface Options {
  sessions: number;
  concurrency: number;
  transport: TransportName;
  mechanism: MechanismName;
  server: ServerRunner;
  warmup: number;
  idleSeconds: number;
  timeoutSeconds: number;
  ceilingSeconds: number;
  cpuProfileDir: string | undefined;
  heapSnapshot: string | undefined;
  inspect: boolean;
}

function fail(message: string): never {
  process.stderr.write(`login bench: ${message}\n`);
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        sessions: { type: 'string', default: '5000' },
        concurrency: { type: 'string', default: '200' },
        transport: { type: 'string', default: 'websocket' },
        mechanism: { type: 'string', default: 'PLAIN' },
        server: { type: 'string', default: 'tsx' },
        warmup: { type: 'string', default: '200' },
        idle: { type: 'string', default: '5' },
        timeout: { type: 'string', default: '60' },
        ceiling: { type: 'string', default: '3' },
        'cpu-prof': { type: 'string' },
        'heap-snapshot': { type: 'string' },
        'no-inspect': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  if (values.help) {
    process.stdout.write(
      'usage: npx tsx loadtest/bench/login.ts [--sessions 5000] [--concurrency 200] [--transport websocket|tcp]\n' +
        '         [--mechanism PLAIN|SCRAM-SHA-1|SCRAM-SHA-256] [--server tsx|built] [--warmup 200] [--idle 5]\n' +
        '         [--timeout 60] [--ceiling 3] [--cpu-prof <dir>] [--heap-snapshot <prefix>] [--no-inspect]\n',
    );
    process.exit(0);
  }
  const count = (name: string, value: string, min: number): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, got "${value}"`);
    return n;
  };
  const transport = values.transport;
  if (transport !== 'websocket' && transport !== 'tcp') fail(`--transport must be websocket or tcp, got "${transport}"`);
  const mechanism = MECHANISM_NAMES.find((m) => m === values.mechanism);
  if (!mechanism) fail(`--mechanism must be one of ${MECHANISM_NAMES.join(', ')}, got "${values.mechanism}"`);
  const server = values.server;
  if (server !== 'tsx' && server !== 'built') fail(`--server must be tsx or built, got "${server}"`);
  if (values['heap-snapshot'] !== undefined && values['no-inspect']) fail('--heap-snapshot needs the inspector; drop --no-inspect');
  return {
    sessions: count('sessions', values.sessions, 1),
    concurrency: count('concurrency', values.concurrency, 1),
    transport,
    mechanism,
    server,
    warmup: count('warmup', values.warmup, 0),
    idleSeconds: count('idle', values.idle, 0),
    timeoutSeconds: count('timeout', values.timeout, 1),
    ceilingSeconds: count('ceiling', values.ceiling, 0),
    cpuProfileDir: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
    heapSnapshot: values['heap-snapshot'] === undefined ? undefined : resolve(values['heap-snapshot']),
    inspect: !values['no-inspect'],
  };
}

/** PBKDF2-SHA-256, 4096 iterations, as SASL PLAIN verification runs it, kept busy on every pool thread. */
async function pbkdf2Ceiling(seconds: number): Promise<{ perSecond: number; threads: number }> {
  const threads = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  const salt = Buffer.alloc(16, 7);
  const one = (): Promise<void> =>
    new Promise((done, reject) => pbkdf2(PASSWORD, salt, DEFAULT_ITERATIONS, 32, 'sha256', (err) => (err ? reject(err) : done())));
  // Warm up, then count completions for `seconds`.
  await Promise.all(Array.from({ length: threads }, one));
  let completed = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: threads }, async () => {
      while (performance.now() < end) {
        await one();
        completed++;
      }
    }),
  );
  return { perSecond: completed / ((performance.now() - start) / 1000), threads };
}

function username(i: number): string {
  return `bench${String(i).padStart(6, '0')}`;
}

async function provision(dataDir: string, count: number): Promise<number> {
  const started = performance.now();
  const config = loadConfig({ file: false, env: {}, overrides: { dataDir, domain: DOMAIN } });
  const stores = await openStores(config);
  try {
    const credentials = await deriveCredentials(PASSWORD, config.auth.scramIterations);
    const users: BulkUser[] = Array.from({ length: count }, (_, i) => ({ username: username(i + 1), credentials }));
    const created = await stores.bulk.load(users, { onExisting: 'fail' });
    if (created !== count) throw new Error(`provisioning created ${created} of ${count} users`);
  } finally {
    await stores.close();
  }
  return performance.now() - started;
}

interface Outcome {
  sessions: BenchSession[];
  failures: Map<string, number>;
  latencies: number[];
  steps: { connect: number[]; sasl: number[]; bind: number[] };
  wallMs: number;
}

/** Logs users first..first+count-1 in, at most `concurrency` at a time. */
async function loginAll(target: LoginTarget, first: number, count: number, concurrency: number, resource: string, progress: boolean): Promise<Outcome> {
  const outcome: Outcome = { sessions: [], failures: new Map(), latencies: [], steps: { connect: [], sasl: [], bind: [] }, wallMs: 0 };
  let next = 0;
  let done = 0;
  const started = performance.now();
  const ticker = progress ? setInterval(() => process.stderr.write(`  ${done}/${count} logins, ${outcome.sessions.length} ok\n`), 5000) : undefined;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = first + next++;
      try {
        const session = await BenchSession.login(target, username(i), PASSWORD, resource);
        const t = session.timings;
        outcome.sessions.push(session);
        outcome.latencies.push(t.bound);
        outcome.steps.connect.push(t.connected);
        outcome.steps.sasl.push(t.authenticated - t.connected);
        outcome.steps.bind.push(t.bound - t.authenticated);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        outcome.failures.set(reason, (outcome.failures.get(reason) ?? 0) + 1);
      }
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  outcome.wallMs = performance.now() - started;
  if (ticker) clearInterval(ticker);
  return outcome;
}

interface Distribution {
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

function distribution(values: readonly number[]): Distribution {
  if (values.length === 0) return { mean: Number.NaN, p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
  return { mean: sorted.reduce((a, b) => a + b, 0) / sorted.length, p50: rank(50), p95: rank(95), p99: rank(99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');
const mib = (kib: number): string => `${fmt(kib / 1024)} MiB`;
const dist = (d: Distribution): string => `${fmt(d.mean)} / ${fmt(d.p50)} / ${fmt(d.p95)} / ${fmt(d.p99)} / ${fmt(d.max)}`;

async function waitForSessions(server: ServerProcess, expected: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let seen = -1;
  while (Date.now() < deadline) {
    seen = (await server.health()).sessions;
    if (seen === expected) return seen;
    await sleep(200);
  }
  return seen;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const { sessions: n } = options;

  const limit = await openFilesLimit();
  const needed = n + SPARE_FDS;
  if (limit.hard < needed) fail(`${n} sessions need about ${needed} open files per process, above the hard limit of ${limit.hard}; use fewer sessions`);
  if (limit.soft < needed) {
    fail(`${n} sessions need about ${needed} open files in this process and in the server, but the limit is ${limit.soft} ` +
      `(hard ${limit.hard}); raise it first, e.g. \`ulimit -n ${Math.min(limit.hard, Math.max(needed, 20000))}\``);
  }

  process.stderr.write(`PBKDF2 ceiling: measuring for ${options.ceilingSeconds} s...\n`);
  const ceiling = options.ceilingSeconds > 0 ? await pbkdf2Ceiling(options.ceilingSeconds) : { perSecond: Number.NaN, threads: 0 };

  const dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-login-bench-'));
  if (options.cpuProfileDir !== undefined) await mkdir(options.cpuProfileDir, { recursive: true });
  let server: ServerProcess | undefined;
  let outcome: Outcome | undefined;
  try {
    process.stderr.write(`provisioning ${n} users in ${dataDir}...\n`);
    const provisionMs = await provision(dataDir, n);
    process.stderr.write(`  done in ${fmt(provisionMs / 1000)} s\n`);

    server = await ServerProcess.start({ runner: options.server, dataDir, domain: DOMAIN, cpuProfileDir: options.cpuProfileDir, inspector: options.inspect });
    const target: LoginTarget = {
      transport: options.transport,
      host: '127.0.0.1',
      port: options.transport === 'tcp' ? server.ports.c2s : server.ports.http,
      domain: DOMAIN,
      mechanism: options.mechanism,
      timeoutMs: options.timeoutSeconds * 1000,
    };
    process.stderr.write(`server pid ${server.pid} (${options.server}): c2s ${server.ports.c2s}, http ${server.ports.http}\n`);

    // Warm-up: JIT, first-use allocations and pools, so the baseline is a server that has seen logins.
    const warmup = Math.min(options.warmup, n);
    if (warmup > 0) {
      const w = await loginAll(target, 1, warmup, options.concurrency, 'warmup', false);
      for (const s of w.sessions) s.close();
      if (w.failures.size > 0) throw new Error(`warm-up logins failed: ${[...w.failures.keys()].join('; ')}`);
      const left = await waitForSessions(server, 0, 10_000);
      if (left !== 0) throw new Error(`${left} warm-up sessions still registered after closing them`);
      await sleep(2000);
    }

    const baselineGc = await server.memoryAfterGc();
    await sleep(500);
    const baseline = await server.memory();
    // Heap snapshots before the logins and when idle; their difference shows what a session keeps.
    if (options.heapSnapshot !== undefined) await server.heapSnapshot(`${options.heapSnapshot}-before.heapsnapshot`);
    const cpuBefore = await server.cpuMs();
    const mainBefore = await server.mainThreadCpuMs();
    const clientCpuBefore = process.cpuUsage();
    const machineBefore = await machineBusyMs();

    process.stderr.write(`logging in ${n} ${options.transport} sessions with ${options.mechanism}, ${options.concurrency} in flight...\n`);
    const phaseStartUs = process.hrtime.bigint() / 1000n;
    outcome = await loginAll(target, 1, n, options.concurrency, 'bench', true);
    const phaseEndUs = process.hrtime.bigint() / 1000n;
    const cpuAfter = await server.cpuMs();
    const mainAfter = await server.mainThreadCpuMs();
    const clientCpu = process.cpuUsage(clientCpuBefore);
    const machineBusy = (await machineBusyMs()) - machineBefore;
    if (options.cpuProfileDir !== undefined) {
      // V8 profile timestamps and hrtime share CLOCK_MONOTONIC, so login-profile.ts can cut the login phase out.
      await writeFile(join(options.cpuProfileDir, 'login-phase.json'), JSON.stringify({ startUs: Number(phaseStartUs), endUs: Number(phaseEndUs) }));
    }
    const ok = outcome.sessions.length;

    const registered = await waitForSessions(server, ok, 5000);
    process.stderr.write(`idle for ${options.idleSeconds} s...\n`);
    await sleep(options.idleSeconds * 1000);
    const idle = await server.memory();
    const idleGc = await server.memoryAfterGc();
    if (options.heapSnapshot !== undefined) await server.heapSnapshot(`${options.heapSnapshot}-idle.heapsnapshot`);
    const dropped = outcome.sessions.filter((s) => !s.open);
    const stillRegistered = (await server.health()).sessions;

    // ---- report ----
    const loginsPerSecond = ok / (outcome.wallMs / 1000);
    const serverCpuPerLogin = (cpuAfter - cpuBefore) / ok;
    const clientCpuMs = (clientCpu.user + clientCpu.system) / 1000;
    const clientCpuPerLogin = clientCpuMs / ok;
    const cores = availableParallelism();
    const wallMs = outcome.wallMs;
    const share = (ms: number): string => `${fmt((ms / wallMs) * 100, 0)} %`;
    const perSession = (after: MemoryReading | undefined, before: MemoryReading | undefined, key: 'rssKiB' | 'anonKiB'): number =>
      after && before ? (after[key] - before[key]) / ok : Number.NaN;
    const heapPerSession = idleGc?.heapUsedBytes !== undefined && baselineGc?.heapUsedBytes !== undefined ? (idleGc.heapUsedBytes - baselineGc.heapUsedBytes) / 1024 / ok : Number.NaN;
    const latency = distribution(outcome.latencies);
    const kibPerSession = perSession(idle, baseline, 'rssKiB');
    const failed = n - ok;

    const rows: [string, string][] = [
      ['logins', `${ok} ok, ${failed} failed, ${dropped.length} dropped while idle`],
      ['sessions registered on the server (/healthz)', `${registered} after the logins, ${stillRegistered} after the idle period`],
      ['wall time of the login phase', `${fmt(outcome.wallMs / 1000, 2)} s`],
      ['**logins/s**', `**${fmt(loginsPerSecond)}**`],
      [`ceiling: PBKDF2-SHA-256 ×${DEFAULT_ITERATIONS}/s on ${ceiling.threads} pool threads`, `${fmt(ceiling.perSecond)}${options.mechanism === 'PLAIN' ? '' : ' (not the limit: with SCRAM the server derives no key)'}`],
      ['login latency, connect → bind result, ms (mean / p50 / p95 / p99 / max)', dist(latency)],
      ['  connect (TCP/WebSocket handshake), ms', dist(distribution(outcome.steps.connect))],
      ['  open → SASL success, ms', dist(distribution(outcome.steps.sasl))],
      ['  restart → bind result, ms', dist(distribution(outcome.steps.bind))],
      ['server CPU per login (user+system, all threads)', `${fmt(serverCpuPerLogin, 2)} ms`],
      ['  of which the main thread (event loop) / other threads (libuv pool: PBKDF2; V8 GC helpers)',
        `${fmt((mainAfter - mainBefore) / ok, 2)} ms / ${fmt((cpuAfter - cpuBefore - (mainAfter - mainBefore)) / ok, 2)} ms (main thread busy ${share(mainAfter - mainBefore)} of the phase)`],
      ['load generator CPU per login', `${fmt(clientCpuPerLogin, 2)} ms`],
      [`machine CPU in the login phase (of ${cores * 100} %): server / load generator / other processes`,
        `${share(cpuAfter - cpuBefore)} / ${share(clientCpuMs)} / ${share(Math.max(0, machineBusy - (cpuAfter - cpuBefore) - clientCpuMs))}`],
      ['server RSS: before logins → idle', `${mib(baseline.rssKiB)} → ${mib(idle.rssKiB)}`],
      ['**RSS per idle session** (VmRSS delta / N)', `**${fmt(kibPerSession)} KiB**`],
      ['anonymous RSS per idle session (RssAnon delta / N)', `${fmt(perSession(idle, baseline, 'anonKiB'))} KiB`],
      ['after a forced GC: RSS per session, V8 heap per session', `${fmt(perSession(idleGc, baselineGc, 'rssKiB'))} KiB, ${fmt(heapPerSession)} KiB`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    const table = ['| Measure | Value |', '|---|---|', ...rows.map(([k, v]) => `| ${k.padEnd(width)} | ${v} |`)].join('\n');

    const summary =
      `login ${options.transport} ${options.mechanism}: ${ok}/${n} ok in ${fmt(outcome.wallMs / 1000, 2)} s = ${fmt(loginsPerSecond)} logins/s ` +
      `(PBKDF2 ceiling ${Number.isFinite(ceiling.perSecond) ? `${fmt(ceiling.perSecond)}/s` : 'not measured'}); latency p50 ${fmt(latency.p50)} ms, p99 ${fmt(latency.p99)} ms; ` +
      `server ${fmt(serverCpuPerLogin, 2)} ms CPU/login; ${fmt(kibPerSession)} KiB RSS per idle session`;
    process.stdout.write(`\n${summary}\n\n${table}\n`);
    for (const [reason, times] of outcome.failures) process.stdout.write(`failure ×${times}: ${reason}\n`);
    const dropReasons = new Map<string, number>();
    for (const s of dropped) dropReasons.set(s.reason ?? '?', (dropReasons.get(s.reason ?? '?') ?? 0) + 1);
    for (const [reason, times] of dropReasons) process.stdout.write(`dropped ×${times}: ${reason}\n`);

    return failed > 0 || dropped.length > 0 || stillRegistered !== ok ? 1 : 0;
  } finally {
    for (const s of outcome?.sessions ?? []) s.close();
    if (server) {
      const status = await server.stop();
      process.stderr.write(`server stopped: ${status}\n`);
      if (options.cpuProfileDir !== undefined) process.stderr.write(`CPU profile written to ${options.cpuProfileDir}\n`);
    }
    await rm(dataDir, { recursive: true, force: true });
  }
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`login bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}
