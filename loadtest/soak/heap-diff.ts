// Compares two V8 heap snapshots (node --heapsnapshot-signal, or the inspector) by constructor: how many
// objects of each kind and how many bytes (self size) each snapshot holds, sorted by the growth in bytes.
// Used to find what grows in a soak (README.md, "Finding what grows").
//
//   node --import tsx loadtest/soak/heap-diff.ts EARLIER.heapsnapshot LATER.heapsnapshot [--top 40]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

interface Tally {
  count: number;
  bytes: number;
}

function tally(file: string): { kinds: Map<string, Tally>; total: number } {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = heap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const typeNames = heap.snapshot.meta.node_types[0];
  const kinds = new Map<string, Tally>();
  let total = 0;
  for (let i = 0; i < heap.nodes.length; i += width) {
    const type = typeNames[heap.nodes[i + typeAt] as number] ?? '?';
    const size = heap.nodes[i + sizeAt] as number;
    // Objects and closures by constructor or function name; strings, arrays and code by their type.
    const name = type === 'object' || type === 'closure' || type === 'native' ? `${type} ${heap.strings[heap.nodes[i + nameAt] as number] ?? '?'}` : type;
    const entry = kinds.get(name) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += size;
    kinds.set(name, entry);
    total += size;
  }
  return { kinds, total };
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '40' } } });
const [earlierFile, laterFile] = positionals;
if (earlierFile === undefined || laterFile === undefined) {
  process.stderr.write('usage: heap-diff.ts EARLIER.heapsnapshot LATER.heapsnapshot [--top N]\n');
  process.exit(2);
}
const earlier = tally(earlierFile);
const later = tally(laterFile);
const names = new Set([...earlier.kinds.keys(), ...later.kinds.keys()]);
const rows = [...names].map((name) => {
  const a = earlier.kinds.get(name) ?? { count: 0, bytes: 0 };
  const b = later.kinds.get(name) ?? { count: 0, bytes: 0 };
  return { name, count: b.count - a.count, bytes: b.bytes - a.bytes, before: a.bytes, after: b.bytes };
});
rows.sort((x, y) => y.bytes - x.bytes);
const kib = (n: number): string => (n / 1024).toFixed(1);
process.stdout.write(`total self size ${kib(earlier.total)} KiB -> ${kib(later.total)} KiB (${kib(later.total - earlier.total)} KiB)\n`);
process.stdout.write('KiB change\tcount change\tKiB before\tKiB after\tkind\n');
for (const row of rows.slice(0, Number(values.top))) {
  process.stdout.write(`${kib(row.bytes)}\t${row.count}\t${kib(row.before)}\t${kib(row.after)}\t${row.name}\n`);
}
