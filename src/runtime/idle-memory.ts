// While the event loop is nearly idle, V8 is asked to favour memory over speed; once it is busy again, speed.
//
// V8's memory reducer returns a heap's slack to the system (a compacting full collection that also shrinks the
// young generation) once it believes the process idle: in a browser the embedder says so for a background tab,
// otherwise V8 waits for a low allocation rate. Idle BOSH sessions never allocate that little (each held request
// is answered and replaced within `wait` seconds), so after a burst of logins the slack stayed resident until an
// ordinary collection came, 40-55 s later for 10,000 sessions, and the idle memory figure depended on when
// (loadtest/RESULTS.md, "what the median catches" and "Idle BOSH memory: favouring memory while idle").
// `--optimize-for-size` is the one switch Node lets a process reach that V8 reads while it runs, so it stands in
// for the notice Node never gives. It is on only while the loop is idle, so a busy server keeps its speed.
import { setFlagsFromString } from 'node:v8';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export interface IdleMemoryPolicy {
  /** How often the loop's utilisation is looked at. */
  readonly checkEveryMs: number;
  /** Memory is favoured after an interval in which the loop was busy less than this share of the time... */
  readonly idleBelow: number;
  /** ...and speed again after one in which it was busy at least this share (between the two nothing changes). */
  readonly busyFrom: number;
}

export const DEFAULT_IDLE_MEMORY_POLICY: IdleMemoryPolicy = { checkEveryMs: 5_000, idleBelow: 0.15, busyFrom: 0.3 };

/** Whether memory should be favoured after an interval with this utilisation, given whether it is now. */
export function favourMemoryNext(favouredNow: boolean, utilisation: number, policy: IdleMemoryPolicy): boolean {
  if (utilisation < policy.idleBelow) return true;
  if (utilisation >= policy.busyFrom) return false;
  return favouredNow;
}

export interface IdleMemoryMode {
  /** Whether V8 is favouring memory now. */
  readonly favoured: boolean;
  /** How many times memory has been favoured since the start. */
  readonly idlePeriods: number;
  /** Back to speed, for good. */
  stop(): void;
}

/**
 * Checks the loop every `policy.checkEveryMs` and switches V8 between memory and speed. `enabled` is read at each
 * check, so a reload that turns the mode off takes effect at the next one.
 */
export function startIdleMemoryMode(enabled: () => boolean, policy: IdleMemoryPolicy = DEFAULT_IDLE_MEMORY_POLICY): IdleMemoryMode {
  let favoured = false;
  let idlePeriods = 0;
  const favour = (memory: boolean): void => {
    if (memory === favoured) return;
    setFlagsFromString(memory ? '--optimize-for-size' : '--no-optimize-for-size');
    favoured = memory;
    if (memory) idlePeriods++;
  };
  let previous: EventLoopUtilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const utilisation = performance.eventLoopUtilization(now, previous).utilization;
    previous = now;
    favour(enabled() && favourMemoryNext(favoured, utilisation, policy));
  }, policy.checkEveryMs);
  timer.unref();
  return {
    get favoured() {
      return favoured;
    },
    get idlePeriods() {
      return idlePeriods;
    },
    stop() {
      clearInterval(timer);
      favour(false);
    },
  };
}
