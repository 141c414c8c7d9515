// Micro-benchmark of the RFC 6121 §4.2.2 presence broadcast (run: npx tsx loadtest/bench/presence-fanout.ts).
//
// A user with `CONTACTS` online contacts (one available resource each, on this node) sends presence: the IM
// module hands it to every contact's bare JID. Compared, in the router alone (no sockets; the sessions
// serialise what they are given, as the transports do):
//   - per contact: a readdressed copy routed to each bare JID (router.route), each copy serialised by its
//     session (what xeps/rfc6121-im/presence.ts did);
//   - one fan-out: router.deliverToBareJids, the stanza serialised once and each copy addressed to its
//     session's full JID (what it does now).
// An incoming filter that lets everything through stands in for the privacy module's per-copy check.
//
// Then the other fan-outs of issue #18, each the old way (a new element per recipient, serialised by its
// session) against the PreparedStanza way (serialised once, one copy per recipient by concatenation):
//   - a roster push (RFC 6121 §2.1.6) to a user's 2, 5 or 10 interested resources (xeps/rfc6121-im/shared.ts);
//   - a PEP notification (XEP-0163 §4.3) to 10, 100 or 1,000 readers' resources (xeps/0163-pep/service.ts),
//     through the router's deliver / deliverPrepared (incoming filters per copy).
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import type { CoreHooks } from '../../src/hooks/core-hooks.js';
import { HookBus } from '../../src/hooks/bus.js';
import { Jid } from '../../src/jid.js';
import { IqRegistry } from '../../src/router/iq-registry.js';
import { Router } from '../../src/router/router.js';
import { LocalSessionRegistry } from '../../src/sessions/local-registry.js';
import type { BoundSession, SessionPresence } from '../../src/sessions/types.js';
import type { AccountStore } from '../../src/storage/types.js';
import { Element, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { PreparedStanza } from '../../src/xml/prepared.js';

const CONTACTS = [10, 100, 1000];
const BROADCASTS = 2000;
const RUNS = 5;

let sink = 0;

function session(jid: Jid): BoundSession {
  const presence: SessionPresence = { available: true, priority: 0 };
  return {
    id: jid.toString(),
    jid,
    transport: 'tcp',
    remoteAddress: '127.0.0.1',
    startedAt: Date.now(),
    presence,
    lastActivity: Date.now(),
    flags: new Set(),
    send: (stanza) => void (sink += stanza.toString().length),
    sendText: (text) => void (sink += text.length),
    close: () => undefined,
  };
}

const log = pino({ level: 'silent' });
const sessions = new LocalSessionRegistry();
const router = new Router({ domain: 'localhost', sessions, accounts: { exists: async () => true } as unknown as AccountStore, hooks: new HookBus<CoreHooks>(log), iqs: new IqRegistry(), log });
router.addFilter({ incoming: (stanza) => stanza.attrs.to !== '' });

const sender = Jid.parse('juliet@localhost/balcony');
const presence = xml('presence', { from: sender.toString() }, xml('show', {}, 'chat'), xml('status', {}, 'Wherefore art thou?'), xml('priority', {}, '5'), xml('c', { xmlns: NS.caps, hash: 'sha-1', node: 'https://ratatosk.example', ver: 'q07IKJEyjvHSyhy//CH0CxmKi8w=' }));

function readdress(stanza: Element, attrs: Record<string, string>): Element {
  const copy = new Element(stanza.name, { ...stanza.attrs, ...attrs });
  copy.children = stanza.children;
  return copy;
}

for (const contacts of CONTACTS) {
  const bares = Array.from({ length: contacts }, (_, i) => `contact${i}@localhost`);
  for (const bare of bares) sessions.add(session(Jid.parse(`${bare}/phone`)));
  const cases: Record<string, () => Promise<void>> = {
    'per contact: readdress + route': async () => {
      await Promise.all(bares.map((to) => router.route(readdress(presence, { to }), sender)));
    },
    'one fan-out: deliverToBareJids': () => router.deliverToBareJids(readdress(presence, {}), sender, bares),
  };
  console.log(`${contacts} contacts online`);
  for (const [name, run] of Object.entries(cases)) {
    const perCopy: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const rounds = Math.max(1, Math.round(BROADCASTS / contacts) * 10);
      const start = performance.now();
      for (let b = 0; b < rounds; b++) await run();
      perCopy.push(((performance.now() - start) * 1e6) / (rounds * contacts));
    }
    perCopy.sort((a, b) => a - b);
    console.log(`  ${name.padEnd(34)} ${(perCopy[Math.floor(RUNS / 2)] ?? 0).toFixed(0).padStart(6)} ns per copy [${(perCopy[0] ?? 0).toFixed(0)}–${(perCopy[RUNS - 1] ?? 0).toFixed(0)}]`);
  }
  for (const s of [...sessions.all()]) sessions.remove(s);
}
/** Median ns per copy of RUNS runs of `rounds` calls of `run`, each making `copies` copies. */
function measure(name: string, copies: number, run: () => void): void {
  const perCopy: number[] = [];
  const rounds = Math.max(10, Math.round((BROADCASTS * 10) / copies));
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    for (let b = 0; b < rounds; b++) run();
    perCopy.push(((performance.now() - start) * 1e6) / (rounds * copies));
  }
  perCopy.sort((a, b) => a - b);
  console.log(`  ${name.padEnd(34)} ${(perCopy[Math.floor(RUNS / 2)] ?? 0).toFixed(0).padStart(6)} ns per copy [${(perCopy[0] ?? 0).toFixed(0)}–${(perCopy[RUNS - 1] ?? 0).toFixed(0)}]`);
}

const rosterItem = xml('item', { jid: 'nurse@localhost', name: 'Nurse', subscription: 'both' }, xml('group', {}, 'Servants'));
for (const count of [2, 5, 10]) {
  const resources = Array.from({ length: count }, (_, i) => session(Jid.parse(`juliet@localhost/r${i}`)));
  const query = (): Element => xml('query', { xmlns: NS.roster, ver: '42' }, rosterItem);
  console.log(`roster push to ${count} resources`);
  measure('per resource: new iq, send', count, () => {
    for (const s of resources) s.send(xml('iq', { type: 'set', id: `push-${randomBytes(6).toString('base64url')}`, to: s.jid.toString() }, query()));
  });
  measure('prepared: one iq, sendText', count, () => {
    const prepared = new PreparedStanza(xml('iq', { type: 'set', id: `push-${randomBytes(6).toString('base64url')}` }, query()));
    for (const s of resources) s.sendText(prepared.for(s.jid.toString()));
  });
}

const nick = xml('items', { node: 'http://jabber.org/protocol/nick' }, xml('item', { id: 'current' }, xml('nick', { xmlns: 'http://jabber.org/protocol/nick' }, 'Juliet')));
for (const count of CONTACTS) {
  const readers = Array.from({ length: count }, (_, i) => session(Jid.parse(`reader${i}@localhost/phone`)));
  const event = (): Element => xml('message', { from: 'juliet@localhost', type: 'headline', id: randomBytes(9).toString('base64url') }, xml('event', { xmlns: NS.pubsubEvent }, nick));
  console.log(`PEP notification to ${count} readers`);
  measure('per reader: new message, deliver', count, () => {
    for (const s of readers) {
      const message = event();
      message.attrs.to = s.jid.toString();
      router.deliver(s, message);
    }
  });
  measure('prepared: deliverPrepared', count, () => {
    const prepared = new PreparedStanza(event());
    for (const s of readers) router.deliverPrepared(s, prepared);
  });
}
console.log(`(checksum ${sink % 997})`);
