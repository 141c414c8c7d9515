// The XEP-0352 output stage of one session (src/sessions/output.ts): at position 100, before stream
// management's 900, so what it holds has not been counted as sent. While the client is inactive it holds
// what may wait (classify.ts) and lets the urgent through at once, after everything it held, in order.
import type { Outbound, OutputStage, OutputStageHandle } from '../../src/modules/api.js';
import { Element, parseElement } from '../../src/xml/element.js';
import { classify, nickFromSelfPresence, selfPresence, type Verdict } from './classify.js';

export const CSI_STAGE_POSITION = 100;

const URGENT: Verdict = { kind: 'urgent' };

export class CsiStage implements OutputStage {
  readonly position = CSI_STAGE_POSITION;
  private inactive = false;
  /**
   * What waits, in arrival order. A presence is keyed by its sender, so a newer one from the same full JID
   * takes the place of the older at the end (Map order is insertion order); anything else by a counter.
   */
  private held = new Map<string, Outbound>();
  private counter = 0;
  /** The user's nickname per room (bare JID), from the rooms' self-presence: what a mention names. */
  private readonly nicks = new Map<string, string>();
  private handle: OutputStageHandle | undefined;

  constructor(private readonly maxHeld: number) {}

  /** The pipeline's handle for this stage, through which a flush outside a send goes on. */
  attach(handle: OutputStageHandle): void {
    this.handle = handle;
  }

  get isInactive(): boolean {
    return this.inactive;
  }

  get heldCount(): number {
    return this.held.size;
  }

  inactivate(): void {
    this.inactive = true;
  }

  /** <active/>, or a resumed stream (XEP-0352 §5.2): everything held goes out, in order. */
  activate(): void {
    this.inactive = false;
    if (this.handle) this.flush(this.handle.next);
  }

  send(stanza: Outbound, next: (stanza: Outbound) => void): void {
    if (!this.inactive) {
      this.watchRooms(stanza);
      return next(stanza);
    }
    const element = toElement(stanza);
    if (element?.name === 'presence') this.trackNick(element);
    const verdict = element ? classify(element, (room) => this.nicks.get(room)) : URGENT;
    const key = verdict.kind === 'presence' ? `p ${verdict.from}` : verdict.kind === 'hold' ? `#${++this.counter}` : undefined;
    // Urgent, or one more than the bound: what is held goes first, then this one (overflow flushes, never drops).
    if (key === undefined || (this.held.size >= this.maxHeld && !this.held.has(key))) {
      this.flush(next);
      return next(stanza);
    }
    this.held.delete(key);
    this.held.set(key, snapshot(stanza));
  }

  release(): Outbound[] {
    const held = [...this.held.values()];
    this.held = new Map();
    return held;
  }

  private flush(next: (stanza: Outbound) => void): void {
    // Taken out first: a stage after this one may send again while it is passed on.
    for (const stanza of this.release()) next(stanza);
  }

  /** While active, only self-presence from rooms is looked at (cheaply: serialised copies only when they may be one). */
  private watchRooms(stanza: Outbound): void {
    if (typeof stanza !== 'string') {
      if (stanza.name === 'presence') this.trackNick(stanza);
      return;
    }
    if (!stanza.startsWith('<presence') || !stanza.includes('110')) return;
    const element = toElement(stanza);
    if (element) this.trackNick(element);
  }

  private trackNick(presence: Element): void {
    if (!selfPresence(presence)) return;
    const change = nickFromSelfPresence(presence);
    if (!change) return;
    if (change.nick === undefined) this.nicks.delete(change.room);
    else this.nicks.set(change.room, change.nick);
  }
}

/** A serialised fan-out copy parsed back (it is the server's own XML); undefined if it cannot be. */
function toElement(stanza: Outbound): Element | undefined {
  if (typeof stanza !== 'string') return stanza;
  try {
    return parseElement(stanza);
  } catch {
    return undefined;
  }
}

/**
 * The stanza as it is now: modules readdress one element for several recipients (a MUC broadcast sets 'to'
 * per occupant), so what waits keeps its own attributes; children are shared, as the router shares them.
 */
function snapshot(stanza: Outbound): Outbound {
  if (typeof stanza === 'string') return stanza;
  const copy = new Element(stanza.name, { ...stanza.attrs });
  copy.children = stanza.children;
  return copy;
}
