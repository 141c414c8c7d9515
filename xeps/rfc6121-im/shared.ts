// What the parts of the IM module share: the module context, a per-user work queue, each session's
// presence bookkeeping, roster pushes (RFC 6121 §2.1.6) and the presence a user's resources owe a contact.
// In a cluster a user's resources may sit on several nodes: pushes reach those elsewhere through the
// cluster capability's deliverRemote, and their presence is answered by their own node, asked with a probe.
import { randomBytes } from 'node:crypto';
import { Jid } from '../../src/jid.js';
import type { BoundSession, ModuleContextWith, RosterItem, SessionRecord, SubscriptionState } from '../../src/modules/api.js';
import { Element, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { PreparedStanza } from '../../src/xml/prepared.js';

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
  /** JIDs that received directed available presence from it (§4.6.3), in sending order; made by the first. */
  directed: Set<string> | undefined;
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
  /**
   * Serialises changes to one user's roster and subscription requests, across the cluster: two nodes changing
   * the same item at once (a roster set on one, a subscription answer on the other) would otherwise lose one.
   */
  readonly rosters: { run<T>(username: string, work: () => Promise<T>): Promise<T> };
  private readonly books = new WeakMap<BoundSession, PresenceBook>();

  constructor(readonly ctx: ModuleContextWith<'cluster'>) {
    this.rosters = { run: (username, work) => ctx.cluster.exclusive.run(`roster:${username}`, work) };
  }

  book(session: BoundSession): PresenceBook {
    let book = this.books.get(session);
    if (!book) {
      book = { online: false, priority: 0, directed: undefined };
      this.books.set(session, book);
    }
    return book;
  }

  /** The session's book if it has one (book() makes one). */
  peekBook(session: BoundSession): PresenceBook | undefined {
    return this.books.get(session);
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

  /** The user's resources on other nodes of the cluster that sent available presence (none on a single node). */
  async availableElsewhere(username: string): Promise<SessionRecord[]> {
    return (await this.ctx.sessions.remote(this.userJid(username).toString())).filter((r) => r.available);
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
    const bare = this.userJid(username).toString();
    const query = (): Element => xml('query', { xmlns: NS.roster, ver: String(version) }, child);
    // One serialisation for all of them, each copy addressed to its resource's full JID. One id for all
    // copies is enough: an id needs to be unique within a stream, and the answers are not waited for.
    let prepared: PreparedStanza | undefined;
    for (const session of this.ctx.sessions.resources(bare)) {
      if (!session.flags.has(ROSTER_INTEREST)) continue;
      prepared ??= new PreparedStanza(xml('iq', { type: 'set', id: `push-${randomBytes(6).toString('base64url')}` }, query()));
      session.sendText(prepared.for(session.jid.toString()));
    }
    // The interested resources on other nodes: their node checks the flag and addresses each copy.
    this.ctx.sessions.remote(bare).then(
      (elsewhere) => {
        if (elsewhere.length > 0) this.ctx.cluster.deliverRemote(elsewhere, xml('iq', { type: 'set', id: `push-${randomBytes(6).toString('base64url')}`, to: bare }, query()), { flag: ROSTER_INTEREST, readdress: true });
      },
      (err: unknown) => this.ctx.log.warn({ err, user: username }, 'roster push to other nodes failed'),
    );
  }

  /**
   * Sends the current presence of each of the user's available resources to `to` (a new subscriber, a
   * probe). Those on other nodes (`elsewhere`, read from the directory unless given; [] for this node's
   * only) are answered by their own node: it gets a probe to one of the full JIDs it holds, and answers
   * for every available resource of the user it holds (see processProbe in subscriptions.ts).
   */
  async sendPresenceOf(username: string, to: string, elsewhere?: readonly SessionRecord[]): Promise<void> {
    const here = this.available(username).map((s) => {
      const presence = s.presence.stanza ? readdress(s.presence.stanza, { from: s.jid.toString(), to }) : xml('presence', { from: s.jid.toString(), to });
      return this.ctx.send(presence, s.jid);
    });
    const oneByNode = new Map<string, SessionRecord>();
    for (const record of elsewhere ?? (await this.availableElsewhere(username))) if (!oneByNode.has(record.node)) oneByNode.set(record.node, record);
    const asker = Jid.tryParse(to) ?? this.ctx.serverJid;
    const there = [...oneByNode.values()].map((record) => this.ctx.send(xml('presence', { type: 'probe', from: to, to: record.jid.toString() }), asker));
    await Promise.all([...here, ...there]);
  }

  /** Sends unavailable presence from each of the user's available resources, on any node, to `to` (a subscriber that left). */
  async sendUnavailableOf(username: string, to: string): Promise<void> {
    const from = [...this.available(username).map((s) => s.jid), ...(await this.availableElsewhere(username)).map((r) => r.jid)];
    await Promise.all(from.map((jid) => this.ctx.send(xml('presence', { type: 'unavailable', from: jid.toString(), to }), jid)));
  }
}
