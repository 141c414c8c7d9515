// The server samples loadtest/run writes while a load run lasts: a line "hz <ticks per s> pid ..." then one line
// per second "<unix s> <utime ticks> <stime ticks> <VmRSS KiB> [<RssAnon KiB>]" (sums over the pids sampled).
// Both summaries (Tsung's and loadtest/xmpp-load's) read them through this file.
import { existsSync, readFileSync } from 'node:fs';

export interface ServerSamples {
  readonly rows: readonly (readonly number[])[];
  /** CPU seconds (user + system) a row shows. */
  cpu(row: readonly number[]): number;
  /** CPU seconds used by time t (unix s), interpolated between the samples around it; NaN outside them. */
  cpuAt(t: number): number;
  /** The first sample, taken before the load starts: the server with no session. */
  readonly rssIdleKiB: number;
  readonly rssAnonIdleKiB: number;
  readonly rssPeakKiB: number;
  /** Over the whole run, and the busiest interval between two samples, in % of one core. */
  readonly cpuMeanPct: number;
  readonly cpuPeakPct: number;
}

export function readServerSamples(file: string | undefined): ServerSamples | undefined {
  if (file === undefined || !existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const hz = Number(/^hz (\d+)/.exec(lines[0] ?? '')?.[1] ?? 100);
  const rows = lines.slice(1).map((l) => l.split(' ').map(Number)).filter((r) => r.length >= 4 && r.every(Number.isFinite));
  if (rows.length === 0) return undefined;
  const cpu = (r: readonly number[]): number => ((r[1] ?? 0) + (r[2] ?? 0)) / hz;
  const first = rows[0] ?? [];
  const last = rows[rows.length - 1] ?? [];
  const wall = (last[0] ?? 0) - (first[0] ?? 0);
  let cpuPeakPct = 0;
  for (let i = 1; i < rows.length; i++) {
    const a = rows[i - 1] ?? [];
    const b = rows[i] ?? [];
    const dt = (b[0] ?? 0) - (a[0] ?? 0);
    if (dt > 0) cpuPeakPct = Math.max(cpuPeakPct, ((cpu(b) - cpu(a)) / dt) * 100);
  }
  const cpuAt = (t: number): number => {
    for (let i = 1; i < rows.length; i++) {
      const a = rows[i - 1] ?? [];
      const b = rows[i] ?? [];
      const ta = a[0] ?? 0;
      const tb = b[0] ?? 0;
      if (t >= ta && t <= tb) return tb > ta ? cpu(a) + ((cpu(b) - cpu(a)) * (t - ta)) / (tb - ta) : cpu(a);
    }
    return NaN;
  };
  return {
    rows,
    cpu,
    cpuAt,
    rssIdleKiB: first[3] ?? NaN,
    rssAnonIdleKiB: first[4] ?? NaN,
    rssPeakKiB: Math.max(...rows.map((r) => r[3] ?? 0)),
    cpuMeanPct: wall > 0 ? ((cpu(last) - cpu(first)) / wall) * 100 : NaN,
    cpuPeakPct,
  };
}
