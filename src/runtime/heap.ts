// V8 heap settings for a long-running server process (`ratatosk serve`).
import { setFlagsFromString } from 'node:v8';

/**
 * The old generation may grow 20 % past what the last full collection kept before the next one (V8 picks a
 * factor of up to 4 by itself). A held BOSH request lives up to `wait` seconds, long enough to be promoted, so
 * idle BOSH sessions fill the old generation with dead requests at a steady rate, and a login burst leaves its
 * garbage there until the next full collection. With V8's own factor the median RSS of 10,000 idle sessions
 * depended on where the one full collection of the window fell (21.1 and 26.6 KiB per session), with 20 % it was
 * 17.7-19.5 KiB in six runs of 2026-12-07. 10 % was tried and gave 17.3, 17.4 and 19.1, no better
 * (loadtest/RESULTS.md, "Idle BOSH session memory: what the median catches").
 *
 * Not `--compact-on-every-full-gc`, which this function also set until 2026-12-07: with the growing factor above,
 * 10,000 idle BOSH sessions took 18.0 and 18.1 KiB each without it and 18.1 with it, while it made every full
 * collection under load some 90 ms longer and cost a fifth of the CPU per BOSH message (loadtest/RESULTS.md,
 * "BOSH since round 3, and the heap flags one at a time").
 *
 * What the growing factor could not do, returning a burst's slack soon after it ends, `idle-memory.ts` does.
 *
 * Not a smaller young generation either: `--max-semi-space-size` cannot be set from here once the heap exists,
 * and on the command line 1, 2, 4 and 8 MiB gave 19.1, 18.0, 16.5-18.1 and 17.2 KiB, no better than the default.
 */
export function tuneHeapForServer(): void {
  setFlagsFromString('--heap-growing-percent=20');
}
