// The top entries of a V8 CPU profile (`node --cpu-prof`, as `loadtest/run --cpu-prof DIR` writes it)
// by self time, per function and file, as a Markdown table.
//
//   node --import tsx loadtest/tsung/profile-top.ts DIR/CPU.*.cpuprofile [--top 25] [--from S --to S]
//     [--steady RUN/summary.json]
//
// --from/--to keep only the samples between those seconds after the profile started; --steady keeps
// those of the run's steady phase (steady_from_unix..steady_to_unix of loadtest/run's summary.json).
// V8 stamps samples with CLOCK_MONOTONIC, the clock of process.hrtime, so on the machine and boot of
// the run the unix time of a sample is its stamp plus (Date.now() - hrtime) now. Percentages are of
// the busy samples (everything but "(idle)").
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, from: { type: 'string' }, to: { type: 'string' }, steady: { type: 'string' } },
});
const top = Number(values.top);
const steady = values.steady === undefined ? undefined : (JSON.parse(readFileSync(values.steady, 'utf8')) as { steady_from_unix: number | null; steady_to_unix: number | null });
if (steady !== undefined && (steady.steady_from_unix === null || steady.steady_to_unix === null)) throw new Error(`${values.steady}: no steady phase`);
const unixMinusMonotonicUs = Date.now() * 1000 - Number(process.hrtime.bigint() / 1000n);
const root = process.cwd();

const place = (url: string, line: number): string => {
  if (url === '') return '';
  let path = url;
  if (url.startsWith('file://')) path = relative(root, fileURLToPath(url));
  path = path.replace(/^.*node_modules\//, 'node_modules/');
  return `${path}:${line + 1}`;
};

for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  // The window in µs after the profile's start.
  const fromUs = steady ? (steady.steady_from_unix ?? 0) * 1e6 - unixMinusMonotonicUs - profile.startTime : values.from === undefined ? -Infinity : Number(values.from) * 1e6;
  const toUs = steady ? (steady.steady_to_unix ?? 0) * 1e6 - unixMinusMonotonicUs - profile.startTime : values.to === undefined ? Infinity : Number(values.to) * 1e6;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  let t = 0;
  let busyUs = 0;
  let idleUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (t < fromUs || t > toUs) continue;
    const node = byId.get(profile.samples[i] ?? -1);
    if (node === undefined) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleUs += delta;
      continue;
    }
    busyUs += delta;
    const key = `${functionName || '(anonymous)'}\t${place(url, lineNumber)}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + delta);
  }
  const window = Number.isFinite(fromUs) || Number.isFinite(toUs) ? ` (window ${(fromUs / 1e6).toFixed(1)}–${(toUs / 1e6).toFixed(1)} s)` : '';
  console.log(`${file}: ${(t / 1e6).toFixed(1)} s profiled, ${(busyUs / 1e6).toFixed(2)} s busy, ${(idleUs / 1e6).toFixed(2)} s idle in the window${window}`);
  console.log('\n| Self ms | % of busy | Function | Where |\n|---:|---:|---|---|');
  for (const [key, us] of [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    const [fn, where] = key.split('\t');
    console.log(`| ${(us / 1000).toFixed(0)} | ${((us / busyUs) * 100).toFixed(1)} | \`${fn}\` | ${where ? `\`${where}\`` : ''} |`);
  }
  console.log('');
}
