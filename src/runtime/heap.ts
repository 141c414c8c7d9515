// V8 heap settings for a long-running server process (`ratatosk serve`).
import { setFlagsFromString } from 'node:v8';

/**
 * Every full (mark-compact) collection also compacts: moves live objects out of sparsely used pages and returns
 * those pages. A login burst leaves the old space full of pages where a few long-lived session objects sit among
 * freed garbage; V8's default heuristics compact only some of them, so the process kept ~10 KiB of reserved,
 * unused heap per idle BOSH session (loadtest/RESULTS.md, session 4). Full collections are rare in a steady
 * server, so the extra work is small.
 *
 * The old generation may grow 20 % past what the last full collection kept before the next one (V8 picks a
 * factor of up to 4 by itself). A held BOSH request lives up to `wait` seconds, long enough to be promoted, so
 * idle BOSH sessions fill the old generation with dead requests at a steady rate; with V8's own factor the
 * median RSS of 10,000 idle sessions depended on where the one full collection of the window fell (21.1 and
 * 26.6 KiB per session), with 20 % it was 18.2 (loadtest/RESULTS.md, "Idle BOSH session memory, measured").
 */
export function tuneHeapForServer(): void {
  setFlagsFromString('--compact-on-every-full-gc');
  setFlagsFromString('--heap-growing-percent=20');
}
