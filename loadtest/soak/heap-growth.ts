// What holds the objects that are new in a later heap snapshot. V8 keeps an object's snapshot id for the life of
// the process, so an object of LATER whose id EARLIER does not have was allocated between the two and is still
// alive. Each such object is charged to the first object from EARLIER on its retainer path (found by walking up
// through new objects, strong edges only), and the table sums the new objects' self size by that holder and the
// edge it holds them by: a cache or list that keeps filling shows as one row. Used to find what fills during a
// soak (README.md, "Finding what grows"); heap-diff.ts compares by constructor instead.
//
//   node --import tsx loadtest/soak/heap-growth.ts EARLIER.heapsnapshot LATER.heapsnapshot [--top 40]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

function readIds(file: string): Set<number> {
  const heap = JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot;
  const fields = heap.snapshot.meta.node_fields;
  const width = fields.length;
  const idAt = fields.indexOf('id');
  const ids = new Set<number>();
  for (let i = 0; i < heap.nodes.length; i += width) ids.add(heap.nodes[i + idAt] as number);
  return ids;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '40' } } });
const [earlierFile, laterFile] = positionals;
if (earlierFile === undefined || laterFile === undefined) {
  process.stderr.write('usage: heap-growth.ts EARLIER.heapsnapshot LATER.heapsnapshot [--top N]\n');
  process.exit(2);
}
const earlierIds = readIds(earlierFile);
const heap = JSON.parse(readFileSync(laterFile, 'utf8')) as RawSnapshot;
const meta = heap.snapshot.meta;
const width = meta.node_fields.length;
const typeAt = meta.node_fields.indexOf('type');
const nameAt = meta.node_fields.indexOf('name');
const idAt = meta.node_fields.indexOf('id');
const sizeAt = meta.node_fields.indexOf('self_size');
const edgeCountAt = meta.node_fields.indexOf('edge_count');
const edgeWidth = meta.edge_fields.length;
const edgeTypeAt = meta.edge_fields.indexOf('type');
const edgeNameAt = meta.edge_fields.indexOf('name_or_index');
const edgeToAt = meta.edge_fields.indexOf('to_node');
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const nodeCount = heap.nodes.length / width;

// One strong retainer per node (the first found), as node ordinal and edge index.
const retainerOf = new Int32Array(nodeCount).fill(-1);
const retainingEdge = new Int32Array(nodeCount).fill(-1);
let edgeIndex = 0;
for (let node = 0; node < nodeCount; node++) {
  const edges = heap.nodes[node * width + edgeCountAt] as number;
  for (let e = 0; e < edges; e++, edgeIndex += edgeWidth) {
    const kind = edgeTypes[heap.edges[edgeIndex + edgeTypeAt] as number];
    if (kind === 'weak' || kind === 'shortcut') continue;
    const target = (heap.edges[edgeIndex + edgeToAt] as number) / width;
    if (retainerOf[target] === -1) {
      retainerOf[target] = node;
      retainingEdge[target] = edgeIndex;
    }
  }
}

const isNew = (node: number): boolean => !earlierIds.has(heap.nodes[node * width + idAt] as number);
const describe = (node: number): string => {
  const type = nodeTypes[heap.nodes[node * width + typeAt] as number] ?? '?';
  const name = heap.strings[heap.nodes[node * width + nameAt] as number] ?? '?';
  return type === 'object' || type === 'closure' || type === 'native' || type === 'synthetic' ? `${type} ${name}` : type;
};
const edgeName = (edge: number): string => {
  const kind = edgeTypes[heap.edges[edge + edgeTypeAt] as number];
  const nameOrIndex = heap.edges[edge + edgeNameAt] as number;
  return kind === 'element' || kind === 'hidden' ? `[${kind}]` : `.${heap.strings[nameOrIndex] ?? nameOrIndex}`;
};

interface Row {
  bytes: number;
  count: number;
}
const rows = new Map<string, Row>();
let newBytes = 0;
let newCount = 0;
for (let node = 0; node < nodeCount; node++) {
  if (!isNew(node)) continue;
  const size = heap.nodes[node * width + sizeAt] as number;
  newBytes += size;
  newCount++;
  // Up through new objects to the first old one; the path's last two steps name the holder.
  const path: string[] = [];
  let current = node;
  let steps = 0;
  while (steps < 64 && retainerOf[current] !== -1 && isNew(retainerOf[current] as number)) {
    path.push(`${describe(retainerOf[current] as number)}${edgeName(retainingEdge[current] as number)}`);
    current = retainerOf[current] as number;
    steps++;
  }
  const holder = retainerOf[current] === -1 ? '(no strong retainer)' : `${describe(retainerOf[current] as number)}${edgeName(retainingEdge[current] as number)}`;
  const below = path.length > 0 ? ` -> ${path[path.length - 1]}` : '';
  const key = `${holder}${below} :: ${describe(current)}`;
  const row = rows.get(key) ?? { bytes: 0, count: 0 };
  row.bytes += size;
  row.count++;
  rows.set(key, row);
}

const kib = (n: number): string => (n / 1024).toFixed(1);
process.stdout.write(`new objects still alive: ${newCount}, ${kib(newBytes)} KiB self size\n`);
process.stdout.write('KiB\tobjects\theld by (first old object and edge) -> first new holder :: top new object\n');
for (const [key, row] of [...rows].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, Number(values.top))) {
  process.stdout.write(`${kib(row.bytes)}\t${row.count}\t${key}\n`);
}
