// The BOSH <body/> wrapper (XEP-0124 §6, XEP-0206 §2): reading request bodies and writing response bodies.
// A request body is one XML document parsed with the RFC 7395 frame parser, so the same hardening applies
// (size and depth caps, no comments, PIs, DTDs or foreign entities); its children are the payloads.
import { StreamError } from '../errors.js';
import { escapeAttr, type Element } from '../xml/element.js';
import { parseFrame } from '../xml/framed-parser.js';
import { NS } from '../xml/ns.js';
import type { ParserLimits } from '../xml/parser.js';
import { Tokenizer, type TreeSink } from '../xml/tokenizer.js';

/** XEP-0124 §17.2 terminal binding conditions this server sends. */
export type BindingCondition =
  | 'bad-request' | 'host-unknown' | 'improper-addressing' | 'internal-server-error' | 'item-not-found'
  | 'policy-violation' | 'remote-stream-error' | 'system-shutdown' | 'undefined-condition';

/** A request the server refuses with a terminal binding condition (XEP-0124 §17.2). */
export class BoshError extends Error {
  constructor(readonly condition: BindingCondition, text: string) {
    super(`${condition}: ${text}`);
    this.name = 'BoshError';
  }
}

/** XEP-0124 §17.1: what a legacy client (no 'ver' in its session request) gets instead of a binding condition. */
export const LEGACY_STATUS: Partial<Record<BindingCondition, number>> = { 'bad-request': 400, 'policy-violation': 403, 'item-not-found': 404 };

/** The largest 'rid' XEP-0124 §14.1 allows (2^53 - 1). */
const MAX_RID = Number.MAX_SAFE_INTEGER;
const RID = /^[1-9][0-9]{0,15}$/;
const UNSIGNED = /^(?:0|[1-9][0-9]{0,8})$/;

/** A positive integer 'rid' (XEP-0124 §14.1), or undefined when missing or malformed. */
export function parseRid(value: string | undefined): number | undefined {
  if (value === undefined || !RID.test(value)) return undefined;
  const rid = Number(value);
  return rid <= MAX_RID ? rid : undefined;
}

/** A non-negative integer attribute (wait, hold, pause, ack): the number, `fallback` if absent, NaN if malformed. */
export function parseUnsigned(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  return UNSIGNED.test(value) ? Number(value) : NaN;
}

/** An xs:boolean attribute. */
export function isTrue(value: string | undefined): boolean {
  return value === 'true' || value === '1';
}

/**
 * An attribute in the urn:xmpp:xbosh namespace (XEP-0206 §3, §5), whatever prefix the client bound to it.
 * Clients write `xmpp:`, but the prefix is theirs to choose.
 */
export function xboshAttr(attrs: Record<string, string>, local: string): string | undefined {
  const usual = attrs[`xmpp:${local}`];
  if (usual !== undefined && attrs['xmlns:xmpp'] === NS.xbosh) return usual;
  for (const key in attrs) {
    if (key.startsWith('xmlns:') && attrs[key] === NS.xbosh) return attrs[`${key.slice(6)}:${local}`];
  }
  return undefined;
}

export interface RequestBody {
  attrs: Record<string, string>;
  /** The payloads, namespaced: unqualified or httpbind-qualified children are jabber:client (XEP-0206 §2 note). */
  payloads: Element[];
  /** The body's length in characters, shared out over the payloads for the backlog cap (limits.max_backlog_bytes). */
  size: number;
}

/**
 * Parses an HTTP request body; `limits.maxStanzaBytes` caps the whole body. Throws BoshError: bad-request for
 * XML that is malformed, not a <body/> in the httpbind namespace, or has character data; policy-violation for
 * size or depth. Each payload's size against the stream's stanza cap is the session's to check.
 */
export function parseRequestBody(text: string, limits: ParserLimits): RequestBody {
  let body: Element;
  try {
    body = parseFrame(text, limits);
  } catch (err) {
    if (err instanceof StreamError) throw new BoshError(err.condition === 'policy-violation' ? 'policy-violation' : 'bad-request', err.text ?? err.condition);
    throw err;
  }
  if (body.name !== 'body' || body.attrs.xmlns !== NS.httpbind) throw new BoshError('bad-request', `the root must be <body xmlns='${NS.httpbind}'/>`);
  const payloads: Element[] = [];
  for (const child of body.children) {
    if (typeof child === 'string') {
      if (child.trim() !== '') throw new BoshError('bad-request', '<body/> must not contain character data (XEP-0124 §6)');
      continue;
    }
    const ns = child.attrs.xmlns;
    if ((ns === undefined && !child.name.includes(':')) || ns === NS.httpbind) child.attrs.xmlns = NS.client;
    child.parent = null;
    payloads.push(child);
  }
  return { attrs: body.attrs, payloads, size: text.length };
}

let startTagAttrs: Record<string, string> | undefined;
const startTagSink: TreeSink = {
  onStreamStart(_name, attrs) {
    startTagAttrs = attrs;
  },
  onElement() {},
  onStreamEnd() {},
};
let startTagReader: Tokenizer | undefined;

/**
 * The attributes of the <body> start tag at the head of a body that could not be parsed whole (too large or
 * malformed), so the session it names can be terminated; undefined if even the start tag is unreadable.
 */
export function readStartTag(head: string): Record<string, string> | undefined {
  const reader = (startTagReader ??= new Tokenizer(startTagSink, { maxStanzaBytes: 1024, maxDepth: 1 }, true));
  reader.reset();
  startTagAttrs = undefined;
  try {
    reader.feed(head.length > 8192 ? head.slice(0, 8192) : head);
  } catch {
    // Whatever follows the start tag is not our concern here.
  }
  const attrs = startTagAttrs;
  startTagAttrs = undefined;
  return attrs;
}

/** Serialises attributes for a response <body/> start tag: ` name='value'`. */
export function attr(name: string, value: string | number): string {
  return ` ${name}='${typeof value === 'number' ? value : escapeAttr(value)}'`;
}

const BODY_OPEN = `<body xmlns='${NS.httpbind}'`;
const STREAM_PREFIX = ` xmlns:stream='${NS.stream}'`;

/** A response <body/> with pre-serialised attributes and payloads (which may use the stream: prefix). */
export function responseBody(attrs: string, payload: string): string {
  if (payload === '') return `${BODY_OPEN}${attrs}/>`;
  return `${BODY_OPEN}${attrs}${STREAM_PREFIX}>${payload}</body>`;
}

/** A terminal binding error (XEP-0124 §17.2). */
export function terminateBody(condition: BindingCondition | undefined, payload = ''): string {
  return responseBody(condition ? ` type='terminate'${attr('condition', condition)}` : ` type='terminate'`, payload);
}

/** XEP-0124 §17.3: the request was superseded by a copy with the same rid; the client resends. */
export const RECOVERABLE_ERROR = responseBody(` type='error'`, '');
export const EMPTY_BODY = responseBody('', '');
