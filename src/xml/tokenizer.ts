// The XML core shared by the TCP stream parser (parser.ts) and the RFC 7395 frame parser (framed-parser.ts).
//
// A resumable state machine over decoded strings. It scans with indexOf where it can and with charCodeAt
// where it must, slices instead of concatenating characters, and builds ltx Elements directly. Everything
// that can grow is capped: a stanza (or the stream header) by bytes, names and look-ahead carries by
// characters, nesting by depth. What RFC 6120 §11.1 forbids (comments, processing instructions, DTDs,
// entities other than the five predefined ones) is answered with restricted-xml.
//
// Chunk boundaries: text and attribute values are decoded and accumulated as they arrive (only a trailing
// partial entity or CR is held back), so a long text node costs linear time however it is split. Short
// tokens (names, `<!` / `<?` look-ahead) are carried over and rescanned; they are capped at MAX_CARRY.
//
// Namespaces are resolved here (Namespaces in XML 1.0 §6): a prefixed element (`<q:query xmlns:q='jabber:iq:roster'/>`)
// becomes the same element as one written with a default namespace (`<query xmlns='jabber:iq:roster'/>`), so the
// router, IQ dispatch and every module read `name` and `attrs.xmlns` and never meet a prefix. An element whose
// namespace differs from what its (rewritten) parent implies gets its own `xmlns`, so serialisation keeps every
// element in its namespace; prefix declarations stay in place for prefixed attributes. Elements of the streams
// namespace keep the conventional `stream:` prefix (RFC 6120 §4.8.1), which the stream code matches on. An
// unbound prefix is not-well-formed (RFC 6120 §4.9.3.13 covers XML-NAMES).
import { Buffer } from 'node:buffer';
import { StreamError, type StreamErrorCondition } from '../errors.js';
import { Element, type Attrs } from './element.js';
import { NS } from './ns.js';
import type { ParserLimits } from './parser.js';

/** Where the core delivers what it parsed. */
export interface TreeSink {
  onStreamStart(name: string, attrs: Record<string, string>): void;
  /** `size`: the element's length as received, in characters (UTF-16 units; about its bytes). */
  onElement(el: Element, size: number): void;
  onStreamEnd(): void;
}

/** Cap on everything before and including the stream header's `>` (XML declaration, header, whitespace). */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Cap on an element or attribute name, in characters. */
export const MAX_NAME_CHARS = 1024;
/** Cap on the raw characters held over between writes (a name, `<!`/`<?` look-ahead, the XML declaration). */
const MAX_CARRY = MAX_NAME_CHARS + 64;
/** Longest entity reference accepted between `&` and `;` (`#x10FFFF` is 8). */
const MAX_ENTITY = 10;

// States.
const S_PROLOG = 0; // before the root: whitespace, an XML declaration, then `<`
const S_TOP = 1; // stream mode, between top-level stanzas: whitespace only
const S_TEXT = 2; // character data inside an element
const S_LT = 3; // just after `<`
const S_START_NAME = 4; // element name of a start tag
const S_TAG = 5; // inside a start tag, between attributes
const S_SLASH = 6; // after `/` in a start tag, expecting `>`
const S_ATTR_NAME = 7;
const S_ATTR_EQ = 8; // after an attribute name, expecting `=`
const S_ATTR_QUOTE = 9; // after `=`, expecting a quote
const S_ATTR_VALUE = 10;
const S_END_NAME = 11; // element name of an end tag
const S_END_TAIL = 12; // after an end tag's name, expecting `>`
const S_BANG = 13; // at `!` after `<`: CDATA, or something RFC 6120 forbids
const S_CDATA = 14;
const S_PI = 15; // at `?` after `<`: the XML declaration, or a forbidden processing instruction
const S_EPILOG = 16; // document mode, after the root: whitespace only
const S_DONE = 17; // stream mode, after `</stream:stream>`: input is ignored

// Name characters (XML 1.0 fifth edition §2.3), ASCII by table, the rest by range.
const NAME_START = 1;
const NAME_ONLY = 2;
const ASCII_NAME = new Uint8Array(128);
for (let c = 65; c <= 90; c++) ASCII_NAME[c] = NAME_START;
for (let c = 97; c <= 122; c++) ASCII_NAME[c] = NAME_START;
ASCII_NAME[95] = NAME_START; // _
ASCII_NAME[58] = NAME_START; // :
for (let c = 48; c <= 57; c++) ASCII_NAME[c] = NAME_ONLY;
ASCII_NAME[45] = NAME_ONLY; // -
ASCII_NAME[46] = NAME_ONLY; // .

function isNameStartWide(c: number): boolean {
  return (c >= 0xc0 && c <= 0xd6) || (c >= 0xd8 && c <= 0xf6) || (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) || (c >= 0x37f && c <= 0x1fff) || c === 0x200c || c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) || (c >= 0x2c00 && c <= 0x2fef) || (c >= 0x3001 && c <= 0xd7ff) ||
    // Surrogates stand for U+10000..U+EFFFF (high surrogates up to DB7F), which are name characters.
    (c >= 0xd800 && c <= 0xdb7f) || (c >= 0xdc00 && c <= 0xdfff) ||
    (c >= 0xf900 && c <= 0xfdcf) || (c >= 0xfdf0 && c <= 0xfffd);
}

function isNameCharWide(c: number): boolean {
  return c === 0xb7 || (c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040 || isNameStartWide(c);
}

function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13;
}

/** Characters XML 1.0 §2.2 does not allow anywhere, not even escaped. */
const BAD_CHARS = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
const TEXT_CR = /\r\n?/g;
const ATTR_WS = /\r\n|[\t\n\r]/g;
const XML_DECL = /^[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(["'])1\.[0-9]+\1(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(["'])([A-Za-z][A-Za-z0-9._-]*)\2)?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(["'])(?:yes|no)\4)?[ \t\r\n]*$/;

function fail(condition: StreamErrorCondition, text: string): StreamError {
  return new StreamError(condition, text);
}

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/** Value of the entity reference whose name is s[from, to) (between `&` and `;`). */
function entityValue(s: string, from: number, to: number): string {
  const first = s.charCodeAt(from);
  if (first === 35 /* # */) {
    let i = from + 1;
    let cp = 0;
    if (i < to && s.charCodeAt(i) === 120 /* x */) {
      if (++i === to) throw fail('not-well-formed', 'empty character reference');
      for (; i < to; i++) {
        const c = s.charCodeAt(i);
        const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
        if (d < 0) throw fail('not-well-formed', 'bad character reference');
        cp = cp * 16 + d;
        if (cp > 0x10ffff) break;
      }
    } else {
      if (i === to) throw fail('not-well-formed', 'empty character reference');
      for (; i < to; i++) {
        const d = s.charCodeAt(i) - 48;
        if (d < 0 || d > 9) throw fail('not-well-formed', 'bad character reference');
        cp = cp * 10 + d;
        if (cp > 0x10ffff) break;
      }
    }
    if (!isXmlChar(cp)) throw fail('not-well-formed', 'character reference to a character XML does not allow');
    return String.fromCodePoint(cp);
  }
  switch (to - from) {
    case 2:
      if (first === 108 /* l */ && s.charCodeAt(from + 1) === 116) return '<';
      if (first === 103 /* g */ && s.charCodeAt(from + 1) === 116) return '>';
      break;
    case 3:
      if (s.startsWith('amp', from)) return '&';
      break;
    case 4:
      if (s.startsWith('quot', from)) return '"';
      if (s.startsWith('apos', from)) return "'";
      break;
  }
  if (isNameStart(first) && scanNameChars(s, from + 1, to) === to) {
    throw fail('restricted-xml', 'entity references other than the predefined ones are not allowed');
  }
  throw fail('not-well-formed', 'bad entity reference');
}

function isNameStart(c: number): boolean {
  return c < 128 ? ASCII_NAME[c] === NAME_START : isNameStartWide(c);
}

/** Index of the first non-name character in s[from, to). */
function scanNameChars(s: string, from: number, to: number): number {
  let i = from;
  for (; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 128 ? ASCII_NAME[c] === 0 : !isNameCharWide(c)) break;
  }
  return i;
}

/**
 * Decodes s[from, to): entity references, then line-end normalisation (`attr` false: CR LF and CR become LF)
 * or attribute-value normalisation (`attr` true: CR LF, CR, LF and TAB become a space; XML 1.0 §3.3.3).
 * `amp` is the first `&` in range or -1; `ws` says whether the range holds a character to normalise.
 */
function decode(s: string, from: number, to: number, amp: number, ws: boolean, attr: boolean): string {
  const re = attr ? ATTR_WS : TEXT_CR;
  const repl = attr ? ' ' : '\n';
  if (amp < 0) return ws ? s.slice(from, to).replace(re, repl) : s.slice(from, to);
  let out = '';
  let last = from;
  while (amp >= 0 && amp < to) {
    let semi = amp + 1;
    const stop = Math.min(to, amp + 2 + MAX_ENTITY);
    while (semi < stop && s.charCodeAt(semi) !== 59 /* ; */) semi++;
    if (semi === stop) throw fail('not-well-formed', 'unescaped & or unterminated entity reference');
    if (amp > last) out += ws ? s.slice(last, amp).replace(re, repl) : s.slice(last, amp);
    out += entityValue(s, amp + 1, semi);
    last = semi + 1;
    amp = s.indexOf('&', last);
  }
  if (last < to) out += ws ? s.slice(last, to).replace(re, repl) : s.slice(last, to);
  return out;
}

/** Where to stop consuming text or an attribute value at the end of a chunk: before a partial entity or a CR. */
function holdBack(s: string, from: number, len: number, hasAmp: boolean): number {
  if (hasAmp) {
    const amp = s.lastIndexOf('&', len - 1);
    if (amp >= from && len - amp <= MAX_ENTITY + 1 && s.indexOf(';', amp) === -1) return amp;
  }
  return len > from && s.charCodeAt(len - 1) === 13 ? len - 1 : len;
}

/**
 * s.slice(from, to) for a name, as the literal for the names nearly every stanza carries: a literal is already
 * in V8's string table, so using it as a property key (attrs[name], Object.hasOwn) costs no table lookup.
 */
function nameText(s: string, from: number, to: number): string {
  switch (to - from) {
    case 2:
      if (s.startsWith('to', from)) return 'to';
      if (s.startsWith('id', from)) return 'id';
      if (s.startsWith('iq', from)) return 'iq';
      break;
    case 4:
      if (s.startsWith('type', from)) return 'type';
      if (s.startsWith('from', from)) return 'from';
      if (s.startsWith('body', from)) return 'body';
      break;
    case 5:
      if (s.startsWith('xmlns', from)) return 'xmlns';
      break;
    case 7:
      if (s.startsWith('message', from)) return 'message';
      break;
    case 8:
      if (s.startsWith('presence', from)) return 'presence';
      if (s.startsWith('xml:lang', from)) return 'xml:lang';
      break;
  }
  return s.slice(from, to);
}

/** Stands in for the current element when none is open. */
const NO_ELEMENT = new Element('');

/** Prefix bindings in scope (no prototype); null while none is declared. */
type Prefixes = Record<string, string> | null;

/**
 * The parsing core. `stream` mode: a root (the stream header) that stays open, whose children are delivered
 * one by one. Document mode: exactly one element, read with finish().
 */
export class Tokenizer {
  private limits: Readonly<ParserLimits>;
  private state = S_PROLOG;
  /** Open elements, the root included. */
  private depth = 0;
  /** Open elements that do not count against maxDepth: the stream root. */
  private readonly base: number;
  private cur: Element;
  private rootName = '';
  /** Decoded text or attribute value gathered across writes. */
  private pending = '';
  /** Raw input held over to the next write. */
  private carry = '';
  private tagName = '';
  private tagAttrs: Attrs = {};
  private tagPrefixed = false;
  /** The start tag has an `xmlns:*` attribute. */
  private tagDeclares = false;
  // The namespaces in scope, by depth (index 0 is outside the root), kept in arrays so that opening an
  // element allocates nothing: the prefix bindings, the default namespace as declared in the input, and
  // the one an unprefixed child without `xmlns` would inherit in the parsed (rewritten) tree.
  private prefixesAt: Prefixes[] = [null];
  private defAt: (string | undefined)[] = [];
  private effAt: (string | undefined)[] = [undefined];
  /** Qualified names of the open elements by depth (end tags are matched against them). */
  private qnames: string[] = [];
  private nameColon = -1;
  private attrName = '';
  private quote = 34;
  private wsSeen = false;
  private declAllowed = true;
  private atStart = true;
  private result: Element | undefined;
  /** Bumped by reset() so a reset from inside a callback stops the scan of the old stream. */
  private gen = 0;
  // Size accounting of the current unit (stream header or top-level stanza), in UTF-8 bytes.
  private inUnit = false;
  private unitCap = 0;
  /** Bytes of the unit consumed in earlier writes. */
  private unitBytes = 0;
  /** Index in the current string where the unit (or its part in this string) begins. */
  private unitFrom = 0;
  /** First index in the current string that would take the unit past its cap, counting one byte a character. */
  private limitEnd = Infinity;

  /**
   * `documentNs`: in document mode, the default namespace the document is read in (an unprefixed root
   * without `xmlns` gets it, as a stanza gets the stream's).
   */
  constructor(private readonly sink: TreeSink, limits: ParserLimits, private readonly stream: boolean, private readonly documentNs?: string) {
    this.limits = { ...limits };
    this.base = stream ? 1 : 0;
    this.cur = NO_ELEMENT;
    this.reset();
  }

  setLimits(limits: Partial<ParserLimits>): void {
    this.limits = { ...this.limits, ...limits };
  }

  /** Reads with `limits` as they are, without a copy: for a caller that holds a complete set it does not change. */
  useLimits(limits: Readonly<ParserLimits>): void {
    this.limits = limits;
  }

  /** Forget everything; expect a new stream header (stream mode) or document. */
  reset(): void {
    this.gen++;
    this.state = S_PROLOG;
    this.depth = 0;
    this.cur = NO_ELEMENT;
    this.rootName = '';
    this.pending = '';
    this.carry = '';
    this.tagName = '';
    this.tagAttrs = {};
    this.attrName = '';
    this.defAt[0] = this.documentNs;
    this.qnames = [];
    this.declAllowed = true;
    this.atStart = true;
    this.result = undefined;
    this.inUnit = this.stream;
    this.unitCap = MAX_HEADER_BYTES;
    this.unitBytes = 0;
    this.unitFrom = 0;
    this.limitEnd = Infinity;
  }

  /** Parses decoded input. Throws StreamError; the caller must stop feeding after that. */
  feed(input: string): void {
    let s = this.carry === '' ? input : this.carry + input;
    this.carry = '';
    const bad = s.search(BAD_CHARS);
    if (bad >= 0) s = s.slice(0, bad);
    for (;;) {
      const restart = this.run(s);
      if (restart < 0) break;
      // reset() was called from a callback: what is left belongs to the new stream.
      s = s.slice(restart);
    }
    if (bad >= 0 && this.state !== S_DONE) throw fail('not-well-formed', 'character not allowed in XML');
  }

  /** Document mode: the element read, or not-well-formed if the input was not one complete element. */
  finish(): Element {
    if (this.state !== S_EPILOG || this.result === undefined) throw fail('not-well-formed', 'incomplete XML');
    return this.result;
  }

  /** Scans s; returns -1 when done, or the index to continue from if reset() was called meanwhile. */
  private run(s: string): number {
    const len = s.length;
    const gen = this.gen;
    let pos = 0;
    // Next position (at or after the scan position) of characters that need work, or len if none;
    // -1 means not searched yet. Each is searched forward only, so the scans stay linear.
    let nextAmp = -1;
    let nextLt = -1;
    let nextCr = -1;
    let nextLf = -1;
    let nextTab = -1;
    if (this.inUnit) {
      this.unitFrom = 0;
      this.limitEnd = this.unitCap - this.unitBytes;
    } else this.limitEnd = Infinity;

    main: while (pos < len) {
      switch (this.state) {
        case S_TEXT: {
          const lt = s.indexOf('<', pos);
          if ((lt < 0 ? len : lt + 1) > this.limitEnd) throw this.overCap();
          const end = lt < 0 ? len : lt;
          if (end > pos) {
            if (nextAmp < pos) { nextAmp = s.indexOf('&', pos); if (nextAmp < 0) nextAmp = len; }
            if (nextCr < pos) { nextCr = s.indexOf('\r', pos); if (nextCr < 0) nextCr = len; }
            const cut = lt < 0 ? holdBack(s, pos, len, nextAmp < len) : end;
            if (cut > pos) {
              const text = nextAmp < cut || nextCr < cut
                ? decode(s, pos, cut, nextAmp < cut ? nextAmp : -1, nextCr < cut, false)
                : s.slice(pos, cut);
              this.pending = this.pending === '' ? text : this.pending + text;
            }
            if (lt < 0) {
              this.carry = s.slice(cut);
              pos = len;
              break;
            }
          }
          pos = end + 1;
          this.state = S_LT;
          break;
        }

        case S_LT: {
          const c = s.charCodeAt(pos);
          if (c === 33 /* ! */) {
            this.declAllowed = false;
            this.state = S_BANG;
            break;
          }
          if (c === 63 /* ? */) {
            this.state = S_PI;
            break;
          }
          this.declAllowed = false;
          if (this.pending !== '') {
            this.cur.children.push(this.pending);
            this.pending = '';
          }
          if (c === 47 /* / */) {
            if (this.depth === 0) throw fail('not-well-formed', 'end tag before the root element');
            pos++;
            this.state = S_END_NAME;
          } else this.state = S_START_NAME;
          break;
        }

        case S_START_NAME: {
          const i = this.scanName(s, pos, len);
          if (i === len) {
            this.hold(s, pos);
            pos = len;
            break;
          }
          const c = s.charCodeAt(i);
          if (!isWs(c) && c !== 62 /* > */ && c !== 47 /* / */) throw fail('not-well-formed', 'bad element name');
          this.tagName = nameText(s, pos, i);
          this.tagPrefixed = this.nameColon >= 0;
          this.tagDeclares = false;
          this.tagAttrs = {};
          this.wsSeen = false;
          this.state = S_TAG;
          pos = i;
          break;
        }

        case S_TAG: {
          let c = s.charCodeAt(pos);
          if (isWs(c)) {
            const stop = this.limitEnd < len ? this.limitEnd : len;
            do pos++; while (pos < stop && isWs(s.charCodeAt(pos)));
            this.wsSeen = true;
            if (pos === len) break;
            if (pos >= stop) throw this.overCap();
            c = s.charCodeAt(pos);
          }
          if (c === 62 /* > */) {
            if (++pos > this.limitEnd) throw this.overCap();
            this.openElement(s, pos, false);
            if (this.gen !== gen) return pos;
          } else if (c === 47 /* / */) {
            pos++;
            this.state = S_SLASH;
          } else if (this.wsSeen && isNameStart(c)) {
            this.state = S_ATTR_NAME;
          } else {
            throw fail('not-well-formed', this.wsSeen ? 'bad attribute name' : 'attributes must be separated by whitespace');
          }
          break;
        }

        case S_SLASH: {
          if (s.charCodeAt(pos) !== 62 /* > */) throw fail('not-well-formed', "'/' not followed by '>'");
          if (++pos > this.limitEnd) throw this.overCap();
          this.openElement(s, pos, true);
          if (this.gen !== gen) return pos;
          break;
        }

        case S_ATTR_NAME: {
          const i = this.scanName(s, pos, len);
          if (i === len) {
            this.hold(s, pos);
            pos = len;
            break;
          }
          const c = s.charCodeAt(i);
          this.attrName = nameText(s, pos, i);
          if (c === 61 /* = */) {
            pos = i + 1;
            this.state = S_ATTR_QUOTE;
          } else if (isWs(c)) {
            pos = i;
            this.state = S_ATTR_EQ;
          } else throw fail('not-well-formed', 'bad attribute name');
          break;
        }

        case S_ATTR_EQ:
        case S_ATTR_QUOTE: {
          let c = s.charCodeAt(pos);
          if (isWs(c)) {
            const stop = this.limitEnd < len ? this.limitEnd : len;
            do pos++; while (pos < stop && isWs(s.charCodeAt(pos)));
            if (pos === len) break;
            if (pos >= stop) throw this.overCap();
            c = s.charCodeAt(pos);
          }
          if (this.state === S_ATTR_EQ) {
            if (c !== 61 /* = */) throw fail('not-well-formed', "attribute name not followed by '='");
            this.state = S_ATTR_QUOTE;
          } else {
            if (c !== 34 /* " */ && c !== 39 /* ' */) throw fail('not-well-formed', 'attribute value without quotes');
            this.quote = c;
            this.state = S_ATTR_VALUE;
          }
          pos++;
          break;
        }

        case S_ATTR_VALUE: {
          const q = s.indexOf(this.quote === 34 ? '"' : "'", pos);
          if ((q < 0 ? len : q + 1) > this.limitEnd) throw this.overCap();
          const end = q < 0 ? len : q;
          if (nextLt < pos) { nextLt = s.indexOf('<', pos); if (nextLt < 0) nextLt = len; }
          if (nextLt < end) {
            // An error earlier in the value comes first, as it would if the value had been cut before the '<'.
            const amp = s.indexOf('&', pos);
            if (amp >= 0 && amp < nextLt) decode(s, pos, nextLt, amp, false, true);
            throw fail('not-well-formed', "'<' in an attribute value");
          }
          let value = '';
          let cut = end;
          if (end > pos) {
            if (nextAmp < pos) { nextAmp = s.indexOf('&', pos); if (nextAmp < 0) nextAmp = len; }
            if (nextCr < pos) { nextCr = s.indexOf('\r', pos); if (nextCr < 0) nextCr = len; }
            if (nextLf < pos) { nextLf = s.indexOf('\n', pos); if (nextLf < 0) nextLf = len; }
            if (nextTab < pos) { nextTab = s.indexOf('\t', pos); if (nextTab < 0) nextTab = len; }
            if (q < 0) cut = holdBack(s, pos, len, nextAmp < len);
            const ws = nextCr < cut || nextLf < cut || nextTab < cut;
            value = nextAmp < cut || ws ? decode(s, pos, cut, nextAmp < cut ? nextAmp : -1, ws, true) : s.slice(pos, cut);
          }
          if (q < 0) {
            this.pending += value;
            this.carry = s.slice(cut);
            pos = len;
            break;
          }
          if (this.pending !== '') {
            value = this.pending + value;
            this.pending = '';
          }
          const attrs = this.tagAttrs;
          const name = this.attrName;
          if (Object.hasOwn(attrs, name)) throw fail('not-well-formed', `duplicate attribute ${name}`);
          if (name === '__proto__') Object.defineProperty(attrs, name, { value, enumerable: true, writable: true, configurable: true });
          else attrs[name] = value;
          if (name.length > 6 && name.charCodeAt(5) === 58 /* : */ && name.startsWith('xmlns')) this.tagDeclares = true;
          pos = q + 1;
          this.wsSeen = false;
          this.state = S_TAG;
          break;
        }

        case S_END_NAME: {
          const i = this.scanName(s, pos, len);
          if (i === len) {
            this.hold(s, pos);
            pos = len;
            break;
          }
          const expected = this.depth === this.base && this.stream ? this.rootName : this.qnames[this.depth] ?? '';
          if (i - pos !== expected.length || !s.startsWith(expected, pos)) {
            throw fail('not-well-formed', `end tag does not match <${expected}>`);
          }
          pos = i;
          this.state = S_END_TAIL;
          break;
        }

        case S_END_TAIL: {
          let c = s.charCodeAt(pos);
          if (isWs(c)) {
            const stop = this.limitEnd < len ? this.limitEnd : len;
            do pos++; while (pos < stop && isWs(s.charCodeAt(pos)));
            if (pos === len) break;
            if (pos >= stop) throw this.overCap();
            c = s.charCodeAt(pos);
          }
          if (c !== 62 /* > */) throw fail('not-well-formed', 'bad end tag');
          if (++pos > this.limitEnd) throw this.overCap();
          this.closeElement(s, pos);
          if (this.gen !== gen) return pos;
          break;
        }

        case S_BANG: {
          // s[pos] is '!'.
          if (pos + 1 === len) {
            this.hold(s, pos);
            pos = len;
            break;
          }
          const c = s.charCodeAt(pos + 1);
          if (c === 45 /* - */) throw fail('restricted-xml', 'comments are not allowed');
          if (c >= 65 && c <= 90) throw fail('restricted-xml', 'DTDs and markup declarations are not allowed');
          if (c !== 91 /* [ */) throw fail('not-well-formed', "bad '<!' markup");
          if (len - pos < 8) {
            if (!'![CDATA['.startsWith(s.slice(pos))) throw fail('not-well-formed', "bad '<![' markup");
            this.hold(s, pos);
            pos = len;
            break;
          }
          if (!s.startsWith('![CDATA[', pos)) throw fail('not-well-formed', "bad '<![' markup");
          if (this.depth <= this.base) throw fail('not-well-formed', 'CDATA outside an element');
          pos += 8;
          this.state = S_CDATA;
          break;
        }

        case S_CDATA: {
          const e = s.indexOf(']]>', pos);
          if ((e < 0 ? len : e + 3) > this.limitEnd) throw this.overCap();
          let cut = e;
          if (e < 0) {
            // Keep back what may be the start of ']]>' or half of CR LF.
            cut = len;
            for (let k = 0; k < 2 && cut > pos; k++) {
              const c = s.charCodeAt(cut - 1);
              if (c !== 93 /* ] */ && c !== 13) break;
              cut--;
            }
          }
          if (cut > pos) {
            if (nextCr < pos) { nextCr = s.indexOf('\r', pos); if (nextCr < 0) nextCr = len; }
            const text = nextCr < cut ? s.slice(pos, cut).replace(TEXT_CR, '\n') : s.slice(pos, cut);
            this.pending = this.pending === '' ? text : this.pending + text;
          }
          if (e < 0) {
            this.carry = s.slice(cut);
            pos = len;
            break;
          }
          pos = e + 3;
          this.state = S_TEXT;
          break;
        }

        case S_PI: {
          // s[pos] is '?'. Only `<?xml ...?>` before the root is allowed; it must be complete to be read.
          const avail = len - pos;
          if (!this.declAllowed || !'?xml'.startsWith(s.slice(pos, pos + 4))) {
            throw fail('restricted-xml', 'processing instructions are not allowed');
          }
          if (avail < 5) {
            this.hold(s, pos);
            pos = len;
            break;
          }
          if (!isWs(s.charCodeAt(pos + 4))) throw fail('restricted-xml', 'processing instructions are not allowed');
          const e = s.indexOf('?>', pos + 4);
          if (e < 0) {
            this.hold(s, pos);
            pos = len;
            break;
          }
          if (e + 2 > this.limitEnd) throw this.overCap();
          this.readDeclaration(s.slice(pos + 4, e));
          this.declAllowed = false;
          pos = e + 2;
          this.state = S_PROLOG;
          break;
        }

        case S_TOP:
        case S_PROLOG:
        case S_EPILOG: {
          let c = s.charCodeAt(pos);
          if (this.atStart) {
            this.atStart = false;
            if (c === 0xfeff) { // a byte order mark may open the stream
              if (++pos === len) break;
              c = s.charCodeAt(pos);
            }
          }
          if (isWs(c)) {
            const stop = this.limitEnd < len ? this.limitEnd : len;
            do pos++; while (pos < stop && isWs(s.charCodeAt(pos)));
            if (pos === len) break;
            if (pos >= stop) throw this.overCap();
            c = s.charCodeAt(pos);
          }
          if (c !== 60 /* < */ || this.state === S_EPILOG) {
            throw fail('not-well-formed', this.state === S_TOP ? 'text outside stanzas'
              : this.state === S_PROLOG ? 'unexpected data before the root element' : 'data after the root element');
          }
          if (this.state === S_TOP) this.startUnit(pos, this.limits.maxStanzaBytes);
          if (++pos > this.limitEnd) throw this.overCap();
          this.state = S_LT;
          break;
        }

        case S_DONE:
          break main;

        default:
          throw fail('internal-server-error', 'parser state');
      }
    }

    if (this.inUnit) {
      const end = len - this.carry.length;
      if (end > this.unitFrom) this.unitBytes += Buffer.byteLength(s.slice(this.unitFrom, end), 'utf8');
      if (this.unitBytes + this.carry.length > this.unitCap) throw this.overCap();
    }
    if (this.carry.length > MAX_CARRY) throw fail('policy-violation', 'token too long');
    return -1;
  }

  /** Scans a name from pos; returns the index after it (len if it may go on). Records its colon in nameColon. */
  private scanName(s: string, pos: number, len: number): number {
    const first = s.charCodeAt(pos);
    if (first === 58 /* : */ || !isNameStart(first)) throw fail('not-well-formed', 'bad name');
    const stop = len < pos + MAX_NAME_CHARS + 1 ? len : pos + MAX_NAME_CHARS + 1;
    let colon = -1;
    let i = pos + 1;
    for (; i < stop; i++) {
      const c = s.charCodeAt(i);
      if (c < 128) {
        if (ASCII_NAME[c] === 0) break;
        if (c === 58) {
          // Namespaces in XML: one colon at most, neither first nor last.
          if (colon >= 0) throw fail('not-well-formed', 'bad qualified name');
          colon = i;
        }
      } else if (!isNameCharWide(c)) break;
    }
    if (i - pos > MAX_NAME_CHARS) throw fail('policy-violation', 'name too long');
    if (i === len) return len;
    if (colon === i - 1) throw fail('not-well-formed', 'bad qualified name');
    this.nameColon = colon;
    return i;
  }

  private hold(s: string, from: number): void {
    this.carry = s.slice(from);
  }

  private startUnit(at: number, cap: number): void {
    this.inUnit = true;
    this.unitCap = cap;
    this.unitBytes = 0;
    this.unitFrom = at;
    this.limitEnd = at + cap;
  }

  /**
   * The unit ends at s[end - 1]: check its exact size, which only needs counting when it may be over. Returns
   * its size counting a character a byte (exact for ASCII, a lower bound otherwise).
   */
  private endUnit(s: string, end: number): number {
    const chars = end - this.unitFrom;
    if (this.unitBytes + chars * 3 > this.unitCap &&
      this.unitBytes + Buffer.byteLength(s.slice(this.unitFrom, end), 'utf8') > this.unitCap) {
      throw this.overCap();
    }
    this.inUnit = false;
    this.limitEnd = Infinity;
    return this.unitBytes + chars;
  }

  private overCap(): StreamError {
    return fail('policy-violation', this.depth === 0 && this.stream ? 'stream header too large' : 'stanza too large');
  }

  private readDeclaration(body: string): void {
    const m = XML_DECL.exec(body);
    if (!m) throw fail('not-well-formed', 'bad XML declaration');
    const encoding = m[3];
    if (encoding !== undefined && encoding.toLowerCase() !== 'utf-8') {
      throw fail('unsupported-encoding', 'XMPP streams are UTF-8');
    }
  }

  private openElement(s: string, end: number, selfClosing: boolean): void {
    const name = this.tagName;
    const attrs = this.tagAttrs;
    if (this.depth === 0 && this.stream) {
      this.rootName = name;
      this.endUnit(s, end);
      this.depth = 1;
      // Stanzas are read in the header's namespaces; a stanza on its own names its namespace itself.
      this.prefixesAt[1] = this.tagDeclares ? this.declaredPrefixes(null, attrs) : null;
      this.defAt[1] = attrs.xmlns;
      this.effAt[1] = undefined;
      this.state = S_TOP;
      this.sink.onStreamStart(name, attrs);
      if (selfClosing) this.closeElement(s, end);
      return;
    }
    if (++this.depth - this.base > this.limits.maxDepth) throw fail('policy-violation', 'XML nested too deeply');
    this.qnames[this.depth] = name;
    const el = new Element(this.resolve(name, attrs));
    el.attrs = attrs;
    if (this.depth - this.base !== 1) {
      this.cur.children.push(el);
      el.parent = this.cur;
    }
    this.cur = el;
    if (selfClosing) this.closeElement(s, end);
    else this.state = S_TEXT;
  }

  /** Prefix bindings after the `xmlns:*` attributes of a start tag (a copy when it declares any). */
  private declaredPrefixes(prefixes: Record<string, string> | null, attrs: Attrs): Record<string, string> | null {
    let out = prefixes;
    for (const key in attrs) {
      if (key.length <= 6 || !key.startsWith('xmlns:')) continue;
      const value = attrs[key] ?? '';
      // Namespaces in XML 1.0 §3: a prefix cannot be undeclared, and xmlns/xml cannot be rebound.
      const prefix = key.slice(6);
      if (value === '' || prefix === 'xmlns' || (prefix === 'xml') !== (value === NS.xml)) throw fail('not-well-formed', `bad namespace declaration ${key}`);
      if (out === prefixes) out = Object.assign(Object.create(null) as Record<string, string>, prefixes);
      (out as Record<string, string>)[prefix] = value;
    }
    return out;
  }

  /**
   * Resolves the namespace of the element opening at this.depth: records its scope, gives it `xmlns` where
   * its namespace is not the one its parent implies, and returns its name without prefix.
   */
  private resolve(qname: string, attrs: Attrs): string {
    const d = this.depth;
    const parentEff = this.effAt[d - 1];
    let prefixes = this.prefixesAt[d - 1] ?? null;
    if (this.tagDeclares) prefixes = this.declaredPrefixes(prefixes, attrs);
    const def = attrs.xmlns !== undefined ? attrs.xmlns : this.defAt[d - 1];
    let name = qname;
    let eff: string | undefined;
    if (this.tagPrefixed) {
      const colon = qname.indexOf(':');
      const prefix = qname.slice(0, colon);
      const ns = prefix === 'xml' ? NS.xml : prefixes?.[prefix];
      if (ns === undefined) throw fail('not-well-formed', `namespace prefix ${prefix} is not declared`);
      if (ns === NS.stream) {
        name = `stream:${qname.slice(colon + 1)}`;
        eff = parentEff;
      } else {
        name = qname.slice(colon + 1);
        attrs.xmlns = ns;
        eff = ns;
      }
    } else {
      if (def !== parentEff) attrs.xmlns = def ?? '';
      eff = def;
    }
    this.prefixesAt[d] = prefixes;
    this.defAt[d] = def;
    this.effAt[d] = eff;
    return name;
  }

  private closeElement(s: string, end: number): void {
    if (this.depth === 1 && this.stream) {
      this.depth = 0;
      this.inUnit = false;
      this.limitEnd = Infinity;
      this.state = S_DONE;
      this.sink.onStreamEnd();
      return;
    }
    const el = this.cur;
    if (--this.depth === this.base) {
      this.cur = NO_ELEMENT;
      if (this.stream) {
        const size = this.endUnit(s, end);
        this.state = S_TOP;
        this.sink.onElement(el, size);
      } else {
        this.state = S_EPILOG;
        this.result = el;
      }
    } else {
      this.cur = el.parent ?? el;
      this.state = S_TEXT;
    }
  }
}
