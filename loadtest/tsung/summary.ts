// Reads one Tsung run's logs (tsung.log, tsung-fullstats.log) and the server samples written by
// loadtest/run, and prints the run's one summary line. With --json FILE it also writes the numbers
// as JSON (the smoke test reads that).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string', default: '' },
    transport: { type: 'string', default: '' },
    users: { type: 'string', default: '0' },
    logdir: { type: 'string' },
    samples: { type: 'string' },
    json: { type: 'string' },
  },
});
if (args.logdir === undefined) throw new Error('--logdir is required');
const logdir = args.logdir;

/** Tsung's periodic report: "# stats: dump at <unix s>" then "stats: <name> <fields...>". */
interface Dump {
  at: number;
  stats: Map<string, number[]>;
}

function readDumps(file: string): Dump[] {
  const dumps: Dump[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const header = /^# stats: dump at (\d+)/.exec(line);
    if (header) {
      dumps.push({ at: Number(header[1]), stats: new Map() });
      continue;
    }
    const stat = /^stats: (\S+) (.*)$/.exec(line);
    const current = dumps[dumps.length - 1];
    if (stat && current) current.stats.set(stat[1] ?? '', (stat[2] ?? '').split(' ').map(Number));
  }
  return dumps;
}

/** Every raw sample of each kind from the fullstats backend: {sample,Name,Value} or {sample,Name,[V,...]}. */
function readSamples(file: string): Map<string, number[]> {
  const samples = new Map<string, number[]>();
  if (!existsSync(file)) return samples;
  const text = readFileSync(file, 'utf8').replace(/\s+/g, '');
  for (const m of text.matchAll(/\{sample,([a-z_]+),(\[[^\]]*\]|[-\d.e+]+)\}/g)) {
    const name = m[1] ?? '';
    const raw = m[2] ?? '';
    const values = raw.startsWith('[') ? raw.slice(1, -1).split(',').filter((v) => v !== '').map(Number) : [Number(raw)];
    const list = samples.get(name) ?? [];
    for (const v of values) list.push(v);
    samples.set(name, list);
  }
  return samples;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function mean(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

const dumps = readDumps(join(logdir, 'tsung.log'));
const samples = readSamples(join(logdir, 'tsung-fullstats.log'));

// "users <now> <max>": sessions Tsung had open; "connected <now> <max>": open sockets.
const maxOf = (name: string, field: number): number => Math.max(0, ...dumps.map((d) => d.stats.get(name)?.[field] ?? 0));
const sessionsMax = maxOf('users', 1);
const connectedMax = maxOf('connected', 0);

// Per-interval sample lines: "<name> <count> <mean> <stddev> <max> <min> <mean so far> <count so far>".
const countOf = (name: string): number => dumps.reduce((sum, d) => sum + (d.stats.get(name)?.[0] ?? 0), 0);
const logins = samples.get('tr_login') ?? [];
const loginSorted = [...logins].sort((a, b) => a - b);
const latencies = samples.get('xmpp_msg_latency') ?? [];
const latencySorted = [...latencies].sort((a, b) => a - b);
const sent = countOf('tr_send');
const delivered = latencies.length;

// Delivery rate: delivered stamps over the intervals that saw any, leaving out the first and last
// (partly empty) intervals when there are enough.
const withMessages = dumps
  .map((d, i) => ({ at: d.at, count: d.stats.get('xmpp_msg_latency')?.[0] ?? 0, previous: dumps[i - 1]?.at }))
  .filter((d) => d.count > 0 && d.previous !== undefined);
const steady = withMessages.length >= 3 ? withMessages.slice(1, -1) : withMessages;
const steadySeconds = steady.reduce((s, d) => s + (d.at - (d.previous ?? d.at)), 0);
const deliveredPerSecond = steadySeconds > 0 ? steady.reduce((s, d) => s + d.count, 0) / steadySeconds : 0;

// Errors Tsung counted: error_* counters, aborted sessions (SASL <failure>), ids it ran out of.
const lastTotals = new Map<string, number>();
for (const d of dumps) for (const [name, v] of d.stats) if (/^error_|^match_stop$/.test(name)) lastTotals.set(name, (lastTotals.get(name) ?? 0) + (v[0] ?? 0));
const errors = [...lastTotals].filter(([, n]) => n > 0).map(([name, n]) => `${name}:${n}`);

// Server: lines "<unix s> <utime ticks> <stime ticks> <rss KiB>" after a "hz <ticks per s>" line.
let rssPeakKiB = NaN;
let rssIdleKiB = NaN;
let cpuMeanPct = NaN;
let cpuPeakPct = NaN;
if (args.samples !== undefined && existsSync(args.samples)) {
  const lines = readFileSync(args.samples, 'utf8').trim().split('\n');
  const hz = Number(/^hz (\d+)/.exec(lines[0] ?? '')?.[1] ?? 100);
  const rows = lines.slice(1).map((l) => l.split(' ').map(Number)).filter((r) => r.length === 4 && r.every(Number.isFinite));
  if (rows.length > 0) {
    rssIdleKiB = rows[0]?.[3] ?? NaN;
    rssPeakKiB = Math.max(...rows.map((r) => r[3] ?? 0));
    const cpu = (r: number[]): number => ((r[1] ?? 0) + (r[2] ?? 0)) / hz;
    const first = rows[0] ?? [];
    const last = rows[rows.length - 1] ?? [];
    const wall = (last[0] ?? 0) - (first[0] ?? 0);
    cpuMeanPct = wall > 0 ? ((cpu(last) - cpu(first)) / wall) * 100 : NaN;
    cpuPeakPct = 0;
    for (let i = 1; i < rows.length; i++) {
      const a = rows[i - 1] ?? [];
      const b = rows[i] ?? [];
      const dt = (b[0] ?? 0) - (a[0] ?? 0);
      if (dt > 0) cpuPeakPct = Math.max(cpuPeakPct, ((cpu(b) - cpu(a)) / dt) * 100);
    }
  }
}
const kibPerSession = sessionsMax > 0 ? (rssPeakKiB - rssIdleKiB) / sessionsMax : NaN;

const round = (v: number, digits = 1): number | null => (Number.isFinite(v) ? Number(v.toFixed(digits)) : null);
const summary = {
  scenario: args.scenario,
  transport: args.transport,
  users: Number(args.users),
  sessions_max: sessionsMax,
  connected_max: connectedMax,
  logins: logins.length,
  login_ms_mean: round(mean(logins)),
  login_ms_p95: round(percentile(loginSorted, 95)),
  messages_sent: sent,
  messages_delivered: delivered,
  delivered_per_s: round(deliveredPerSecond),
  msg_latency_ms_mean: round(mean(latencies), 2),
  msg_latency_ms_p99: round(percentile(latencySorted, 99), 2),
  server_rss_mib: round(rssPeakKiB / 1024),
  server_cpu_pct_mean: round(cpuMeanPct),
  server_cpu_pct_peak: round(cpuPeakPct),
  kib_per_session: round(kibPerSession),
  errors,
};
if (args.json !== undefined) writeFileSync(args.json, JSON.stringify(summary, null, 2) + '\n');

const show = (v: number | null, unit = ''): string => (v === null ? 'n/a' : `${v}${unit}`);
console.log(
  `${summary.scenario}/${summary.transport} users=${summary.users}: ` +
    `sessions max ${summary.sessions_max} (logged in ${summary.logins}), ` +
    `login mean ${show(summary.login_ms_mean, ' ms')} p95 ${show(summary.login_ms_p95, ' ms')}, ` +
    `delivered ${show(summary.delivered_per_s)} msg/s (${delivered}/${sent}), ` +
    `msg latency mean ${show(summary.msg_latency_ms_mean, ' ms')} p99 ${show(summary.msg_latency_ms_p99, ' ms')}, ` +
    `server RSS ${show(summary.server_rss_mib, ' MiB')} CPU mean ${show(summary.server_cpu_pct_mean, ' %')} peak ${show(summary.server_cpu_pct_peak, ' %')}, ` +
    `${show(summary.kib_per_session, ' KiB')}/session, errors ${errors.length === 0 ? 'none' : errors.join(' ')}`,
);
