// Polls a condition of a running system (a directory record, a count of received stanzas) until it holds.
import { setTimeout as delay } from 'node:timers/promises';

/** Resolves once `check` holds; rejects naming `what` after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 8000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(everyMs);
  }
}
