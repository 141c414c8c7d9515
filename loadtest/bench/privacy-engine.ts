// Micro-benchmark of the privacy/blocking decision on the routing hot path (run: npx tsx loadtest/bench/privacy-engine.ts).
//
// What the stanza filter of xeps/0016-privacy does per delivered stanza once the user's data is in
// memory: read the sender's address (peerFrom), then decide against a policy. Cases:
//   - open: a user with no block list and no list (the common case; the filter returns before parsing);
//   - busy: 500 blocked JIDs plus a domain, a 20-item JID list and a group item over a 1,000-contact roster;
//   - reference: the same decision with the address read by Jid.parse (full Unicode normalisation).
import { performance } from 'node:perf_hooks';
import { Jid } from '../../src/jid.js';
import type { PrivacyItem } from '../../xeps/0016-privacy/store/types.js';
import { xml } from '../../src/xml/element.js';
import { BlockList, classify, compileList, decide, isOpen, peerFrom, peerOf, type Policy, type RosterEntry } from '../../xeps/0016-privacy/engine.js';

const N = 1_000_000;
const RUNS = 5;

const item = (order: number, fields: Partial<PrivacyItem>): PrivacyItem => ({ action: 'deny', order, message: true, iq: false, presenceIn: false, presenceOut: false, ...fields });
const items = Array.from({ length: 20 }, (_, i) => item(i, { type: 'jid', value: `enemy${i}@example.com` }));
items.push(item(100, { type: 'group', value: 'Enemies' }));
const roster = new Map<string, RosterEntry>(Array.from({ length: 1000 }, (_, i) => [`c${i}@localhost`, { subscription: 'both', groups: ['Friends'] }]));
const busy: Policy = { blocked: BlockList.of([...Array.from({ length: 500 }, (_, i) => `b${i}@spam.example`), 'spam.org']), list: compileList('busy', items), roster };
const open: Policy = { blocked: BlockList.EMPTY, list: undefined, roster: undefined };
const senders = Array.from({ length: 1000 }, (_, i) => `c${i}@localhost/phone-${i % 7}`);
const stanza = xml('message', { type: 'chat' });

function bench(name: string, run: (i: number) => boolean): void {
  const rates: number[] = [];
  let allowed = 0;
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    for (let i = 0; i < N; i++) if (run(i)) allowed++;
    rates.push(N / ((performance.now() - start) / 1000));
  }
  rates.sort((a, b) => a - b);
  const median = rates[Math.floor(RUNS / 2)] ?? 0;
  console.log(`${name.padEnd(34)} ${(median / 1e6).toFixed(2).padStart(7)} M decisions/s  ${(1e9 / median).toFixed(0).padStart(6)} ns each  (${allowed / RUNS} allowed)`);
}

bench('open policy (no lists)', (i) => isOpen(open) || decide(open, 'in', classify(stanza), peerFrom(senders[i % 1000] ?? '')!) === 'allow');
bench('busy policy, peerFrom', (i) => decide(busy, 'in', classify(stanza), peerFrom(senders[i % 1000] ?? '')!) === 'allow');
bench('busy policy, Jid.parse (reference)', (i) => decide(busy, 'in', classify(stanza), peerOf(Jid.parse(senders[i % 1000] ?? ''))) === 'allow');
