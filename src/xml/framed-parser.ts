// RFC 7395 §3.3 framing: every WebSocket text message is exactly one complete element, parsed as a
// standalone document (`<open/>`, `<close/>`, or a stanza with its namespace declarations).
import { Buffer } from 'node:buffer';
import { StreamError } from '../errors.js';
import type { Element } from './element.js';
import { NS } from './ns.js';
import type { ParserLimits } from './parser.js';
import { Tokenizer, type TreeSink } from './tokenizer.js';

const ignore: TreeSink = { onStreamStart() {}, onElement() {}, onStreamEnd() {} };
let shared: Tokenizer | undefined;

/**
 * Parses one frame. Throws StreamError: `policy-violation` over maxStanzaBytes (UTF-8 bytes) or maxDepth,
 * `restricted-xml` for comments, processing instructions, DTDs and unknown entities, `not-well-formed` for
 * broken XML, a second root element or trailing text. Whitespace around the element and an XML declaration
 * are tolerated. An unprefixed root without `xmlns` is read in `jabber:client` (Tsung sends such stanzas); prefixes are
 * resolved as in the stream parser (tokenizer.ts).
 */
export function parseFrame(text: string, limits: ParserLimits): Element {
  const cap = limits.maxStanzaBytes;
  // A character is 1 to 3 UTF-8 bytes per UTF-16 unit; count exactly only when the bounds disagree.
  if (text.length > cap || (text.length * 3 > cap && Buffer.byteLength(text, 'utf8') > cap)) {
    throw new StreamError('policy-violation', 'stanza too large');
  }
  // Parsing calls no outside code, so one tokenizer serves every frame.
  const core = shared ??= new Tokenizer(ignore, limits, false, NS.client);
  core.reset();
  // Each connection's limits object is replaced, never changed in place, when a limit changes.
  core.useLimits(limits);
  core.feed(text);
  return core.finish();
}
