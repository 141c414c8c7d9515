// The wire form of a bus message: one line of compact JSON (the header), and for a stanza a newline
// and the serialised stanza. Serialised once per publish, whatever the number of targets. What
// arrives is checked field by field before it is trusted.
import { Element, parseElement } from '../xml/element.js';
import type { BusMessage, Sequenced } from './bus.js';

export function encodeMessage(message: BusMessage): string {
  if (message.kind === 'ack') return JSON.stringify({ k: 'ack', o: message.origin, bt: message.boot, a: message.upTo });
  if (message.kind === 'close') return JSON.stringify({ k: 'close', o: message.origin, j: message.jid, s: message.sid, ...(message.id !== undefined ? { i: message.id } : {}), ...sequence(message) });
  if (message.kind === 'call') {
    const header = { k: 'call', o: message.origin, t: message.topic, c: message.call, r: message.reply ? 1 : 0, ...(message.id !== undefined ? { i: message.id } : {}), ...sequence(message) };
    return `${JSON.stringify(header)}\n${JSON.stringify(message.body ?? null)}`;
  }
  const header: Record<string, unknown> = { k: 'stanza', o: message.origin, m: message.mode, f: message.from, h: message.hops };
  if (message.id !== undefined) header.i = message.id;
  if (message.seq !== undefined) Object.assign(header, sequence(message));
  if (message.targets.length > 0) header.t = message.targets;
  if (message.flag !== undefined) header.fl = message.flag;
  if (message.readdress) header.ra = 1;
  if (message.fallback) header.fb = 1;
  return `${JSON.stringify(header)}\n${message.stanza.toString()}`;
}

function sequence(message: Sequenced): Record<string, unknown> {
  return message.seq === undefined ? {} : { bt: message.boot, sq: message.seq, bs: message.base };
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** The sequence fields of a header: none, all three valid, or a reason. */
function readSequence(h: Record<string, unknown>): Sequenced | string {
  if (h.sq === undefined) return {};
  if (typeof h.bt !== 'string' || !isCount(h.sq) || !isCount(h.bs) || h.bs > h.sq) return 'bad sequence';
  return { boot: h.bt, seq: h.sq, base: h.bs };
}

/** The message, or a reason it is not one. */
export function decodeMessage(payload: string): BusMessage | string {
  const newline = payload.indexOf('\n');
  let header: unknown;
  try {
    header = JSON.parse(newline === -1 ? payload : payload.slice(0, newline));
  } catch {
    return 'header is not JSON';
  }
  if (typeof header !== 'object' || header === null) return 'header is not an object';
  const h = header as Record<string, unknown>;
  if (typeof h.o !== 'string') return 'no origin';
  if (h.k === 'ack') {
    if (typeof h.bt !== 'string' || !isCount(h.a)) return 'bad ack';
    return { kind: 'ack', origin: h.o, boot: h.bt, upTo: h.a };
  }
  if (h.i !== undefined && typeof h.i !== 'string') return 'bad id';
  const id = typeof h.i === 'string' ? { id: h.i } : {};
  const seq = readSequence(h);
  if (typeof seq === 'string') return seq;
  if (h.k === 'close') {
    if (typeof h.j !== 'string' || typeof h.s !== 'string') return 'close without jid or sid';
    return { kind: 'close', origin: h.o, ...id, ...seq, jid: h.j, sid: h.s };
  }
  if (h.k === 'call') {
    if (typeof h.t !== 'string' || typeof h.c !== 'string' || (h.r !== 0 && h.r !== 1)) return 'call without topic, id or direction';
    if (newline === -1) return 'call without body';
    let body: unknown;
    try {
      body = JSON.parse(payload.slice(newline + 1));
    } catch {
      return 'call body is not JSON';
    }
    return { kind: 'call', origin: h.o, ...id, ...seq, topic: h.t, call: h.c, reply: h.r === 1, body };
  }
  if (h.k !== 'stanza') return `unknown kind ${String(h.k)}`;
  if (h.m !== 'route' && h.m !== 'deliver') return 'unknown mode';
  if (typeof h.f !== 'string' || typeof h.h !== 'number' || !Number.isInteger(h.h) || h.h < 0) return 'bad from or hops';
  const targets = h.t ?? [];
  if (!Array.isArray(targets) || !targets.every((t): t is string => typeof t === 'string')) return 'bad targets';
  if (h.fl !== undefined && typeof h.fl !== 'string') return 'bad flag';
  if (newline === -1) return 'no stanza';
  let stanza: Element;
  try {
    stanza = parseElement(payload.slice(newline + 1));
  } catch (err) {
    return `stanza is not XML: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (!(stanza instanceof Element)) return 'stanza is not an element';
  return {
    kind: 'stanza',
    origin: h.o,
    ...id,
    ...seq,
    mode: h.m,
    from: h.f,
    hops: h.h,
    targets,
    ...(typeof h.fl === 'string' ? { flag: h.fl } : {}),
    ...(h.ra === 1 ? { readdress: true } : {}),
    ...(h.fb === 1 ? { fallback: true } : {}),
    stanza,
  };
}
