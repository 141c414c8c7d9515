// Micro-benchmark of a session's output path with and without XEP-0198 stream management (run: npx tsx
// loadtest/bench/sm-output.ts). Every stanza a session sends passes its output pipeline (src/sessions/output.ts);
// with stream management the queue stage (xeps/0198-sm/queue.ts) counts it, keeps a copy of its attributes and
// drops it again when the client acknowledges, here every 5 stanzas as the module asks for. The connection is a
// counter, so the figures are the pipeline's own cost per stanza, to set against the whole server's (CPU per
// delivered message in loadtest/RESULTS.md).
import { performance } from 'node:perf_hooks';
import { OutputPipeline, type Outbound } from '../../src/sessions/output.js';
import { xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { PreparedStanza } from '../../src/xml/prepared.js';
import { UnackedQueue } from '../../xeps/0198-sm/queue.js';

const STANZAS = 1_000_000;
const RUNS = 5;
const ACK_EVERY = 5;

const element = xml('message', { to: 'juliet@localhost/balcony', from: 'romeo@localhost/orchard', type: 'chat', id: 'm1' }, xml('body', {}, 'Wherefore art thou?'), xml('active', { xmlns: NS.chatstates }));
const text = new PreparedStanza(element).for('juliet@localhost/balcony');

function run(stanza: Outbound, withSm: boolean): number {
  let written = 0;
  const pipeline = new OutputPipeline(() => {
    written++;
  });
  const queue = new UnackedQueue({ limit: 1000, overflow: () => undefined, queued: () => undefined });
  if (withSm) pipeline.add(queue);
  const start = performance.now();
  for (let i = 1; i <= STANZAS; i++) {
    pipeline.send(stanza);
    if (withSm && i % ACK_EVERY === 0) queue.acknowledge(queue.sent);
  }
  const ns = ((performance.now() - start) * 1e6) / STANZAS;
  if (written !== STANZAS) throw new Error(`wrote ${written} of ${STANZAS}`);
  return ns;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

for (const [name, stanza] of [['element', element], ['serialised copy', text]] as const) {
  run(stanza, false);
  run(stanza, true);
  const plain = median(Array.from({ length: RUNS }, () => run(stanza, false)));
  const sm = median(Array.from({ length: RUNS }, () => run(stanza, true)));
  console.log(`${name.padEnd(16)} no stage ${plain.toFixed(1).padStart(6)} ns/stanza   stream management ${sm.toFixed(1).padStart(6)} ns/stanza   (+${(sm - plain).toFixed(1)} ns)`);
}
