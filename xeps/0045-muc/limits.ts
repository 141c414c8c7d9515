// XEP-0045 limits: the per-occupant message rate (§7.4 "service-level policies"; refused with policy-violation),
// the discussion history a room keeps (§7.2.13) bounded by message count and characters, and the selection of
// history an entering occupant asks for with <history/> (§7.2.14).
import type { Element } from '../../src/xml/element.js';

/** A token bucket: `rate` tokens a second, holding at most `burst`. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly rate: number, private readonly burst: number, now = Date.now()) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token; false when none is left. */
  take(now = Date.now()): boolean {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export interface HistoryEntry {
  /** The message as reflected, with its <delay/> (§7.2.13) and without 'to'. */
  readonly stanza: Element;
  /** When it was sent, ms since epoch. */
  readonly at: number;
  /** Characters of the serialised stanza, for maxchars (§7.2.14). */
  readonly chars: number;
}

/** §7.2.14: what the entering occupant asked for; undefined means no limit from the client. */
export interface HistoryRequest {
  maxChars?: number;
  maxStanzas?: number;
  /** Only messages at or after this time, ms since epoch (from 'seconds' or 'since'). */
  notBefore?: number;
}

const DIGITS = /^\d{1,15}$/;
// XEP-0082 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Reads <history/>. A malformed attribute is ignored rather than refused: the spec gives no error for it,
 * and the occupant still gets the room's default amount of history.
 */
export function parseHistoryRequest(history: Element | undefined, now = Date.now()): HistoryRequest {
  const request: HistoryRequest = {};
  if (history === undefined) return request;
  const { maxchars, maxstanzas, seconds, since } = history.attrs;
  if (maxchars !== undefined && DIGITS.test(maxchars)) request.maxChars = Number(maxchars);
  if (maxstanzas !== undefined && DIGITS.test(maxstanzas)) request.maxStanzas = Number(maxstanzas);
  const bounds: number[] = [];
  if (seconds !== undefined && DIGITS.test(seconds)) bounds.push(now - Number(seconds) * 1000);
  if (since !== undefined && DATETIME.test(since) && Number.isFinite(Date.parse(since))) bounds.push(Date.parse(since));
  // "the smallest amount of traffic that meets any combination of the above criteria"
  if (bounds.length > 0) request.notBefore = Math.max(...bounds);
  return request;
}

/** A room's recent messages, oldest first, bounded by count and by total characters. */
export class History {
  /** Slots before `head` are emptied as messages drop out, so a dropped stanza is not kept until the next trim. */
  private entries: Array<HistoryEntry | undefined> = [];
  private head = 0;
  private chars = 0;

  constructor(private readonly maxStanzas: number, private readonly maxChars: number) {}

  get size(): number {
    return this.entries.length - this.head;
  }

  push(entry: HistoryEntry): void {
    if (this.maxStanzas === 0 || entry.chars > this.maxChars) return;
    this.entries.push(entry);
    this.chars += entry.chars;
    while (this.size > this.maxStanzas || this.chars > this.maxChars) {
      const dropped = this.entries[this.head];
      if (dropped === undefined) break;
      this.chars -= dropped.chars;
      this.entries[this.head] = undefined;
      this.head++;
    }
    // Drop the consumed prefix now and then instead of shifting on every push.
    if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  clear(): void {
    this.entries = [];
    this.head = 0;
    this.chars = 0;
  }

  /** The newest messages that meet every criterion, in the order they were sent; `cap` is the room's limit. */
  select(request: HistoryRequest, cap: number): HistoryEntry[] {
    const maxStanzas = Math.min(cap, request.maxStanzas ?? cap);
    const maxChars = request.maxChars ?? Number.POSITIVE_INFINITY;
    const picked: HistoryEntry[] = [];
    let chars = 0;
    for (let i = this.entries.length - 1; i >= this.head && picked.length < maxStanzas; i--) {
      const entry = this.entries[i];
      if (entry === undefined) break;
      if (request.notBefore !== undefined && entry.at < request.notBefore) break;
      // Whole stanzas only: the largest number whose characters fit (§7.2.14).
      if (chars + entry.chars > maxChars) break;
      chars += entry.chars;
      picked.push(entry);
    }
    return picked.reverse();
  }
}
