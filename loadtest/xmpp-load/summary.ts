// Reads one xmpp-load run (the --results JSON of main.ts) and the server samples written by loadtest/run
// (one /proc line per second for the server's pid) and prints the run's summary line, with the same fields
// and wording as loadtest/tsung/summary.ts so that TCP (Tsung) and WebSocket/BOSH (xmpp-load) lines compare
// directly. With --json FILE it also writes the numbers as JSON.
//
// The steady phase is the one main.ts timed: from --settle seconds after the last login to the end of the
// hold. Over it: server CPU per delivered message (message-rate), RSS per idle session (max-users).
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readServerSamples } from '../tsung/server-samples.js';

const { values: args } = parseArgs({
  options: {
    target: { type: 'string', default: '' },
    results: { type: 'string' },
    samples: { type: 'string' },
    json: { type: 'string' },
  },
});
if (args.results === undefined) throw new Error('--results is required');

interface Results {
  scenario: string;
  transport: string;
  users: number;
  rate: number;
  phases: Record<string, number | undefined>;
  sessions_max: number;
  logins: number;
  login_ms: number[];
  login_failures: Record<string, number>;
  lost_sessions: Record<string, number>;
  /** Absent in runs before the generator resent BOSH requests. */
  bosh_resends?: Record<string, number>;
  messages: { sent: number; delivered: number; bounced: number; unaccounted: number; duplicates: number; unknown: number };
  latency_ms: number[];
}
const run = JSON.parse(readFileSync(args.results, 'utf8')) as Results;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}
const mean = (values: readonly number[]): number => (values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length);
const sorted = (values: readonly number[]): number[] => [...values].sort((a, b) => a - b);

const logins = sorted(run.login_ms);
const latencies = sorted(run.latency_ms);
const { sent, delivered, bounced, unaccounted, duplicates } = run.messages;
const steadyFrom = run.phases.steady_start ?? NaN;
const steadyTo = run.phases.steady_end ?? NaN;
const steadySeconds = steadyTo - steadyFrom;
const steadySessions = run.phases.sessions_at_steady_end ?? run.sessions_max;

// Server: "hz <ticks per s> ..." then lines "<unix s> <utime ticks> <stime ticks> <VmRSS KiB> [<RssAnon KiB>]".
let rssPeakKiB = NaN;
let rssIdleKiB = NaN;
let rssAnonIdleKiB = NaN;
let rssSteadyKiB = NaN;
let rssAnonSteadyKiB = NaN;
let cpuMeanPct = NaN;
let cpuPeakPct = NaN;
let cpuSteadySeconds = NaN;
const server = readServerSamples(args.samples);
if (server !== undefined) {
  const { rows, cpuAt } = server;
  ({ rssIdleKiB, rssAnonIdleKiB, rssPeakKiB, cpuMeanPct, cpuPeakPct } = server);
  if (Number.isFinite(steadySeconds) && steadySeconds > 0) {
    cpuSteadySeconds = cpuAt(steadyTo) - cpuAt(steadyFrom);
    const inSteady = rows.filter((r) => (r[0] ?? 0) >= steadyFrom && (r[0] ?? 0) <= steadyTo);
    rssSteadyKiB = percentile(sorted(inSteady.map((r) => r[3] ?? NaN)), 50);
    rssAnonSteadyKiB = percentile(sorted(inSteady.map((r) => r[4] ?? NaN)), 50);
  }
}

const errors: string[] = [];
for (const [reason, n] of Object.entries(run.login_failures)) errors.push(`login failed ×${n}: ${reason}`);
for (const [reason, n] of Object.entries(run.lost_sessions)) errors.push(`session lost ×${n}: ${reason}`);
if (unaccounted > 0) errors.push(`unaccounted messages: ${unaccounted}`);
if (duplicates > 0) errors.push(`duplicate deliveries: ${duplicates}`);

const round = (v: number, digits = 1): number | null => (Number.isFinite(v) ? Number(v.toFixed(digits)) : null);
const summary = {
  target: args.target,
  scenario: run.scenario,
  transport: run.transport,
  generator: 'xmpp-load',
  users: run.users,
  sessions_max: run.sessions_max,
  logins: run.logins,
  login_ms_mean: round(mean(logins)),
  login_ms_p95: round(percentile(logins, 95)),
  messages_sent: sent,
  messages_delivered: delivered,
  messages_bounced: bounced,
  messages_unaccounted: unaccounted,
  messages_duplicated: duplicates,
  delivered_per_s: round(run.rate > 0 && steadySeconds > 0 ? delivered / steadySeconds : NaN),
  msg_latency_ms_mean: round(mean(latencies), 2),
  msg_latency_ms_p99: round(percentile(latencies, 99), 2),
  server_rss_mib: round(rssPeakKiB / 1024),
  server_cpu_pct_mean: round(cpuMeanPct),
  server_cpu_pct_peak: round(cpuPeakPct),
  kib_per_session: round(run.sessions_max > 0 ? (rssPeakKiB - rssIdleKiB) / run.sessions_max : NaN),
  steady_s: round(steadySeconds, 0),
  steady_sessions: steadySessions,
  steady_server_cpu_s: round(cpuSteadySeconds, 2),
  steady_server_cpu_pct: round((cpuSteadySeconds / steadySeconds) * 100),
  cpu_us_per_msg: round(delivered > 0 ? (cpuSteadySeconds / delivered) * 1e6 : NaN),
  rss_idle_mib: round(rssIdleKiB / 1024),
  rss_steady_mib: round(rssSteadyKiB / 1024),
  kib_per_idle_session: round(steadySessions > 0 ? (rssSteadyKiB - rssIdleKiB) / steadySessions : NaN),
  anon_kib_per_idle_session: round(steadySessions > 0 ? (rssAnonSteadyKiB - rssAnonIdleKiB) / steadySessions : NaN),
  bosh_resends: Object.values(run.bosh_resends ?? {}).reduce((a, b) => a + b, 0),
  errors,
};
if (args.json !== undefined) writeFileSync(args.json, JSON.stringify(summary, null, 2) + '\n');

const show = (v: number | null, unit = ''): string => (v === null ? 'n/a' : `${v}${unit}`);
const steadyPart =
  run.rate > 0
    ? `steady ${show(summary.steady_s, ' s')}: ${delivered}/${sent} delivered/sent (bounced ${bounced}, unaccounted ${unaccounted}), server CPU ${show(summary.steady_server_cpu_s, ' s')} (${show(summary.steady_server_cpu_pct, ' %')}), ${show(summary.cpu_us_per_msg, ' µs')}/delivered msg`
    : `steady ${show(summary.steady_s, ' s')}: RSS ${show(summary.rss_idle_mib)} → ${show(summary.rss_steady_mib, ' MiB')}, ${show(summary.kib_per_idle_session, ' KiB')}/idle session (anon ${show(summary.anon_kib_per_idle_session, ' KiB')})`;
console.log(
  `${summary.target ? `${summary.target} ` : ''}${summary.scenario}/${summary.transport} users=${summary.users}: ` +
    `sessions max ${summary.sessions_max} (logged in ${summary.logins}), ` +
    `login mean ${show(summary.login_ms_mean, ' ms')} p95 ${show(summary.login_ms_p95, ' ms')}, ` +
    `delivered ${show(summary.delivered_per_s)} msg/s (${delivered}/${sent}), ` +
    `msg latency mean ${show(summary.msg_latency_ms_mean, ' ms')} p99 ${show(summary.msg_latency_ms_p99, ' ms')}, ` +
    `server RSS ${show(summary.server_rss_mib, ' MiB')} CPU mean ${show(summary.server_cpu_pct_mean, ' %')} peak ${show(summary.server_cpu_pct_peak, ' %')}, ` +
    `${show(summary.kib_per_session, ' KiB')}/session (peak); ${steadyPart}; ${summary.bosh_resends > 0 ? `BOSH requests resent ${summary.bosh_resends}; ` : ''}errors ${errors.length === 0 ? 'none' : errors.join('; ')}`,
);
