// XEP-0198 §4: 'h' is an xs:unsignedInt that wraps from 2^32-1 back to 0, so counters and the
// distance between them are computed modulo 2^32.
export const COUNTER_MODULUS = 2 ** 32;

/** `n` plus `by`, modulo 2^32. */
export function advance(n: number, by = 1): number {
  return (n + by) % COUNTER_MODULUS;
}

/** How many steps lead from `from` to `to` going forward, modulo 2^32. */
export function distance(from: number, to: number): number {
  return (((to - from) % COUNTER_MODULUS) + COUNTER_MODULUS) % COUNTER_MODULUS;
}

/** An xs:unsignedInt as the 'h' attribute carries it; undefined when it is not one. */
export function parseCounter(text: string | undefined): number | undefined {
  if (text === undefined || !/^\+?\d{1,10}$/.test(text)) return undefined;
  const n = Number(text);
  return n < COUNTER_MODULUS ? n : undefined;
}
