// XEP-0198 §4: the server's side of acknowledgements. The output stage at the wire end of a session's
// pipeline: it counts every stanza written to the client and keeps it until an <a h/> covers it.
import type { Outbound, OutputStage } from '../../src/modules/api.js';
import { Element, parseElement, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { COUNTER_MODULUS, advance, distance } from './counter.js';

/** Nearest the wire (src/sessions/output.ts): what it counts is what the client receives. */
export const SM_STAGE_POSITION = 900;

export interface Unacked {
  readonly stanza: Outbound;
  /** The element's 'to' when it went out: modules readdress one element for several recipients (a MUC broadcast). */
  readonly to: string | undefined;
  /** When it first went out (ms), for the <delay/> stamp of a copy sent again. */
  readonly at: number;
}

export interface UnackedQueueOptions {
  /** max_unacked. */
  limit: number;
  /** The counter's first value (0; tests start near 2^32 to cross the wrap). */
  startAt?: number;
  /** Called (synchronously, inside a delivery) when the queue passed its limit. */
  overflow(): void;
  /** Called after each stanza is queued, with the number unacknowledged. */
  queued(unacked: number): void;
}

/** What crosses to another node: the last 'h' and the unacknowledged stanzas, oldest first, with when each first went out. */
export interface QueueState {
  readonly acked: number;
  readonly items: readonly { readonly stanza: string; readonly at: number }[];
}

const serialise = (stanza: Outbound): string => (typeof stanza === 'string' ? stanza : stanza.toString());

export class UnackedQueue implements OutputStage {
  readonly position = SM_STAGE_POSITION;
  readonly keepsUntilAcknowledged = true;
  /** Stanzas sent since <enabled/>, mod 2^32. */
  sent: number;
  /** The last 'h' the client acknowledged. */
  acked: number;
  private items: Unacked[] = [];

  constructor(private readonly options: UnackedQueueOptions) {
    this.sent = this.acked = options.startAt ?? 0;
  }

  get unacked(): number {
    return this.items.length;
  }

  get limit(): number {
    return this.options.limit;
  }

  send(stanza: Outbound, next: (stanza: Outbound) => void): void {
    // Copying the element here would cost more than the rest of its way out (attribute objects that had a key
    // deleted are slow to copy); its 'to' is what others change, so that is what is kept (as sent: restore()).
    this.items.push({ stanza, to: typeof stanza === 'string' ? undefined : stanza.attrs.to, at: Date.now() });
    this.sent = advance(this.sent);
    next(stanza);
    if (this.items.length > this.options.limit) this.options.overflow();
    else this.options.queued(this.items.length);
  }

  /**
   * `h` counts more stanzas than were sent. Compared as serial numbers (RFC 1982): an `h` up to 2^31 behind
   * the last one is an old acknowledgement, not one far ahead.
   */
  tooHigh(h: number): boolean {
    const ahead = distance(this.acked, h);
    return ahead > this.items.length && ahead < COUNTER_MODULUS / 2;
  }

  /** Drops what `h` acknowledges; false (and nothing dropped) when `h` counts more than was sent. An old `h` changes nothing. */
  acknowledge(h: number): boolean {
    if (this.tooHigh(h)) return false;
    const count = distance(this.acked, h);
    if (count > this.items.length) return true;
    this.items.splice(0, count);
    this.acked = h;
    return true;
  }

  /** The unacknowledged stanzas, oldest first. */
  pending(): readonly Unacked[] {
    return this.items;
  }

  /** The queue as another node takes it over (handover.ts): the last 'h' and what is unacknowledged, serialised. */
  exportState(): QueueState {
    return { acked: this.acked, items: this.items.map((item) => ({ stanza: serialise(restore(item)), at: item.at })) };
  }

  /** Takes over a queue another node exported: the counters go on from where they were there. */
  importState(state: QueueState): void {
    this.acked = state.acked;
    this.items = state.items.map((item) => ({ stanza: item.stanza, to: undefined, at: item.at }));
    this.sent = advance(state.acked, state.items.length);
  }

  release(): Outbound[] {
    const held = this.items.map(restore);
    this.items = [];
    return held;
  }
}

/** The stanza as it went out: an element readdressed since is copied with the 'to' it had (children shared). */
export function restore(item: Unacked): Outbound {
  const { stanza } = item;
  if (typeof stanza === 'string' || stanza.attrs.to === item.to) return stanza;
  const attrs = { ...stanza.attrs };
  if (item.to === undefined) delete attrs.to;
  else attrs.to = item.to;
  const copy = new Element(stanza.name, attrs);
  copy.children = stanza.children;
  return copy;
}

/**
 * A stanza sent again after resumption (XEP-0198 §5), with a XEP-0203 <delay/> stamped with the time it first
 * went out: messages and presence only (an iq has no place for one), and not over a stamp it already has.
 */
export function resent(item: Unacked, from: string): Outbound {
  const stanza = restore(item);
  if (typeof stanza === 'string' && !stanza.startsWith('<message') && !stanza.startsWith('<presence')) return stanza;
  let element: Element;
  try {
    element = typeof stanza === 'string' ? parseElement(stanza) : stanza;
  } catch {
    return stanza;
  }
  if ((element.name !== 'message' && element.name !== 'presence') || element.getChild('delay', NS.delay)) return stanza;
  const copy = new Element(element.name, { ...element.attrs });
  copy.children = [...element.children, xml('delay', { xmlns: NS.delay, from, stamp: new Date(item.at).toISOString() })];
  return copy;
}
