// Reads a soak's samples.csv and generator.json (loadtest/soak/run wrote them into DIR) and writes DIR/summary.json
// and a few lines to stdout:
//
//   npx tsx loadtest/soak/summary.ts DIR [--window 300] [--warmup 0]
//
// Memory per session (README.md, "What the figures mean"): for every sample,
//   (VmRSS − baseline RSS) / sessions   and   (heap used − baseline heap used) / sessions,
// where the baseline is the median over the samples before the first login and sessions is the server's
// ratatosk_sessions gauge (the generator's own count when the server has none). The start figure is the median
// of those per-sample values over the first --window seconds of the steady phase, the end figure the median over
// its last --window seconds: medians of many samples, so no single garbage-collection moment decides either.
// --warmup S starts the first window S seconds into the steady phase instead (the young generation grows to its
// largest size and the JIT compiles the hot code in the first minutes; README.md says what each figure shows).
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { window: { type: 'string', default: '300' }, warmup: { type: 'string', default: '0' } } });
const dir = positionals[0];
if (dir === undefined) {
  process.stderr.write('usage: summary.ts DIR [--window SECONDS] [--warmup SECONDS]\n');
  process.exit(2);
}
const WINDOW = Number(values.window);
const WARMUP = Number(values.warmup);

type Row = Record<string, string>;
const [header, ...lines] = readFileSync(`${dir}/samples.csv`, 'utf8').trim().split('\n');
const columns = (header ?? '').split(',');
const rows: Row[] = lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [columns[i] ?? `c${i}`, v])));
const generator = JSON.parse(readFileSync(`${dir}/generator.json`, 'utf8')) as {
  phases: Record<string, number>;
  counters: Record<string, number>;
  unaccounted: { chat: number; muc: number };
  muc_owed_at_session_loss: number;
  login_failure_reasons: Record<string, number>;
  lost_reasons: Record<string, number>;
  /** Absent in runs before the generator resent BOSH requests. */
  bosh_resends?: Record<string, number>;
};

const num = (row: Row, column: string): number | undefined => {
  const raw = row[column];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
};
const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const max = (xs: number[]): number | undefined => (xs.length === 0 ? undefined : Math.max(...xs));
const defined = (xs: (number | undefined)[]): number[] => xs.filter((x): x is number => x !== undefined);
const column = (rs: Row[], name: string): number[] => defined(rs.map((r) => num(r, name)));
const round = (x: number | undefined, digits = 0): number | null => (x === undefined ? null : Number(x.toFixed(digits)));

const baseline = rows.filter((r) => r.phase === 'baseline');
const steady = rows.filter((r) => r.phase === 'steady');
const steadyStart = generator.phases.steady ?? 0;
const steadyEnd = generator.phases.drain ?? Infinity;
const first = steady.filter((r) => Number(r.t) >= steadyStart + WARMUP && Number(r.t) < steadyStart + WARMUP + WINDOW);
const last = steady.filter((r) => Number(r.t) >= steadyEnd - WINDOW);
const sessionsOf = (r: Row): number | undefined => num(r, 'server_sessions') ?? num(r, 'online');

/** A figure of one sample, in bytes; undefined where the sample lacks it (older runs have fewer columns). */
type Figure = (r: Row) => number | undefined;
const difference = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined ? undefined : a - b);
const fromKib = (name: string): Figure => (r) => {
  const v = num(r, name);
  return v === undefined ? undefined : v * 1024;
};
const bytes = (name: string): Figure => (r) => num(r, name);
// The heap without the code spaces (heap_code_used: the JIT's machine code, which grows as more of the program
// gets optimised, whatever the number of sessions).
const withoutCode: Figure = (r) => difference(num(r, 'heap_used'), num(r, 'heap_code_used'));
// What the heap retains: without the code spaces and without the young generation (new space), whose fill swings
// by up to its whole size between scavenges and holds what is about to be collected (heap_new_used).
const retained: Figure = (r) => difference(withoutCode(r), num(r, 'heap_new_used'));
const FIGURES = {
  rss_bytes: fromKib('rss_kib'),
  rss_anon_bytes: fromKib('rss_anon_kib'),
  heap_bytes: bytes('heap_used'),
  heap_without_code_bytes: withoutCode,
  heap_retained_bytes: retained,
} satisfies Record<string, Figure>;
type FigureName = keyof typeof FIGURES;
/** Each figure's baseline: its median over the samples before the first login. */
const baselines = Object.fromEntries(
  Object.entries(FIGURES).map(([name, figure]) => [name, median(defined(baseline.map(figure)))]),
) as Record<FigureName, number | undefined>;

type PerSession = Record<FigureName, number | null> & { sessions: number | null; samples: number };
function perSession(rs: Row[]): PerSession {
  const figures = Object.fromEntries(
    (Object.keys(FIGURES) as FigureName[]).map((name) => {
      const base = baselines[name];
      const values = defined(rs.map((r) => {
        const n = sessionsOf(r);
        const over = difference(FIGURES[name](r), base);
        return over === undefined || !n ? undefined : over / n;
      }));
      return [name, round(median(values))];
    }),
  ) as Record<FigureName, number | null>;
  return { ...figures, sessions: round(median(defined(rs.map(sessionsOf)))), samples: rs.length };
}

const start = perSession(first);
const end = perSession(last);
// The generator's warm-up (the steady load before the measured hour): its first window is where the start
// figure was taken before there was one, reported beside the defined figure.
const warmupStart = generator.phases.warmup;
const loadStart = warmupStart === undefined ? undefined : perSession(rows.filter((r) => r.phase === 'warmup' && Number(r.t) < warmupStart + WINDOW));
const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || a === 0 ? null : Number((b / a).toFixed(3)));
const c = generator.counters;
const after = rows.filter((r) => r.phase === 'after');
const lastAfter = after.slice(-3);
const summary = {
  dir,
  window_s: WINDOW,
  warmup_s: WARMUP,
  steady_s: Math.round(steadyEnd - steadyStart),
  baseline: { rss_kib: median(column(baseline, 'rss_kib')) ?? null, rss_anon_kib: median(column(baseline, 'rss_anon_kib')) ?? null, heap_used: baselines.heap_bytes ?? null, fds: median(column(baseline, 'fds')) ?? null, handles: median(column(baseline, 'handles')) ?? null },
  per_session: {
    start,
    end,
    rss_ratio: ratio(start.rss_bytes, end.rss_bytes),
    rss_anon_ratio: ratio(start.rss_anon_bytes, end.rss_anon_bytes),
    heap_ratio: ratio(start.heap_bytes, end.heap_bytes),
    heap_without_code_ratio: ratio(start.heap_without_code_bytes, end.heap_without_code_bytes),
    heap_retained_ratio: ratio(start.heap_retained_bytes, end.heap_retained_bytes),
    from_load_start: loadStart && {
      start: loadStart,
      warmup_s: Math.round(steadyStart - (warmupStart ?? steadyStart)),
      rss_ratio: ratio(loadStart.rss_bytes, end.rss_bytes),
      heap_ratio: ratio(loadStart.heap_bytes, end.heap_bytes),
      heap_retained_ratio: ratio(loadStart.heap_retained_bytes, end.heap_retained_bytes),
    } },
  steady: {
    rss_kib_max: max(column(steady, 'rss_kib')) ?? null,
    heap_used_max: max(column(steady, 'heap_used')) ?? null,
    heap_used_median_first: median(column(first, 'heap_used')) ?? null,
    // The lowest sample of a window is close to the live heap right after a major collection.
    heap_used_min_first: column(first, 'heap_used').reduce((a, b) => Math.min(a, b), Infinity),
    heap_used_min_last: column(last, 'heap_used').reduce((a, b) => Math.min(a, b), Infinity),
    heap_used_median_last: median(column(last, 'heap_used')) ?? null,
    rss_kib_median_first: median(column(first, 'rss_kib')) ?? null,
    rss_kib_median_last: median(column(last, 'rss_kib')) ?? null,
    external_median_first: median(column(first, 'external')) ?? null,
    external_median_last: median(column(last, 'external')) ?? null,
    lag_p99_ms_max: round((max(column(steady, 'lag_p99_s')) ?? NaN) * 1000, 1),
    lag_p99_ms_median: round((median(column(steady, 'lag_p99_s')) ?? NaN) * 1000, 1),
    fds_first: median(column(first, 'fds')) ?? null,
    fds_last: median(column(last, 'fds')) ?? null,
    handles_first: median(column(first, 'handles')) ?? null,
    handles_last: median(column(last, 'handles')) ?? null,
    sessions_min: Math.min(...defined(steady.map(sessionsOf))),
    sessions_max: Math.max(...defined(steady.map(sessionsOf))),
    generator_lag_p99_ms_max: max(column(steady, 'gen_lag_p99_ms')) ?? null,
  },
  after_logout: {
    sessions: lastAfter.length > 0 ? (sessionsOf(lastAfter[lastAfter.length - 1] as Row) ?? null) : null,
    rss_kib: median(column(lastAfter, 'rss_kib')) ?? null,
    heap_used: median(column(lastAfter, 'heap_used')) ?? null,
    fds: median(column(lastAfter, 'fds')) ?? null,
    handles: median(column(lastAfter, 'handles')) ?? null,
  },
  logins: { done: c.logins, failed: c.loginFailures, lost_sessions: c.lost, logouts: c.logouts, failure_reasons: generator.login_failure_reasons, lost_reasons: generator.lost_reasons, bosh_resends: generator.bosh_resends ?? {} },
  chat: { sent: c.chatSent, delivered: c.chatDelivered, bounced: c.chatBounced, duplicates: c.chatDuplicates, unknown: c.chatUnknown, unaccounted: generator.unaccounted.chat },
  presence: { updates_sent: c.presenceSent, received: c.presenceReceived },
  muc: {
    joins: c.mucJoins,
    join_failures: c.mucJoinFailures,
    leaves: c.mucLeaves,
    groupchat_sent: c.mucSent,
    copies_expected: c.mucExpected,
    copies_delivered: c.mucDelivered,
    copies_missed_by_leaver: c.mucMissedByLeaver,
    copies_owed_at_session_loss: generator.muc_owed_at_session_loss,
    copies_unaccounted: generator.unaccounted.muc,
    copies_extra: c.mucExtra,
    errors: c.mucErrors,
  },
};
writeFileSync(`${dir}/summary${WARMUP > 0 ? `-warmup-${WARMUP}` : ''}.json`, JSON.stringify(summary, null, 2) + '\n');

const kib = (b: number | null): string => (b === null ? 'n/a' : `${(b / 1024).toFixed(1)} KiB`);
const pct = (r: number | null): string => (r === null ? 'n/a' : `${((r - 1) * 100).toFixed(1)} %`);
console.log(`soak ${dir}: ${summary.steady_s} s steady, sessions ${summary.steady.sessions_min}..${summary.steady.sessions_max}`);
console.log(`  memory per session, start (${WINDOW} s from ${WARMUP} s into the steady phase): RSS ${kib(start.rss_bytes)} (anon ${kib(start.rss_anon_bytes)}), heap used ${kib(start.heap_bytes)} (without code ${kib(start.heap_without_code_bytes)}, retained ${kib(start.heap_retained_bytes)}) (${start.samples} samples, ~${start.sessions} sessions)`);
console.log(`  memory per session, end   (last ${WINDOW} s):  RSS ${kib(end.rss_bytes)} (anon ${kib(end.rss_anon_bytes)}), heap used ${kib(end.heap_bytes)} (without code ${kib(end.heap_without_code_bytes)}, retained ${kib(end.heap_retained_bytes)}) (${end.samples} samples, ~${end.sessions} sessions)`);
console.log(`  end vs start: RSS ${pct(summary.per_session.rss_ratio)} (anon ${pct(summary.per_session.rss_anon_ratio)}), heap ${pct(summary.per_session.heap_ratio)} (without code ${pct(summary.per_session.heap_without_code_ratio)}, without code and young generation ${pct(summary.per_session.heap_retained_ratio)}) (target: within 10 %)`);
const fromLoad = summary.per_session.from_load_start;
if (fromLoad) {
  console.log(`  beside it, from the first ${WINDOW} s of the load (before the ${fromLoad.warmup_s} s warm-up): RSS ${kib(fromLoad.start.rss_bytes)}, heap used ${kib(fromLoad.start.heap_bytes)} (retained ${kib(fromLoad.start.heap_retained_bytes)}); end vs that: RSS ${pct(fromLoad.rss_ratio)}, heap ${pct(fromLoad.heap_ratio)}, retained ${pct(fromLoad.heap_retained_ratio)}`);
}
const mib = (b: number | null): string => (b === null || !Number.isFinite(b) ? 'n/a' : `${(b / 1048576).toFixed(1)} MiB`);
console.log(`  heap used: median ${mib(summary.steady.heap_used_median_first)} -> ${mib(summary.steady.heap_used_median_last)}, lowest ${mib(summary.steady.heap_used_min_first)} -> ${mib(summary.steady.heap_used_min_last)}`);
console.log(`  RSS max ${summary.steady.rss_kib_max} KiB; event-loop lag p99 max ${summary.steady.lag_p99_ms_max} ms, median ${summary.steady.lag_p99_ms_median} ms`);
console.log(`  fds ${summary.steady.fds_first} -> ${summary.steady.fds_last}, handles ${summary.steady.handles_first} -> ${summary.steady.handles_last}; after logout: ${JSON.stringify(summary.after_logout)}`);
console.log(`  logins ${c.logins} (failed ${c.loginFailures}, lost ${c.lost}); chat ${JSON.stringify(summary.chat)}`);
console.log(`  muc ${JSON.stringify(summary.muc)}; presence ${JSON.stringify(summary.presence)}`);
