// V8 heap settings for a long-running server process (`ratatosk serve`).
import { setFlagsFromString } from 'node:v8';

/**
 * Every full (mark-compact) collection also compacts: moves live objects out of sparsely used pages and returns
 * those pages. A login burst leaves the old space full of pages where a few long-lived session objects sit among
 * freed garbage; V8's default heuristics compact only some of them, so the process kept ~10 KiB of reserved,
 * unused heap per idle BOSH session (loadtest/RESULTS.md, session 4). Full collections are rare in a steady
 * server, so the extra work is small.
 */
export function tuneHeapForServer(): void {
  setFlagsFromString('--compact-on-every-full-gc');
}
