// MUC broadcast latency benchmark (Heimdallr's five cases) against Ratatosk and Prosody over WebSocket.
//
//   npx tsx loadtest/muc-broadcast/run.ts [--servers ratatosk,ratatosk2,prosody] [--generators 2] [--messages 10]
//                                         [--interval 1000] [--cases 10x1,100x5,1000x10,1000x50,1000x100]
//                                         [--server-node-args "--cpu-prof --cpu-prof-dir=DIR"]
//
// Per server: provision 1,100 accounts, start the server as its own process, then per case log in
// subscribers + publishers (all of them occupants of one fresh room), let the join presence flood settle,
// have every publisher send `messages` groupchat messages `interval` ms apart (publishers evenly staggered),
// and measure every delivered copy in the receiving generator process. See README.md.
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUCKET_MS, type Command, type Member, type Report } from './generator.js';
import type { Target } from './ws-client.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const DOMAIN = 'localhost';
const PASSWORD = 'secret';
const USERS = 1100;
const USER_PREFIX = 'bench';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}
const SERVERS = option('servers', 'ratatosk,ratatosk2,prosody').split(',');
const GENERATORS = Number(option('generators', '2'));
const MESSAGES = Number(option('messages', '10'));
const INTERVAL_MS = Number(option('interval', '1000'));
/** Extra node flags for the Ratatosk process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it. */
const SERVER_NODE_ARGS = option('server-node-args', '').split(' ').filter((a) => a !== '');
const CASES = option('cases', '10x1,100x5,1000x10,1000x50,1000x100')
  .split(',')
  .map((c) => {
    const [subs, pubs] = c.split('x').map(Number);
    return { subs: subs ?? 0, pubs: pubs ?? 0 };
  });

const nowMs = (): number => {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitForPort(port: number, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(200);
  }
  throw new Error(`${what} did not listen on ${port}`);
}

function fill(template: string, values: Record<string, string | number>): string {
  return readFileSync(path.join(HERE, template), 'utf8').replace(/\{\{(\w+)\}\}/g, (_, key: string) => String(values[key] ?? `{{${key}}}`));
}

/** CPU time (user + system, all threads) of a process so far, ms. */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
}

/** Busy and total jiffies of the whole machine. */
function machineTicks(): { busy: number; total: number } {
  const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  return { busy: total - idle, total };
}

interface RunningServer {
  name: string;
  pid: number;
  /** Every process whose CPU counts as the server's (a cluster's nodes and its Redis); default [pid]. */
  pids?: number[];
  target: Target;
  /** Where each generator connects (generator g uses targets[g % length]); default [target]. */
  targets?: Target[];
  version: string;
  stop(): Promise<void>;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

async function startRatatosk(): Promise<RunningServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'muc-broadcast-ratatosk-'));
  const [c2s, http] = [await freePort(), await freePort()];
  const configFile = path.join(dir, 'ratatosk.toml');
  writeFileSync(configFile, fill('ratatosk.toml.template', { DOMAIN, DATA_DIR: path.join(dir, 'data'), C2S_PORT: c2s, HTTP_PORT: http }));
  const env = { ...process.env, RATATOSK_CONFIG: configFile };
  const started = nowMs();
  const provision = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'loadtest/cluster/ratatosk-dev.ts', 'user', 'add-many', '--prefix', USER_PREFIX, '--count', String(USERS), '--domain', DOMAIN, '--password', PASSWORD, '--same-salt'],
    { cwd: ROOT, env, encoding: 'utf8' },
  );
  if (provision.status !== 0) throw new Error(`user add-many failed: ${provision.stderr}`);
  console.log(`ratatosk: ${USERS} users provisioned in ${((nowMs() - started) / 1000).toFixed(1)} s`);
  const child = spawn(process.execPath, [...SERVER_NODE_ARGS, '--import', 'tsx', 'loadtest/bench/login-serve.ts'], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
  await waitForPort(http, child, 'ratatosk');
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  return {
    name: 'Ratatosk',
    pid: child.pid ?? 0,
    target: { host: '127.0.0.1', port: http, path: '/xmpp-websocket', domain: DOMAIN },
    version: `working tree on ${commit}, from the TypeScript sources (node --import tsx)`,
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Two Ratatosk nodes on one private redis-server, sharing one embedded store directory: the room lives on the
 * node of the first occupant, and the generators' occupants are split between the nodes.
 */
async function startRatatoskCluster(): Promise<RunningServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'muc-broadcast-ratatosk2-'));
  const dataDir = path.join(dir, 'data');
  const redisPort = await freePort();
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForPort(redisPort, redis, 'redis-server');
  const nodes: Array<{ child: ChildProcess; http: number }> = [];
  for (const id of ['b1', 'b2']) {
    const [c2s, http] = [await freePort(), await freePort()];
    const configFile = path.join(dir, `ratatosk-${id}.toml`);
    writeFileSync(configFile, fill('ratatosk.toml.template', { DOMAIN, DATA_DIR: dataDir, C2S_PORT: c2s, HTTP_PORT: http }));
    const env = { ...process.env, RATATOSK_CONFIG: configFile, RATATOSK_NODE_ID: id, RATATOSK_REDIS_URL: `redis://127.0.0.1:${redisPort}` };
    if (nodes.length === 0) {
      const started = nowMs();
      const provision = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'loadtest/cluster/ratatosk-dev.ts', 'user', 'add-many', '--prefix', USER_PREFIX, '--count', String(USERS), '--domain', DOMAIN, '--password', PASSWORD, '--same-salt'],
        { cwd: ROOT, env: { ...process.env, RATATOSK_CONFIG: configFile }, encoding: 'utf8' },
      );
      if (provision.status !== 0) throw new Error(`user add-many failed: ${provision.stderr}`);
      console.log(`ratatosk (2 nodes): ${USERS} users provisioned in ${((nowMs() - started) / 1000).toFixed(1)} s`);
    }
    const child = spawn(process.execPath, [...SERVER_NODE_ARGS, '--import', 'tsx', 'loadtest/bench/login-serve.ts'], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
    await waitForPort(http, child, `ratatosk ${id}`);
    nodes.push({ child, http });
  }
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const targets = nodes.map(({ http }) => ({ host: '127.0.0.1', port: http, path: '/xmpp-websocket', domain: DOMAIN }));
  return {
    name: 'Ratatosk, 2 nodes',
    pid: nodes[0]?.child.pid ?? 0,
    pids: [...nodes.map(({ child }) => child.pid ?? 0), redis.pid ?? 0],
    target: targets[0] as Target,
    targets,
    version: `working tree on ${commit}, 2 node processes + redis-server ${spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/)?.[1] ?? '?'}`,
    stop: async () => {
      for (const { child } of nodes) await stopChild(child);
      await stopChild(redis);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const serverCpuMs = (server: RunningServer): number => (server.pids ?? [server.pid]).reduce((sum, pid) => sum + processCpuMs(pid), 0);

async function startProsody(): Promise<RunningServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'muc-broadcast-prosody-'));
  const [c2s, http] = [await freePort(), await freePort()];
  const configFile = path.join(dir, 'prosody.cfg.lua');
  writeFileSync(configFile, fill('prosody.cfg.lua.template', { DOMAIN, DATA_DIR: dir, C2S_PORT: c2s, HTTP_PORT: http }));
  const user = spawnSync('id', ['-u', 'prosody'], { encoding: 'utf8' });
  const group = spawnSync('id', ['-g', 'prosody'], { encoding: 'utf8' });
  const [uid, gid] = [Number(user.stdout), Number(group.stdout)];
  chownSync(dir, uid, gid);
  chownSync(configFile, uid, gid);
  const started = nowMs();
  // One account through prosodyctl; its file (SCRAM-SHA-1 credentials, one salt) is then copied for the
  // others: the equivalent of Ratatosk's --same-salt, and seconds instead of minutes of prosodyctl runs.
  const register = spawnSync('prosodyctl', ['--config', configFile, 'register', `${USER_PREFIX}1`, DOMAIN, PASSWORD], { encoding: 'utf8' });
  if (register.status !== 0) throw new Error(`prosodyctl register failed: ${register.stdout}${register.stderr}`);
  const accounts = path.join(dir, DOMAIN.replace(/\./g, '%2e'), 'accounts');
  const first = path.join(accounts, `${USER_PREFIX}1.dat`);
  for (let i = 2; i <= USERS; i++) {
    const file = path.join(accounts, `${USER_PREFIX}${i}.dat`);
    copyFileSync(first, file);
    chownSync(file, uid, gid);
  }
  console.log(`prosody: ${readdirSync(accounts).length} users provisioned in ${((nowMs() - started) / 1000).toFixed(1)} s`);
  const child = spawn('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--init-groups', 'prosody', '-F', '--config', configFile], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitForPort(http, child, 'prosody');
  const version = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'prosody'], { encoding: 'utf8' }).stdout.trim();
  const lua = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
  return {
    name: 'Prosody',
    pid: child.pid ?? 0,
    target: { host: '127.0.0.1', port: http, path: '/xmpp-websocket', domain: DOMAIN },
    version: `${version} (Debian 12), ${path.basename(lua)}, network backend from the package defaults`,
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

class Generator {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<string, (message: Record<string, unknown>) => void>();

  constructor() {
    this.child = fork(path.join(HERE, 'generator.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (message: Record<string, unknown>) => {
      const ev = String(message.ev);
      if (ev === 'error') throw new Error(`generator: ${String(message.message)}`);
      const resolve = this.waiting.get(ev);
      this.waiting.delete(ev);
      resolve?.(message);
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  expect(ev: string): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.waiting.set(ev, resolve));
  }

  request(command: Command): Promise<Record<string, unknown>> {
    const answer = this.expect(command.cmd);
    this.child.send(command);
    return answer;
  }

  stop(): void {
    this.child.kill();
  }
}

/**
 * Waits until the server has worked through the previous case's exits (each is an unavailable presence
 * to every remaining occupant: n² / 2 stanzas again) and is idle: under 5 % of a core for 2 s, or 10 minutes.
 */
async function waitForIdle(server: RunningServer): Promise<void> {
  const deadline = nowMs() + 600_000;
  while (nowMs() < deadline) {
    const before = serverCpuMs(server);
    await sleep(2000);
    if (serverCpuMs(server) - before < 100) return;
  }
}

interface CaseResult {
  server: string;
  subs: number;
  pubs: number;
  expected: number;
  received: number;
  duplicates: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  sendLagMeanMs: number;
  sendLagMaxMs: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  generatorCpuPct: number;
  serverCpuPct: number;
  machineCpuPct: number;
  joinSeconds: number;
  copiesPerSecond: number;
}

function percentile(sorted: [number, number][], total: number, p: number): number {
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (const [bucket, count] of sorted) {
    seen += count;
    if (seen >= rank) return bucket * BUCKET_MS;
  }
  return Number.NaN;
}

async function runCase(server: RunningServer, generators: Generator[], subs: number, pubs: number, caseIndex: number): Promise<CaseResult> {
  const occupants = subs + pubs;
  const room = `bench${caseIndex}-${Date.now().toString(36)}@conference.${DOMAIN}`;
  const caseId = `c${caseIndex}`;
  // Subscribers first (the first one creates the room), publishers after; dealt round-robin to generators.
  const all: Member[] = Array.from({ length: occupants }, (_, i) => ({
    username: `${USER_PREFIX}${i + 1}`,
    nick: i < subs ? `s${i}` : `p${i - subs}`,
    publisher: i < subs ? -1 : i - subs,
  }));
  const shares = generators.map((_, g) => all.filter((__, i) => i % generators.length === g));
  const login = await Promise.all(
    generators.map((gen, g) => gen.request({ cmd: 'login', target: server.targets?.[g % server.targets.length] ?? server.target, password: PASSWORD, members: shares[g] ?? [], concurrency: 50, timeoutMs: 300_000 })),
  );
  for (const l of login) if (Number(l.failed) > 0) throw new Error(`${server.name}: ${String(l.failed)} logins failed: ${String(l.firstFailure)}`);
  const joinStart = nowMs();
  const [creator] = generators;
  if (!creator) throw new Error('no generator');
  const created = await creator.request({ cmd: 'join', room, from: 0, count: 1, concurrency: 1, timeoutMs: 60_000 });
  if (Number(created.failed) > 0) throw new Error(`${server.name}: room creation failed: ${String(created.firstFailure)}`);
  const joins = await Promise.all(
    generators.map((gen, g) => gen.request({ cmd: 'join', room, from: g === 0 ? 1 : 0, count: occupants, concurrency: 20, timeoutMs: 120_000 })),
  );
  for (const j of joins) if (Number(j.failed) > 0) throw new Error(`${server.name}: ${String(j.failed)} joins failed: ${String(j.firstFailure)}`);
  await Promise.all(generators.map((gen) => gen.request({ cmd: 'quiet', quietMs: 1000 })));
  const joinSeconds = (nowMs() - joinStart) / 1000;

  const expected = pubs * MESSAGES * occupants;
  const serverCpu0 = serverCpuMs(server);
  const machine0 = machineTicks();
  const phase0 = nowMs();
  const startAt = nowMs() + 500;
  await Promise.all(generators.map((gen) => gen.request({ cmd: 'publish', room, caseId, publishers: pubs, messages: MESSAGES, intervalMs: INTERVAL_MS, startAt })));
  const lastSend = startAt + MESSAGES * INTERVAL_MS;
  let last = -1;
  let lastChange = nowMs();
  for (;;) {
    await sleep(250);
    const progress = await Promise.all(generators.map((gen) => gen.request({ cmd: 'progress' })));
    const received = progress.reduce((n, p) => n + Number(p.received), 0);
    if (received >= expected) break;
    if (received !== last) {
      last = received;
      lastChange = nowMs();
    } else if (nowMs() > lastSend && nowMs() - lastChange > 5000) break; // copies that never come
  }
  const reports = (await Promise.all(generators.map((gen) => gen.request({ cmd: 'report' })))).map((r) => r.report as Report);
  const phaseMs = nowMs() - phase0;
  const serverCpuUsedMs = serverCpuMs(server) - serverCpu0;
  const machine1 = machineTicks();
  await Promise.all(generators.map((gen) => gen.request({ cmd: 'close' })));
  await waitForIdle(server);

  const merged = new Map<number, number>();
  for (const r of reports) for (const [bucket, count] of r.buckets) merged.set(bucket, (merged.get(bucket) ?? 0) + count);
  const sorted = [...merged.entries()].sort((a, b) => a[0] - b[0]);
  const received = reports.reduce((n, r) => n + r.received, 0);
  const sent = reports.reduce((n, r) => n + r.sent, 0);
  if (sent !== pubs * MESSAGES) throw new Error(`${server.name}: sent ${sent} of ${pubs * MESSAGES} messages`);
  const errors = reports.reduce((n, r) => n + r.errors, 0);
  const firstError = reports.find((r) => r.lastError)?.lastError;
  if (firstError) console.log(`  first error stanza: ${firstError}`);
  const generatorCpuMs = reports.reduce((n, r) => n + r.cpuMs, 0);
  return {
    server: server.name,
    subs,
    pubs,
    expected,
    received,
    duplicates: reports.reduce((n, r) => n + r.duplicates, 0),
    meanMs: reports.reduce((n, r) => n + r.sumMs, 0) / received,
    p50Ms: percentile(sorted, received, 50),
    p95Ms: percentile(sorted, received, 95),
    p99Ms: percentile(sorted, received, 99),
    maxMs: Math.max(...reports.map((r) => r.maxMs)),
    errors,
    sendLagMeanMs: reports.reduce((n, r) => n + r.sendLagMeanMs * r.sent, 0) / Math.max(1, sent),
    sendLagMaxMs: Math.max(...reports.map((r) => r.sendLagMaxMs)),
    loopDelayP99Ms: Math.max(...reports.map((r) => r.loopDelayP99Ms)),
    loopDelayMaxMs: Math.max(...reports.map((r) => r.loopDelayMaxMs)),
    generatorCpuPct: (100 * generatorCpuMs) / phaseMs,
    serverCpuPct: (100 * serverCpuUsedMs) / phaseMs,
    machineCpuPct: (100 * os.cpus().length * (machine1.busy - machine0.busy)) / (machine1.total - machine0.total),
    joinSeconds,
    copiesPerSecond: received / (phaseMs / 1000),
  };
}

const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');

function printTable(results: CaseResult[]): void {
  console.log('\n| Server | Case | mean ms | p50 | p95 | p99 | max | delivered / expected | server CPU | generators CPU (loop delay p99 / max ms) | machine CPU | send lag mean / max ms |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.server} | ${r.subs} sub, ${r.pubs} pub | ${ms(r.meanMs)} | ${ms(r.p50Ms)} | ${ms(r.p95Ms)} | ${ms(r.p99Ms)} | ${ms(r.maxMs)} | ` +
        `${r.received.toLocaleString('en')} / ${r.expected.toLocaleString('en')} (${((100 * r.received) / r.expected).toFixed(2)} %) | ` +
        `${r.serverCpuPct.toFixed(0)} % | ${r.generatorCpuPct.toFixed(0)} % (${ms(r.loopDelayP99Ms)} / ${ms(r.loopDelayMaxMs)}) | ${r.machineCpuPct.toFixed(0)} % | ${ms(r.sendLagMeanMs)} / ${ms(r.sendLagMaxMs)} |`,
    );
  }
}

const results: CaseResult[] = [];
const generators = Array.from({ length: GENERATORS }, () => new Generator());
await Promise.all(generators.map((gen) => gen.expect('ready')));
try {
  for (const name of SERVERS) {
    const server = name === 'prosody' ? await startProsody() : name === 'ratatosk2' ? await startRatatoskCluster() : await startRatatosk();
    console.log(`${server.name} ${server.version}, pid ${server.pid}, ws://127.0.0.1:${server.target.port}${server.target.path}`);
    try {
      for (const [i, c] of CASES.entries()) {
        const result = await runCase(server, generators, c.subs, c.pubs, i);
        results.push(result);
        console.log(
          `  ${c.subs} sub / ${c.pubs} pub: mean ${ms(result.meanMs)} p95 ${ms(result.p95Ms)} p99 ${ms(result.p99Ms)} max ${ms(result.maxMs)} ms, ` +
            `${result.received}/${result.expected} copies, ${result.errors} errors, ${result.duplicates} duplicates, joins ${result.joinSeconds.toFixed(1)} s, ` +
            `server ${result.serverCpuPct.toFixed(0)} %, generators ${result.generatorCpuPct.toFixed(0)} % (loop delay p99 ${ms(result.loopDelayP99Ms)} max ${ms(result.loopDelayMaxMs)} ms, ` +
            `send lag mean ${ms(result.sendLagMeanMs)} max ${ms(result.sendLagMaxMs)} ms), machine ${result.machineCpuPct.toFixed(0)} %, ${result.copiesPerSecond.toFixed(0)} copies/s`,
        );
        await sleep(1000);
      }
    } finally {
      await server.stop();
    }
  }
} finally {
  for (const gen of generators) gen.stop();
}
printTable(results);
writeFileSync(path.join(os.tmpdir(), `muc-broadcast-${Date.now()}.json`), JSON.stringify(results, null, 2));
