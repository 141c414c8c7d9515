// Fuzzing the XML core (src/xml/tokenizer.ts through parser.ts and framed-parser.ts): arbitrary bytes and
// grammar-made near-valid streams, each read in random chunks. The parser may only report through its
// handler (a StreamError), must report the same whatever the chunking, must hold no more than the stanza cap
// plus a constant, and must read well-formed stanzas as saxes reads them and as it reads its own output.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { SaxesParser } from 'saxes';
import { StreamError } from '../../src/errors.js';
import { Element } from '../../src/xml/element.js';
import { parseFrame } from '../../src/xml/framed-parser.js';
import { NS } from '../../src/xml/ns.js';
import { XmlStreamParser, type ParserLimits } from '../../src/xml/parser.js';
import { MAX_HEADER_BYTES, MAX_NAME_CHARS } from '../../src/xml/tokenizer.js';
import { counted, FUZZ_TIMEOUT, fuzzParams, splitAt } from './support.js';

const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${NS.stream}' to='localhost' version='1.0'>`;

/** What the parser holds beyond the current unit's bytes: carried-over tokens and a split character. */
const SLACK = 2 * (MAX_NAME_CHARS + 64) + 16;

interface Run {
  events: string[];
  /** Largest number of characters held at once, measured after every write. */
  peakHeld: number;
}

/** The tokenizer's private state, read to measure what it holds between writes. */
interface TokenizerState {
  pending: string;
  carry: string;
  tagName: string;
  tagAttrs: Record<string, string>;
  cur: Element;
}

function attrsChars(attrs: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(attrs)) n += k.length + v.length;
  return n;
}

/** Characters held by an element tree under construction: names, attributes and text. */
function treeChars(el: Element): number {
  let n = el.name.length + attrsChars(el.attrs);
  for (const c of el.children) n += typeof c === 'string' ? c.length : treeChars(c as Element);
  return n;
}

function held(parser: XmlStreamParser): number {
  const core = (parser as unknown as { core: TokenizerState }).core;
  let top = core.cur;
  while (top.parent) top = top.parent;
  return core.pending.length + core.carry.length + core.tagName.length + attrsChars(core.tagAttrs) + treeChars(top);
}

function parse(chunks: readonly Buffer[], limits: ParserLimits): Run {
  const events: string[] = [];
  let failed = false;
  const parser = new XmlStreamParser({
    onStreamStart(name, attrs) { events.push(`start ${name} ${JSON.stringify(attrs)}`); },
    // The size is an estimate that mixes bytes and characters by read (tokenizer.ts), so it is left out.
    onElement(el) { events.push(`element ${el.toString()}`); },
    onStreamEnd() { events.push('end'); },
    onError(err) {
      assert.ok(err instanceof StreamError, 'onError gets a StreamError');
      assert.ok(!failed, 'one error at most');
      failed = true;
      events.push(`error ${err.condition}`);
    },
  }, limits);
  let peakHeld = 0;
  for (const chunk of chunks) {
    parser.write(chunk);
    peakHeld = Math.max(peakHeld, held(parser));
  }
  parser.end();
  return { events, peakHeld };
}

const limitsArb: fc.Arbitrary<ParserLimits> = fc.record({
  maxStanzaBytes: fc.integer({ min: 16, max: 4096 }),
  maxDepth: fc.integer({ min: 1, max: 24 }),
});
const splitsArb = fc.array(fc.nat({ max: 1 << 16 }), { maxLength: 12 });

/**
 * The same events; where a stanza is both over the cap and broken further on, which of the two is seen first
 * depends on how far a read reaches, so policy-violation may stand in for the other error.
 */
function sameOutcome(chunked: readonly string[], whole: readonly string[]): void {
  const a = chunked.at(-1);
  const b = whole.at(-1);
  if (a !== b && a?.startsWith('error ') && b?.startsWith('error ') && (a === 'error policy-violation' || b === 'error policy-violation')) {
    assert.deepEqual(chunked.slice(0, -1), whole.slice(0, -1), 'the same events whatever the chunking');
  } else {
    assert.deepEqual(chunked, whole, 'the same events whatever the chunking');
  }
}

/** The parser's whole behaviour on these bytes: the same in one write and in the given chunks, and bounded. */
function checkStream(data: Buffer, splits: readonly number[], limits: ParserLimits): void {
  counted();
  const whole = parse([data], limits);
  const chunked = parse(splitAt(data, splits), limits);
  sameOutcome(chunked.events, whole.events);
  const cap = Math.max(limits.maxStanzaBytes, MAX_HEADER_BYTES) + SLACK;
  assert.ok(chunked.peakHeld <= cap, `held ${chunked.peakHeld} characters, cap ${cap}`);
}

// ---- Grammar of near-valid XMPP streams ----

const nameArb = fc.constantFrom('message', 'iq', 'presence', 'body', 'a', 'b:c', 'p:q', 'stream:features', 'stream:stream',
  'x', 'ä', '名前', 'q-1.2_z', 'xml:foo', 'xmlns', '1bad', ':x', 'x:', 'a:b:c', '𝒳');
const attrNameArb = fc.constantFrom('to', 'from', 'id', 'type', 'xmlns', 'xmlns:p', 'xmlns:b', 'xmlns:stream', 'p:attr', 'xml:lang', 'xmlns:xml', 'a', 'é', '__proto__', 'constructor');
const textArb = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('&amp;', '&lt;', '&gt;', '&quot;', '&apos;', '&#65;', '&#x41;', '&#x1F600;', '&#0;', '&#xD800;', '&#1114112;', '&#x110000;',
    '&#;', '&#x;', '&bogus;', '&', '&amp', '&#99999999999999999999;', ']]>', '>', '\r\n', '\r', '\t', '€', '😀', '\u0000', '\uFFFE', 'jabber:client', NS.stream, NS.xml),
);
const valueArb = fc.oneof(textArb, fc.constantFrom('jabber:client', 'urn:p', NS.stream, NS.xml, '', 'a"b', "a'b", 'a<b'));
const attrArb = fc.tuple(attrNameArb, valueArb, fc.constantFrom('"', "'", '', ' = "', '="x\'')).map(([n, v, q]) => {
  if (q === '') return `${n}=${v}`;
  if (q.length > 1) return `${n}${q}${v}"`;
  return `${n}=${q}${v}${q}`;
});
const tagArb = fc.tuple(nameArb, fc.array(attrArb, { maxLength: 4 }), fc.constantFrom('>', '/>', ' >', ' />', '', '/ >'))
  .map(([n, as, end]) => `<${n}${as.map((a) => ` ${a}`).join('')}${end}`);
const tokenArb: fc.Arbitrary<string | Buffer> = fc.oneof(
  { weight: 5, arbitrary: tagArb },
  { weight: 4, arbitrary: nameArb.map((n) => `</${n}>`) },
  { weight: 4, arbitrary: textArb },
  { weight: 1, arbitrary: textArb.map((t) => `<![CDATA[${t}]]>`) },
  { weight: 1, arbitrary: fc.constantFrom('<!-- c -->', '<?xml version="1.0"?>', "<?xml version='1.0' encoding='ISO-8859-1'?>", '<?pi x?>', '<!DOCTYPE x>',
    '<!ENTITY e "x">', '<![CDATA[', '<![CDAT', '<![x', '<!', '<?', '<', '</', '</stream:stream>', '\uFEFF', ' \n\t') },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 4 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.from([0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xe2, 0x82])) },
);

function bytesOf(tokens: readonly (string | Buffer)[]): Buffer {
  return Buffer.concat(tokens.map((t) => (typeof t === 'string' ? Buffer.from(t, 'utf8') : t)));
}

// ---- Well-formed stanzas ----

interface Node {
  prefix: string | undefined;
  name: string;
  /** Namespace the element declares: as a default namespace, or bound to its prefix. */
  ns: string | undefined;
  attrs: [string, string][];
  children: (Node | string)[];
}

const localArb = fc.constantFrom('message', 'body', 'x', 'item', 'query', 'ä', '名', 'a-b.c_d');
const nsArb = fc.constantFrom(undefined, 'urn:a', 'urn:b', 'jabber:iq:roster', 'urn:😀');
const plainTextArb = fc.string({ maxLength: 16, unit: fc.oneof(fc.constantFrom('a', ' ', '<', '>', '&', '"', "'", '\n', '\t', ']', 'é', '€', '😀'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })) })
  .filter((t) => !/[\x00-\x08\x0B\x0C\x0E-\x1F\r]/.test(t));
const nodeArb: fc.Arbitrary<Node> = fc.letrec<{ node: Node }>((tie) => ({
  // depthSize: a child is an element less often the deeper it is, so trees stay small.
  node: fc.record({
    prefix: fc.constantFrom(undefined, undefined, 'p', 'q'),
    name: localArb,
    ns: nsArb,
    // Without TAB and LF: ltx writes them raw in attribute values, where a reader turns them into spaces.
    attrs: fc.uniqueArray(fc.tuple(fc.constantFrom('id', 'type', 'to', 'k', 'é', 'xml:lang'), plainTextArb.map((v) => v.replace(/[\t\n]/g, ' '))), { maxLength: 3, selector: ([k]) => k }),
    children: fc.array(fc.oneof({ depthSize: 'small' }, { weight: 2, arbitrary: plainTextArb }, { weight: 1, arbitrary: tie('node') }), { maxLength: 4 }),
  }),
})).node;

/** How a serialisation may vary without changing the document. */
interface Style {
  quote: '"' | "'";
  /** Escape every '>' and quote, or only what must be. */
  escapeAll: boolean;
  /** Write non-ASCII characters as character references. */
  charRefs: boolean;
  /** Put text in CDATA sections where it can be. */
  cdata: boolean;
  /** Whitespace inside tags. */
  space: string;
}

const styleArb: fc.Arbitrary<Style> = fc.record({
  quote: fc.constantFrom('"' as const, "'" as const),
  escapeAll: fc.boolean(),
  charRefs: fc.boolean(),
  cdata: fc.boolean(),
  space: fc.constantFrom('', ' ', '\n', ' \t '),
});

function escape(text: string, style: Style, inAttr: boolean): string {
  let out = text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  if (style.escapeAll || !inAttr) out = out.replace(/>/g, '&gt;');
  if (inAttr) {
    out = out.replace(style.quote === '"' ? /"/g : /'/g, style.quote === '"' ? '&quot;' : '&apos;');
    out = out.replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');
  }
  if (style.charRefs) out = [...out].map((c) => (c.codePointAt(0) as number) > 127 ? `&#x${(c.codePointAt(0) as number).toString(16)};` : c).join('');
  return out;
}

/** Writes a node; `scope` maps prefixes in scope to namespaces so every prefix used is declared. */
function serialise(node: Node, style: Style, scope: Record<string, string | undefined> = {}): string {
  const q = style.quote;
  const inner = { ...scope };
  const attrs: string[] = [];
  let qname = node.name;
  if (node.prefix !== undefined) {
    const ns = node.ns ?? 'urn:default-' + node.prefix;
    qname = `${node.prefix}:${node.name}`;
    if (inner[node.prefix] !== ns) {
      attrs.push(`xmlns:${node.prefix}=${q}${escape(ns, style, true)}${q}`);
      inner[node.prefix] = ns;
    }
  } else if (node.ns !== undefined) {
    attrs.push(`xmlns=${q}${escape(node.ns, style, true)}${q}`);
  }
  for (const [k, v] of node.attrs) attrs.push(`${k}=${q}${escape(v, style, true)}${q}`);
  const open = `<${qname}${attrs.map((a) => ` ${style.space}${a}`).join('')}${style.space}`;
  if (node.children.length === 0) return `${open}/>`;
  const body = node.children.map((c) => {
    if (typeof c !== 'string') return serialise(c, style, inner);
    if (style.cdata && c !== '' && !c.includes(']]>') && !c.includes(']')) return `<![CDATA[${c}]]>`;
    return escape(c, style, false);
  }).join('');
  return `${open}>${body}</${qname}${style.space}>`;
}

/** A namespace-resolved view of a tree, the same for saxes' reading and ours. */
interface Canon {
  ns: string;
  name: string;
  attrs: Record<string, string>;
  children: (Canon | string)[];
}

function mergeText(children: (Canon | string)[]): (Canon | string)[] {
  const out: (Canon | string)[] = [];
  for (const c of children) {
    const last = out[out.length - 1];
    if (typeof c === 'string' && typeof last === 'string') out[out.length - 1] = last + c;
    else if (c !== '') out.push(c);
  }
  return out;
}

function canonOfOurs(el: Element, parentNs: string): Canon {
  const ns = el.attrs.xmlns ?? parentNs;
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(el.attrs)) if (k !== 'xmlns' && !k.startsWith('xmlns:')) attrs[k] = v;
  return { ns, name: el.name, attrs, children: mergeText(el.children.map((c) => (typeof c === 'string' ? c : canonOfOurs(c as Element, ns)))) };
}

function canonBySaxes(text: string): Canon {
  const parser = new SaxesParser({ xmlns: true, additionalNamespaces: { stream: NS.stream } , defaultXMLVersion: '1.0' });
  const stack: Canon[] = [{ ns: '', name: '#document', attrs: {}, children: [] }];
  parser.on('error', (err) => { throw err; });
  parser.on('opentag', (tag) => {
    const attrs: Record<string, string> = {};
    for (const [k, a] of Object.entries(tag.attributes)) if (k !== 'xmlns' && !k.startsWith('xmlns:')) attrs[k] = a.value;
    const node: Canon = { ns: tag.uri === '' ? NS.client : tag.uri, name: tag.local, attrs, children: [] };
    (stack[stack.length - 1] as Canon).children.push(node);
    stack.push(node);
  });
  parser.on('closetag', () => {
    const node = stack.pop() as Canon;
    node.children = mergeText(node.children);
  });
  parser.on('text', (t) => { (stack[stack.length - 1] as Canon).children.push(t); });
  parser.on('cdata', (t) => { (stack[stack.length - 1] as Canon).children.push(t); });
  parser.write(text).close();
  return (stack[0] as Canon).children[0] as Canon;
}

function stanzasOf(data: Buffer, limits: ParserLimits): string[] {
  return parse([data], limits).events;
}

const ROOMY: ParserLimits = { maxStanzaBytes: 1 << 20, maxDepth: 64 };

describe('fuzz: XML parser', function () {
  this.timeout(FUZZ_TIMEOUT);

  it('arbitrary bytes: only StreamErrors, the same events whatever the chunking, bounded memory', () => {
    fc.assert(fc.property(
      fc.boolean(), fc.uint8Array({ maxLength: 300 }), splitsArb, limitsArb,
      (withHeader, bytes, splits, limits) => {
        checkStream(Buffer.concat([Buffer.from(withHeader ? HEADER : ''), Buffer.from(bytes)]), splits, limits);
      },
    ), fuzzParams(20_000));
  });

  it('near-valid streams (tags, odd quoting, entities, CDATA, comments, PIs, DOCTYPE, prefixes, bad UTF-8)', () => {
    fc.assert(fc.property(
      fc.boolean(), fc.array(tokenArb, { maxLength: 40 }), splitsArb, limitsArb,
      (withHeader, tokens, splits, limits) => {
        checkStream(Buffer.concat([Buffer.from(withHeader ? HEADER : ''), bytesOf(tokens)]), splits, limits);
      },
    ), fuzzParams(25_000));
  });

  it('mutated well-formed stanzas: the same events whatever the chunking', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(nodeArb, styleArb), { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(fc.nat(), tokenArb), { maxLength: 3 }), fc.nat(), splitsArb, limitsArb,
      (stanzas, inserts, cutEnd, splits, limits) => {
        let text = HEADER + stanzas.map(([n, s]) => serialise(n, s)).join('');
        for (const [at, token] of inserts) {
          const p = HEADER.length + (at % (text.length - HEADER.length + 1));
          text = text.slice(0, p) + (typeof token === 'string' ? token : token.toString('latin1')) + text.slice(p);
        }
        const data = Buffer.from(text, 'utf8');
        checkStream(data.subarray(0, data.length - (cutEnd % 4)), splits, limits);
      },
    ), fuzzParams(5_000));
  });

  it('endless text, attribute value, tag or nesting under a small cap ends in policy-violation', () => {
    const growth = fc.constantFrom('text', 'attr', 'tagws', 'attrs', 'nest', 'cdata', 'header');
    fc.assert(fc.property(growth, fc.integer({ min: 16, max: 2048 }), fc.integer({ min: 1, max: 512 }), fc.constantFrom('a', 'é', '€', '😀', '&amp;'),
      (kind, cap, chunkChars, unit) => {
        counted();
        const limits: ParserLimits = { maxStanzaBytes: cap, maxDepth: 1000 };
        let error: string | undefined;
        const parser = new XmlStreamParser({
          onStreamStart() {}, onElement() {}, onStreamEnd() {},
          onError(err) { error = err.condition; },
        }, limits);
        const start = { text: '<message>', attr: "<message to='", tagws: '<message', attrs: '<message', nest: '', cdata: '<message><![CDATA[', header: '' }[kind] as string;
        const piece = { text: unit, attr: unit, tagws: ' ', attrs: '', nest: '<a>', cdata: unit === '&amp;' ? 'x' : unit, header: ' ' }[kind] as string;
        if (kind !== 'header') parser.write(Buffer.from(HEADER));
        else parser.write(Buffer.from("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' a='1'"));
        parser.write(Buffer.from(start));
        const budget = 4 * Math.max(cap, MAX_HEADER_BYTES) + 4096;
        let n = 0;
        for (let sent = 0; error === undefined && sent < budget; sent += chunkChars) {
          const chunk = kind === 'attrs' ? Array.from({ length: chunkChars }, () => ` a${n++}='x'`).join('') : piece.repeat(chunkChars);
          parser.write(Buffer.from(chunk, 'utf8'));
          assert.ok(held(parser) <= Math.max(cap, MAX_HEADER_BYTES) + SLACK, 'held within the cap');
        }
        assert.equal(error, 'policy-violation');
      },
    ), fuzzParams(1_000));
  });

  it('well-formed stanzas: read as saxes reads them, and parse → serialise → parse is stable', () => {
    fc.assert(fc.property(nodeArb, styleArb, splitsArb, (node, style, splits) => {
      counted();
      const text = serialise(node, style);
      const data = Buffer.from(HEADER + text, 'utf8');
      const first = parse(splitAt(data, splits), ROOMY).events;
      assert.equal(first.length, 2, `one header and one element: ${first.join(' | ')}`);
      // Differential: the same tree as saxes reads (namespaces resolved, text merged).
      const ours = parseFrame(text, ROOMY);
      assert.deepEqual(canonOfOurs(ours, NS.client), canonBySaxes(text));
      // Our serialisation reads back to the same element.
      const again = stanzasOf(Buffer.from(HEADER + ours.toString(), 'utf8'), ROOMY);
      assert.deepEqual(again, first);
    }), fuzzParams(5_000));
  });

  it('RFC 7395 frames: parseFrame throws only StreamError', () => {
    fc.assert(fc.property(fc.array(tokenArb, { maxLength: 30 }), limitsArb, (tokens, limits) => {
      counted();
      const text = tokens.map((t) => (typeof t === 'string' ? t : t.toString('latin1'))).join('');
      try {
        parseFrame(text, limits);
      } catch (err) {
        assert.ok(err instanceof StreamError, `parseFrame threw ${String(err)}`);
      }
    }), fuzzParams(30_000));
  });
});
