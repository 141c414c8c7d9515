// What the parts of the IM module share: the module context, a per-user work queue, each session's
// presence bookkeeping, roster pushes (RFC 6121 §2.1.6) and the presence a user's resources owe a contact.
import { randomBytes } from 'node:crypto';
import { Jid } from '../../src/jid.js';
import type { ModuleContext } from '../../src/modules/api.js';
import type { BoundSession } from '../../src/sessions/types.js';
import type { RosterItem, SubscriptionState } from '../../src/storage/types.js';
import { Element, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

/** Session flag: the resource asked for the roster, so it is "interested" and gets roster pushes (§2.1.6). */
export const ROSTER_INTEREST = 'roster';

/** Directed-presence recipients remembered per session (§4.6.3); the oldest is forgotten beyond this. */
export const MAX_DIRECTED = 1000;

export const hasTo = (s: SubscriptionState): boolean => s === 'to' || s === 'both';
export const hasFrom = (s: SubscriptionState): boolean => s === 'from' || s === 'both';
export const subscriptionOf = (to: boolean, from: boolean): SubscriptionState => (to ? (from ? 'both' : 'to') : from ? 'from' : 'none');

/** What this node knows of one session's presence beyond what the router keeps. */
export interface PresenceBook {
  /** The session has sent available presence and not yet unavailable. */
  online: boolean;
  /** Priority of its last available presence. */
  priority: number;
  /** JIDs that received directed available presence from it (§4.6.3), in sending order. */
  readonly directed: Set<string>;
}

/**
 * Runs read-modify-write work one at a time per key (a user's roster, a user's offline queue) on this node.
 * Work must not wait for other work queued under the same key, or it waits for ever.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release = (): void => undefined;
    const done = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => done);
    this.tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/** A copy of `stanza` with some attributes replaced; the children are shared and must not be changed. */
export function readdress(stanza: Element, attrs: Record<string, string>): Element {
  const copy = new Element(stanza.name, { ...stanza.attrs, ...attrs });
  copy.children = stanza.children;
  return copy;
}

export function rosterItemElement(item: RosterItem): Element {
  const el = xml('item', { jid: item.jid, name: item.name, subscription: item.subscription, ask: item.ask ? 'subscribe' : undefined, approved: item.approved ? 'true' : undefined });
  for (const group of item.groups) el.cnode(xml('group', null, group));
  return el;
}

export class Im {
  /** Serialises changes to one user's roster and subscription requests. */
  readonly rosters = new KeyedQueue();
  private readonly books = new WeakMap<BoundSession, PresenceBook>();

  constructor(readonly ctx: ModuleContext) {}

  book(session: BoundSession): PresenceBook {
    let book = this.books.get(session);
    if (!book) {
      book = { online: false, priority: 0, directed: new Set() };
      this.books.set(session, book);
    }
    return book;
  }

  /** A JID of an account on this server (not the server itself, not another domain). */
  isLocalUser(jid: Jid): boolean {
    return jid.domain === this.ctx.domain && jid.local !== '';
  }

  userJid(username: string): Jid {
    return Jid.of(username, this.ctx.domain);
  }

  /** The user's resources on this node that sent available presence. */
  available(username: string): BoundSession[] {
    return this.ctx.sessions.resources(this.userJid(username).toString()).filter((s) => s.presence.available);
  }

  /** True when the user has an account (or, cheaper, a bound resource). */
  async userExists(username: string): Promise<boolean> {
    if (this.ctx.sessions.resources(this.userJid(username).toString()).length > 0) return true;
    return this.ctx.stores.accounts.exists(username);
  }

  /** Sends a roster push (§2.1.6) of one item, or of its removal, to every interested resource. */
  push(username: string, item: RosterItem | { jid: string; removed: true }, version: number): void {
    const child = 'removed' in item ? xml('item', { jid: item.jid, subscription: 'remove' }) : rosterItemElement(item);
    // Other modules (privacy lists) keep roster snapshots in memory; every write passes here.
    void this.ctx.emit('roster:changed', username, 'removed' in item ? { jid: item.jid, subscription: 'remove' } : item);
    for (const session of this.ctx.sessions.resources(this.userJid(username).toString())) {
      if (!session.flags.has(ROSTER_INTEREST)) continue;
      const id = `push-${randomBytes(6).toString('base64url')}`;
      session.send(xml('iq', { type: 'set', id, to: session.jid.toString() }, xml('query', { xmlns: NS.roster, ver: String(version) }, child)));
    }
  }

  /** Sends the current presence of each of the user's available resources to `to` (a new subscriber, a probe). */
  async sendPresenceOf(username: string, to: string): Promise<void> {
    await Promise.all(
      this.available(username).map((s) => {
        const presence = s.presence.stanza ? readdress(s.presence.stanza, { from: s.jid.toString(), to }) : xml('presence', { from: s.jid.toString(), to });
        return this.ctx.send(presence, s.jid);
      }),
    );
  }

  /** Sends unavailable presence from each of the user's available resources to `to` (a subscriber that left). */
  async sendUnavailableOf(username: string, to: string): Promise<void> {
    await Promise.all(this.available(username).map((s) => this.ctx.send(xml('presence', { type: 'unavailable', from: s.jid.toString(), to }), s.jid)));
  }
}
