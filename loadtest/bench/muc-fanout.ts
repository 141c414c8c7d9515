// Micro-benchmark of the XEP-0045 groupchat fan-out (run: npx tsx loadtest/bench/muc-fanout.ts).
//
// The room builds one reflected <message/> and, per occupant session, sets 'to' and hands the element over; the
// session's transport serialises it. So the per-copy cost is one ltx serialisation (TCP), or a shallow copy
// plus one serialisation (WebSocket, which adds the jabber:client xmlns). Compared with what sending a
// pre-serialised string would cost: serialise once without 'to', then splice the recipient into the prefix.
import { performance } from 'node:perf_hooks';
import { Element, escapeAttr, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

const OCCUPANTS = 1100;
const MESSAGES = 2000;
const RUNS = 5;

const recipients = Array.from({ length: OCCUPANTS }, (_, i) => `user${i}@localhost/res-${i % 3}`);
const body = 'Harpier cries: ’tis time, ’tis time. '.repeat(3);
const original = xml('message', { xmlns: NS.client, to: 'coven@conference.localhost', type: 'groupchat', id: 'hysf1v37' }, xml('body', {}, body), xml('active', { xmlns: NS.chatstates }), xml('origin-id', { xmlns: NS.sid, id: 'abc-123' }));

function reflection(): Element {
  const copy = new Element('message', { from: 'coven@conference.localhost/thirdwitch', type: 'groupchat', id: 'hysf1v37' });
  for (const child of original.children) if (child instanceof Element) copy.children.push(child);
  return copy;
}

let sink = 0;

const cases: Record<string, () => void> = {
  'tcp: set to + toString': () => {
    const copy = reflection();
    for (const to of recipients) {
      copy.attrs.to = to;
      sink += copy.toString().length;
    }
  },
  'websocket: shallow copy + toString': () => {
    const copy = reflection();
    for (const to of recipients) {
      copy.attrs.to = to;
      const framed = new Element(copy.name, { ...copy.attrs, xmlns: NS.client });
      framed.children = copy.children;
      sink += framed.toString().length;
    }
  },
  'pre-serialised: splice to': () => {
    const text = reflection().toString();
    const cut = text.indexOf(' ');
    const head = text.slice(0, cut);
    const tail = text.slice(cut);
    for (const to of recipients) sink += `${head} to="${escapeAttr(to)}"${tail}`.length;
  },
};

for (const [name, run] of Object.entries(cases)) {
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    for (let m = 0; m < MESSAGES / 10; m++) run();
    rates.push(((MESSAGES / 10) * OCCUPANTS) / ((performance.now() - start) / 1000));
  }
  rates.sort((a, b) => a - b);
  const median = rates[Math.floor(RUNS / 2)] ?? 0;
  console.log(`${name.padEnd(38)} ${(median / 1e6).toFixed(2).padStart(6)} M copies/s  ${(1e9 / median).toFixed(0).padStart(6)} ns per copy`);
}
console.log(`(${OCCUPANTS} recipients; stanza of ${reflection().toString().length} characters; checksum ${sink % 997})`);
