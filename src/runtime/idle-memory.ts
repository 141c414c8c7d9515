// While the node is idle (its event loop nearly so, its clients sending next to nothing), V8 is asked to favour
// memory over speed; once it is busy again, speed.
//
// V8's memory reducer returns a heap's slack to the system (a compacting full collection that also shrinks the
// young generation) once it believes the process idle: in a browser the embedder says so for a background tab,
// otherwise V8 waits for a low allocation rate. Idle BOSH sessions never allocate that little (each held request
// is answered and replaced within `wait` seconds), so after a burst of logins the slack stayed resident until the
// reducer ran anyway, 40-55 s later for 10,000 sessions, and the idle memory figure depended on when
// (loadtest/RESULTS.md, "what the median catches" and "Idle BOSH memory: favouring memory while idle").
// Node gives a process no way to send that notice, but V8 reads `--optimize-for-size` as it runs (its memory
// reducer then starts without waiting for a low allocation rate), and a process may set it.
//
// It costs 1-3 % of a core while on (a compacting collection every 20-45 s, and more young-generation
// collections in a smaller young generation). Over a lightly loaded node routing 200-1,000 messages a second, whose
// loop is as idle as one holding 10,000 silent BOSH sessions, that was 7-28 % more CPU per message, so a node whose
// clients send more than about one stanza per session per minute is not idle, whatever its loop says.
import { setFlagsFromString } from 'node:v8';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

export interface IdleMemoryPolicy {
  /** How often the loop's utilisation is looked at. */
  readonly checkEveryMs: number;
  /** Memory is favoured after an interval in which the loop was busy less than this share of the time... */
  readonly idleBelow: number;
  /** ...and speed again after one in which it was busy at least this share (between the two nothing changes). */
  readonly busyFrom: number;
  /** The node is quiet while its clients send at most this many stanzas a second per session... */
  readonly quietStanzasPerSession: number;
  /** ...or this many a second in all, whichever is more; above that it is busy. */
  readonly quietStanzas: number;
}

export const DEFAULT_IDLE_MEMORY_POLICY: IdleMemoryPolicy = { checkEveryMs: 5_000, idleBelow: 0.15, busyFrom: 0.3, quietStanzasPerSession: 1 / 60, quietStanzas: 10 };

/** What one check interval looked like. */
export interface IntervalSample {
  /** Share of the interval the event loop was busy (0 to 1). */
  readonly utilisation: number;
  /** Stanzas a second clients sent in the interval. */
  readonly stanzasPerSecond: number;
  /** Sessions at the end of the interval. */
  readonly sessions: number;
}

/** Whether memory should be favoured after an interval like `sample`, given whether it is now. */
export function favourMemoryNext(favouredNow: boolean, sample: IntervalSample, policy: IdleMemoryPolicy): boolean {
  const quiet = sample.stanzasPerSecond <= Math.max(policy.quietStanzas, sample.sessions * policy.quietStanzasPerSession);
  if (!quiet || sample.utilisation >= policy.busyFrom) return false;
  if (sample.utilisation < policy.idleBelow) return true;
  return favouredNow;
}

/** What the mode reads of the server. */
export interface ServerActivity {
  /** Stanzas received from clients since the start (a counter). */
  stanzasIn(): number;
  /** Sessions now. */
  sessions(): number;
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
 * Looks at the loop and the clients' traffic every `policy.checkEveryMs` and switches V8 between memory and speed.
 * `enabled` is read at each check, so a reload that turns the mode off takes effect at the next one. The switch is
 * process-wide: one mode per process.
 */
export function startIdleMemoryMode(enabled: () => boolean, activity: ServerActivity, policy: IdleMemoryPolicy = DEFAULT_IDLE_MEMORY_POLICY): IdleMemoryMode {
  let favoured = false;
  let idlePeriods = 0;
  const favour = (memory: boolean): void => {
    if (memory === favoured) return;
    setFlagsFromString(memory ? '--optimize-for-size' : '--no-optimize-for-size');
    favoured = memory;
    if (memory) idlePeriods++;
  };
  let previous: EventLoopUtilization = performance.eventLoopUtilization();
  let previousStanzas = activity.stanzasIn();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const stanzas = activity.stanzasIn();
    const sample: IntervalSample = {
      utilisation: performance.eventLoopUtilization(now, previous).utilization,
      stanzasPerSecond: ((stanzas - previousStanzas) * 1000) / policy.checkEveryMs,
      sessions: activity.sessions(),
    };
    previous = now;
    previousStanzas = stanzas;
    favour(enabled() && favourMemoryNext(favoured, sample, policy));
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
