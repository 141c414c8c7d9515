// Summarises a V8 .cpuprofile written by `login.ts --cpu-prof <dir>`: the functions with the most
// self time and the most inclusive time on the server's main thread (libuv's pool threads, where
// PBKDF2 runs, are not sampled). When login.ts left login-phase.json beside the profile, only the
// samples taken during the login phase count (start-up and the idle period are left out).
//
//   npx tsx loadtest/bench/login-profile.ts <file.cpuprofile> [--top 30] [--whole]
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
}

function isProfile(value: unknown): value is Profile {
  return typeof value === 'object' && value !== null && 'nodes' in value && Array.isArray(value.nodes) &&
    'samples' in value && Array.isArray(value.samples) && 'timeDeltas' in value && Array.isArray(value.timeDeltas) && 'startTime' in value && typeof value.startTime === 'number';
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' }, whole: { type: 'boolean', default: false } } });
const file = positionals[0];
if (file === undefined) {
  process.stderr.write('usage: npx tsx loadtest/bench/login-profile.ts <file.cpuprofile> [--top 30] [--whole]\n');
  process.exit(2);
}
const top = Number(values.top) || 30;
const profile: unknown = JSON.parse(readFileSync(file, 'utf8'));
if (!isProfile(profile)) throw new Error(`${file} is not a V8 CPU profile`);

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const name = (n: ProfileNode): string => {
  const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/^.*?\/(node_modules|src|xeps|loadtest)\//, '$1/');
  return `${n.callFrame.functionName || '(anonymous)'}${url ? ` ${url}:${n.callFrame.lineNumber + 1}` : ''}`;
};

let window = { startUs: Number.NEGATIVE_INFINITY, endUs: Number.POSITIVE_INFINITY };
const phaseFile = join(dirname(file), 'login-phase.json');
if (!values.whole && existsSync(phaseFile)) {
  const phase: unknown = JSON.parse(readFileSync(phaseFile, 'utf8'));
  if (typeof phase === 'object' && phase !== null && 'startUs' in phase && 'endUs' in phase && typeof phase.startUs === 'number' && typeof phase.endUs === 'number') {
    window = { startUs: phase.startUs, endUs: phase.endUs };
  }
}

// Each sample's time is the delta to the next sample.
const perNode = new Map<number, number>();
let total = 0;
let at = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  at += profile.timeDeltas[i] ?? 0;
  const dt = profile.timeDeltas[i + 1] ?? 0;
  if (id === undefined || at < window.startUs || at > window.endUs) continue;
  perNode.set(id, (perNode.get(id) ?? 0) + dt);
  total += dt;
}
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, dt] of perNode) {
  const node = byId.get(id);
  if (!node) continue;
  self.set(name(node), (self.get(name(node)) ?? 0) + dt);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) {
    const ancestor = byId.get(cur);
    if (!ancestor) break;
    const key = name(ancestor);
    if (seen.has(key)) continue; // recursion counts once
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + dt);
  }
}

const print = (title: string, map: Map<string, number>): void => {
  process.stdout.write(`\n${title}\n| ms | % | function |\n|---:|---:|---|\n`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`| ${(us / 1000).toFixed(0)} | ${((100 * us) / total).toFixed(1)} | ${key} |\n`);
  }
};
const scope = Number.isFinite(window.startUs) ? `the login phase (${((window.endUs - window.startUs) / 1e6).toFixed(2)} s wall)` : 'the whole run';
process.stdout.write(`${file}: ${(total / 1e6).toFixed(2)} s sampled on the main thread during ${scope}\n`);
print('Self time', self);
print('Inclusive time', inclusive);
