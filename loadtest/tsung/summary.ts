// Reads one Tsung run's logs (tsung.log, tsung-fullstats.log) and the server samples written by
// loadtest/run (any server: one /proc line per second for the pid it started), and prints the run's
// one summary line. With --json FILE it also writes the numbers as JSON (the smoke test reads that).
//
// The steady phase: Tsung's per-second dumps (loadtest/run sets dumpstats_interval to 1 s) from
// --settle seconds after the last login until the first session ends. Over it: server CPU per delivered message
// (message-rate) and RSS per idle session (max-users), so that login work does not count as
// messaging work and sessions still arriving or leaving do not blur the memory figure.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readServerSamples } from './server-samples.js';

const { values: args } = parseArgs({
  options: {
    target: { type: 'string', default: '' },
    scenario: { type: 'string', default: '' },
    transport: { type: 'string', default: '' },
    users: { type: 'string', default: '0' },
    logdir: { type: 'string' },
    samples: { type: 'string' },
    json: { type: 'string' },
    // Seconds after the last login before the steady phase starts (queues left by the logins drain).
    settle: { type: 'string', default: '5' },
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

// Steady phase: the dumps after --settle seconds past the one that counted the last login, up to the
// last dump before any session finished. Each dump covers the second before its timestamp.
const loginsTotal = countOf('tr_login');
let loginsSoFar = 0;
let lastLoginAt = NaN;
let firstFinishAt = NaN;
for (const d of dumps) {
  loginsSoFar += d.stats.get('tr_login')?.[0] ?? 0;
  if (Number.isNaN(lastLoginAt) && loginsTotal > 0 && loginsSoFar >= loginsTotal) lastLoginAt = d.at;
  if (Number.isNaN(firstFinishAt) && (d.stats.get('finish_users_count')?.[0] ?? 0) > 0) firstFinishAt = d.at;
}
// Logins per second while users arrive: logins completed in the seconds in which Tsung started
// sessions (users_count > 0), per such second. Below the offered rate when the server (or Tsung) lags.
const loginDumps = dumps.filter((d) => (d.stats.get('tr_login')?.[0] ?? 0) > 0);
const arrivalDumps = dumps.filter((d) => (d.stats.get('users_count')?.[0] ?? 0) > 0);
const loginsPerSecond = arrivalDumps.reduce((sum, d) => sum + (d.stats.get('tr_login')?.[0] ?? 0), 0) / arrivalDumps.length;
const arrivalsPerSecond = arrivalDumps.reduce((sum, d) => sum + (d.stats.get('users_count')?.[0] ?? 0), 0) / arrivalDumps.length;
const steadyFrom = lastLoginAt + Number(args.settle);
const steadyDumps = dumps.filter((d) => d.at > steadyFrom && (Number.isNaN(firstFinishAt) || d.at < firstFinishAt));
const steadyTo = steadyDumps.length > 0 ? (steadyDumps[steadyDumps.length - 1]?.at ?? NaN) : NaN;
const steadyCount = (name: string): number => steadyDumps.reduce((sum, d) => sum + (d.stats.get(name)?.[0] ?? 0), 0);
const steadyDelivered = steadyCount('xmpp_msg_latency');
const steadySent = steadyCount('tr_send');
const steadySessions = Math.min(...steadyDumps.map((d) => d.stats.get('users')?.[0] ?? 0));
// The fullstats samples are in the order Tsung recorded them, and each dump counts the ones recorded
// since the previous dump, so the steady phase's latencies are one slice of the list.
const countBefore = (name: string, at: number): number => dumps.filter((d) => d.at <= at).reduce((sum, d) => sum + (d.stats.get(name)?.[0] ?? 0), 0);
const steadyLatencies = Number.isFinite(steadyTo) ? latencies.slice(countBefore('xmpp_msg_latency', steadyFrom), countBefore('xmpp_msg_latency', steadyTo)) : [];
const steadyLatencySorted = [...steadyLatencies].sort((a, b) => a - b);

// Server: "hz <ticks per s> ..." then lines "<unix s> <utime ticks> <stime ticks> <VmRSS KiB> [<RssAnon KiB>]".
let rssPeakKiB = NaN;
let rssIdleKiB = NaN;
let rssSteadyKiB = NaN;
let rssAnonIdleKiB = NaN;
let rssAnonSteadyKiB = NaN;
let cpuMeanPct = NaN;
let cpuPeakPct = NaN;
let cpuSteadySeconds = NaN;
let cpuMsPerLogin = NaN;
const server = readServerSamples(args.samples);
if (server !== undefined) {
  const { rows, cpuAt } = server;
  ({ rssIdleKiB, rssAnonIdleKiB, rssPeakKiB, cpuMeanPct, cpuPeakPct } = server);
  if (loginDumps.length > 0) {
    // Server CPU over the login phase (logins, and whatever else the server did meanwhile) per login.
    const from = (loginDumps[0]?.at ?? 0) - 1;
    const to = loginDumps[loginDumps.length - 1]?.at ?? 0;
    cpuMsPerLogin = ((cpuAt(to) - cpuAt(from)) / loginsTotal) * 1000;
  }
  if (Number.isFinite(steadyFrom) && Number.isFinite(steadyTo)) {
    cpuSteadySeconds = cpuAt(steadyTo) - cpuAt(steadyFrom);
    const inSteady = rows.filter((r) => (r[0] ?? 0) > steadyFrom && (r[0] ?? 0) <= steadyTo);
    const median = (values: number[]): number => percentile([...values].sort((a, b) => a - b), 50);
    rssSteadyKiB = median(inSteady.map((r) => r[3] ?? NaN));
    rssAnonSteadyKiB = median(inSteady.map((r) => r[4] ?? NaN));
  }
}
const kibPerSession = sessionsMax > 0 ? (rssPeakKiB - rssIdleKiB) / sessionsMax : NaN;
const phaseSeconds = steadyTo - steadyFrom;
const kibPerIdleSession = steadySessions > 0 ? (rssSteadyKiB - rssIdleKiB) / steadySessions : NaN;
const anonKibPerIdleSession = steadySessions > 0 ? (rssAnonSteadyKiB - rssAnonIdleKiB) / steadySessions : NaN;
const cpuUsPerMessage = steadyDelivered > 0 ? (cpuSteadySeconds / steadyDelivered) * 1e6 : NaN;

const round = (v: number, digits = 1): number | null => (Number.isFinite(v) ? Number(v.toFixed(digits)) : null);
const summary = {
  target: args.target,
  scenario: args.scenario,
  transport: args.transport,
  users: Number(args.users),
  sessions_max: sessionsMax,
  connected_max: connectedMax,
  logins: logins.length,
  login_ms_mean: round(mean(logins)),
  login_ms_p95: round(percentile(loginSorted, 95)),
  arrivals_per_s: round(arrivalsPerSecond),
  logins_per_s: round(loginsPerSecond),
  server_cpu_ms_per_login: round(cpuMsPerLogin, 2),
  messages_sent: sent,
  messages_delivered: delivered,
  delivered_per_s: round(steadyDelivered > 0 && phaseSeconds > 0 ? steadyDelivered / phaseSeconds : deliveredPerSecond),
  msg_latency_ms_mean: round(mean(latencies), 2),
  msg_latency_ms_p99: round(percentile(latencySorted, 99), 2),
  server_rss_mib: round(rssPeakKiB / 1024),
  server_cpu_pct_mean: round(cpuMeanPct),
  server_cpu_pct_peak: round(cpuPeakPct),
  kib_per_session: round(kibPerSession),
  steady_s: round(phaseSeconds, 0),
  steady_from_unix: Number.isFinite(steadyFrom) ? steadyFrom : null,
  steady_to_unix: Number.isFinite(steadyTo) ? steadyTo : null,
  steady_sessions: Number.isFinite(steadySessions) ? steadySessions : null,
  steady_sent: steadySent,
  steady_delivered: steadyDelivered,
  steady_server_cpu_s: round(cpuSteadySeconds, 2),
  steady_server_cpu_pct: round((cpuSteadySeconds / phaseSeconds) * 100),
  cpu_us_per_msg: round(cpuUsPerMessage),
  steady_latency_ms_mean: round(mean(steadyLatencies), 2),
  steady_latency_ms_p99: round(percentile(steadyLatencySorted, 99), 2),
  rss_idle_mib: round(rssIdleKiB / 1024),
  rss_steady_mib: round(rssSteadyKiB / 1024),
  kib_per_idle_session: round(kibPerIdleSession),
  anon_kib_per_idle_session: round(anonKibPerIdleSession),
  errors,
};
if (args.json !== undefined) writeFileSync(args.json, JSON.stringify(summary, null, 2) + '\n');

const show = (v: number | null, unit = ''): string => (v === null ? 'n/a' : `${v}${unit}`);
const steadyPart =
  summary.scenario === 'message-rate'
    ? `steady ${show(summary.steady_s, ' s')}: ${steadyDelivered}/${steadySent} delivered/sent, server CPU ${show(summary.steady_server_cpu_s, ' s')} (${show(summary.steady_server_cpu_pct, ' %')}), ${show(summary.cpu_us_per_msg, ' µs')}/delivered msg, latency mean ${show(summary.steady_latency_ms_mean, ' ms')} p99 ${show(summary.steady_latency_ms_p99, ' ms')}`
    : `steady ${show(summary.steady_s, ' s')}: RSS ${show(summary.rss_idle_mib)} → ${show(summary.rss_steady_mib, ' MiB')}, ${show(summary.kib_per_idle_session, ' KiB')}/idle session (anon ${show(summary.anon_kib_per_idle_session, ' KiB')})`;
console.log(
  `${summary.target ? `${summary.target} ` : ''}${summary.scenario}/${summary.transport} users=${summary.users}: ` +
    `sessions max ${summary.sessions_max} (logged in ${summary.logins}), ` +
    `login mean ${show(summary.login_ms_mean, ' ms')} p95 ${show(summary.login_ms_p95, ' ms')} (arrivals ${show(summary.arrivals_per_s)}/s, logins ${show(summary.logins_per_s)}/s, server CPU ${show(summary.server_cpu_ms_per_login, ' ms')}/login), ` +
    `delivered ${show(summary.delivered_per_s)} msg/s (${delivered}/${sent}), ` +
    `msg latency mean ${show(summary.msg_latency_ms_mean, ' ms')} p99 ${show(summary.msg_latency_ms_p99, ' ms')}, ` +
    `server RSS ${show(summary.server_rss_mib, ' MiB')} CPU mean ${show(summary.server_cpu_pct_mean, ' %')} peak ${show(summary.server_cpu_pct_peak, ' %')}, ` +
    `${show(summary.kib_per_session, ' KiB')}/session (peak); ${steadyPart}; errors ${errors.length === 0 ? 'none' : errors.join(' ')}`,
);
