// Micro-benchmark of the XML parsers (run: npx tsx loadtest/bench/xml-parser.ts).
//
// A client-to-server stream (header, then ~20k chat messages, presences with entity capabilities and roster
// results of 100 items, shuffled) is fed in 16 KiB Buffers to:
//   - ours: XmlStreamParser (src/xml/parser.ts), emitting each stanza as an ltx Element;
//   - ltx: `Parser` from 'ltx', its default streaming parser, which builds one tree of the whole stream;
//   - @xmpp/xml: its `Parser` (ltx's SAX parser plus tree building), emitting each stanza.
// Then single-stanza frames go through parseFrame (RFC 7395) and, for reference, ltx's parse().
// Each case is warmed up, then repeated; the table gives the median throughput.
import { Buffer } from 'node:buffer';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { parse as ltxParse, Parser as LtxParser } from 'ltx';
import type { Element } from '../../src/xml/element.js';
import { parseFrame } from '../../src/xml/framed-parser.js';
import { XmlStreamParser, type ParserLimits } from '../../src/xml/parser.js';

const CHUNK = 16 * 1024;
const WARMUP = 3;
const RUNS = 9;
const LIMITS: ParserLimits = { maxStanzaBytes: 256 * 1024, maxDepth: 32 };

// Deterministic pseudo-random numbers, so every run parses the same bytes.
let seed = 0x2545f491;
function rand(n: number): number {
  seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
  return (seed >>> 0) % n;
}

const WORDS = ['hello', 'there', 'how', 'are', 'you', 'today', 'meeting', 'at', 'noon', 'ça', 'va', 'très', 'bien',
  'grüße', 'aus', 'köln', '🙂', 'ok', 'see', 'you', 'later', 'the', 'build', 'is', 'green', 'again', '&amp;', '&lt;3'];
function sentence(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(WORDS[rand(WORDS.length)] ?? 'x');
  return out.join(' ');
}

function message(i: number): string {
  return `<message from='user${rand(5000)}@example.com/phone-${rand(100)}' to='user${rand(5000)}@example.com' ` +
    `type='chat' id='m-${i}-${rand(1e6)}' xml:lang='en'><body>${sentence(4 + rand(20))}</body>` +
    `<active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/>` +
    `<origin-id xmlns='urn:xmpp:sid:0' id='o-${i}-${rand(1e9)}'/></message>`;
}

function presence(i: number): string {
  return `<presence from='user${rand(5000)}@example.com/laptop' id='p-${i}'><show>away</show>` +
    `<status>${sentence(3)}</status><priority>${rand(50)}</priority>` +
    `<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://gajim.org' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>` +
    `<x xmlns='vcard-temp:x:update'><photo>01b87fcd030b72895ff8e88db57ec525450f${rand(1e6).toString(16).padStart(4, '0')}</photo></x></presence>`;
}

function roster(i: number): string {
  let items = '';
  for (let k = 0; k < 100; k++) {
    items += `<item jid='contact${k}-${rand(1e5)}@example.org' name='Contact ${k} &amp; co' subscription='both'>` +
      `<group>${k % 3 === 0 ? 'Friends' : 'Work'}</group></item>`;
  }
  return `<iq type='result' id='roster-${i}' to='user${i}@example.com/res'><query xmlns='jabber:iq:roster' ver='v${i}'>${items}</query></iq>`;
}

const stanzas: string[] = [];
for (let i = 0; i < 20000; i++) stanzas.push(message(i));
for (let i = 0; i < 5000; i++) stanzas.push(presence(i));
for (let i = 0; i < 100; i++) stanzas.push(roster(i));
for (let i = stanzas.length - 1; i > 0; i--) {
  const j = rand(i + 1);
  const a = stanzas[i] ?? '';
  stanzas[i] = stanzas[j] ?? '';
  stanzas[j] = a;
}
const header = "<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' " +
  "xmlns:stream='http://etherx.jabber.org/streams' version='1.0' xml:lang='en'>";
const wire = Buffer.from(header + stanzas.join('') + '</stream:stream>', 'utf8');
const chunks: Buffer[] = [];
for (let i = 0; i < wire.length; i += CHUNK) chunks.push(wire.subarray(i, i + CHUNK));
const frames = stanzas.map((s) => s.replace(/^<(message|presence|iq) /, "<$1 xmlns='jabber:client' "));
const frameBytes = frames.reduce((n, f) => n + Buffer.byteLength(f), 0);

interface XmppXmlParser extends EventEmitter {
  write(data: Buffer | string): void;
}

/** Each case parses everything once and returns how many top-level elements it saw. */
type Case = () => number;

function ours(): number {
  let n = 0;
  let error: Error | undefined;
  const p = new XmlStreamParser({
    onStreamStart() {},
    onElement() { n++; },
    onStreamEnd() {},
    onError(err) { error = err; },
  }, LIMITS);
  for (const c of chunks) p.write(c);
  if (error) throw error;
  return n;
}

function ltx(): number {
  const p = new LtxParser();
  let tree: Element | undefined;
  p.on('tree', (t: Element) => { tree = t; });
  p.on('error', (err: Error) => { throw err; });
  for (const c of chunks) p.write(c);
  p.end('');
  return tree?.children.length ?? 0;
}

function makeXmppJs(Parser: new () => XmppXmlParser): Case {
  return () => {
    let n = 0;
    const p = new Parser();
    p.on('element', () => { n++; });
    p.on('error', (err: Error) => { throw err; });
    for (const c of chunks) p.write(c);
    return n;
  };
}

function framed(): number {
  let n = 0;
  for (const f of frames) { parseFrame(f, LIMITS); n++; }
  return n;
}

function ltxFrames(): number {
  let n = 0;
  for (const f of frames) { ltxParse(f); n++; }
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

interface Row { name: string; mbs: number; eps: number; ms: number; count: number }

function bench(name: string, fn: Case, bytes: number): Row {
  let count = 0;
  for (let i = 0; i < WARMUP; i++) count = fn();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    count = fn();
    times.push(performance.now() - t0);
  }
  const ms = median(times);
  return { name, ms, count, mbs: bytes / 1e6 / (ms / 1000), eps: count / (ms / 1000) };
}

async function main(): Promise<void> {
  // @xmpp/xml ships no types; reach it through a computed specifier and describe the part we use.
  const spec = '@xmpp/xml';
  const xmppXml = (await import(spec)) as { Parser: new () => XmppXmlParser };

  console.log(`Node ${process.version}, ${(wire.length / 1e6).toFixed(2)} MB stream, ${stanzas.length} stanzas, ` +
    `${CHUNK / 1024} KiB chunks; ${WARMUP} warm-up runs, median of ${RUNS}\n`);
  const rows = [
    bench('XmlStreamParser (ours)', ours, wire.length),
    bench('ltx Parser', ltx, wire.length),
    bench('@xmpp/xml Parser', makeXmppJs(xmppXml.Parser), wire.length),
    bench('parseFrame (ours), 1 frame per stanza', framed, frameBytes),
    bench('ltx parse(), 1 call per stanza', ltxFrames, frameBytes),
  ];
  for (const r of rows) if (r.count !== stanzas.length) throw new Error(`${r.name} saw ${r.count} elements`);
  console.log('| Parser | MB/s | stanzas/s | ms per run |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.mbs.toFixed(1)} | ${Math.round(r.eps).toLocaleString('en-US')} | ${r.ms.toFixed(1)} |`);
  }
}

await main();
