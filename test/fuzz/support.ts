// Shared settings of the fuzz properties (README "Fuzzing"). In the normal run (CI) every property runs its
// own number of inputs with a fixed seed; `npm run fuzz -- --runs N` (FUZZ_RUNS=N) runs each property N times
// with a random seed. Every run prints its seed and, at the end, how many inputs were tried.
import fc from 'fast-check';

const requested = process.env.FUZZ_RUNS === undefined ? undefined : Number(process.env.FUZZ_RUNS);
if (requested !== undefined && !(Number.isInteger(requested) && requested > 0)) throw new Error(`FUZZ_RUNS must be a positive integer, not ${process.env.FUZZ_RUNS}`);

/** The seed of this run: fixed in the normal run, random in an on-demand run unless FUZZ_SEED is given. */
export const FUZZ_SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED)
  : requested === undefined ? 0x5eed18 : Math.floor(Math.random() * 0x7fffffff);

/** Mocha timeout of a fuzz suite: none in an on-demand run, whose length is asked for. */
export const FUZZ_TIMEOUT = requested === undefined ? 120_000 : 0;

let total = 0;
let announced = false;

/** fast-check parameters for one property: `normalRuns` inputs in the normal run, FUZZ_RUNS when set. */
export function fuzzParams<T>(normalRuns: number): fc.Parameters<T> {
  if (!announced) {
    announced = true;
    console.log(`fuzz: seed ${FUZZ_SEED}${requested === undefined ? '' : `, ${requested} runs per property`}`);
  }
  const numRuns = requested ?? normalRuns;
  return { numRuns, seed: FUZZ_SEED, endOnFailure: true };
}

/** Counts inputs tried (call once per input). */
export function counted(): void {
  total++;
}

after(() => {
  if (total > 0) console.log(`fuzz: ${total} inputs tried (seed ${FUZZ_SEED})`);
});

/** Cuts `data` at the given points (taken modulo its length): the same bytes in other reads. */
export function splitAt(data: Buffer, points: readonly number[]): Buffer[] {
  if (data.length === 0) return [data];
  const cuts = [...new Set(points.map((p) => p % (data.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const c of cuts) {
    if (c > last) out.push(data.subarray(last, c));
    last = c;
  }
  out.push(data.subarray(last));
  return out;
}
