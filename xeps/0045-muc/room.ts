// XEP-0045 §5 (roles and affiliations), §7.2.2-§7.2.4 (occupant presence and who sees real JIDs) and §7.4
// (reflecting messages): one room's state in plain Maps (occupants by nick and by real full JID, affiliations
// by bare JID) and the stanzas that state turns into. Delivery stays behind RoomOutput, so the room logic
// does not care where an occupant's session lives (a cluster can carry the delivery half).
import type { Affiliation } from './store/types.js';
import { Element, xml } from '../../src/xml/element.js';
import { PreparedStanza } from '../../src/xml/prepared.js';
import { NS } from '../../src/xml/ns.js';
import type { MucLimits, PresentRole, RoomConfig } from './config.js';
import { History, TokenBucket } from './limits.js';

export type AffiliationOrNone = Affiliation | 'none';

/** §5.2: the affiliations in order of privilege. */
export const RANK: Readonly<Record<AffiliationOrNone, number>> = { outcast: 0, none: 1, member: 2, admin: 3, owner: 4 };

export interface AffiliationEntry {
  affiliation: Affiliation;
  reason?: string;
  /** The nickname reserved for the user in this room (§7.10, §9.3). */
  nick?: string;
}

/** How a room's stanzas reach real JIDs. */
export interface RoomOutput {
  /**
   * Hands `stanza` (its 'to' already set to `fullJid`) to that session now; false when no such session exists.
   * The caller changes and reuses the same element for the next recipient, so nothing of it may be kept.
   */
  deliver(fullJid: string, stanza: Element): boolean;
  /** The same for a stanza serialised once for every recipient (the groupchat fan-out). */
  deliverPrepared(fullJid: string, stanza: PreparedStanza): boolean;
  /** Routes a stanza to any address (invitations to bare JIDs, declines); the element is the callee's to keep. */
  route(stanza: Element): void;
}

/** What a room needs from the service that holds it. */
export interface RoomHost {
  readonly output: RoomOutput;
  readonly limits: MucLimits;
  /** A real full JID entered (true) or left (false) the room; the service keeps the reverse index. */
  track(room: Room, fullJid: string, present: boolean): void;
  /** A stanza to `fullJid` found no session: a ghost the service removes (§18.1.2). */
  lost(room: Room, fullJid: string): void;
}

/** What a presence from an occupant JID says besides the occupant's own presence. */
export interface PresenceNote {
  unavailable?: boolean;
  /** Keep the role in the item of an unavailable presence (a nick change, §7.6) instead of 'none'. */
  keepRole?: boolean;
  /** Status codes for everyone. */
  codes?: readonly number[];
  /** Status codes for the occupant's own sessions only (110 is always added for them). */
  selfCodes?: readonly number[];
  /** The new nickname, on the unavailable presence of a nickname change (§7.6). */
  nick?: string;
  /** The nickname of the moderator or admin who acted (§8.2, §9.1). */
  actor?: string;
  reason?: string;
  /** §10.9: the <destroy/> element. */
  destroy?: Element;
  /** The presence children to reflect instead of the occupant's last presence (e.g. an exit status, §7.14). */
  payload?: readonly Element[];
  /** The 'id' of the presence the occupant sent, echoed on its self-presence (§7.2.2). */
  id?: string;
  /** Send to the occupant's own sessions only. */
  selfOnly?: boolean;
}

/** One occupant: one nickname, one bare JID, one or more sessions (§7.2.8 allows several resources to share a nick). */
export class Occupant {
  /** Each joined resource (real full JID) with the presence children it last sent. */
  readonly sessions = new Map<string, readonly Element[]>();
  /** The full JID whose presence the room shows (the last one that sent presence). */
  shown: string;
  readonly bucket: TokenBucket;
  private currentRole: PresentRole;
  private cached: { withJid?: Element; withoutJid?: Element } | undefined;

  constructor(
    public nick: string,
    readonly bareJid: string,
    fullJid: string,
    role: PresentRole,
    payload: readonly Element[],
    limits: MucLimits,
  ) {
    this.sessions.set(fullJid, payload);
    this.shown = fullJid;
    this.currentRole = role;
    this.bucket = new TokenBucket(limits.messageRate, limits.messageBurst);
  }

  get role(): PresentRole {
    return this.currentRole;
  }

  set role(role: PresentRole) {
    this.currentRole = role;
    this.invalidate();
  }

  get payload(): readonly Element[] {
    return this.sessions.get(this.shown) ?? [];
  }

  /** Drops the rendered presence after anything it shows changed. */
  invalidate(): void {
    this.cached = undefined;
  }

  /** The rendered plain presence, kept until the next change (joins send it to every newcomer). */
  cachedPresence(withJid: boolean, render: () => Element): Element {
    this.cached ??= {};
    if (withJid) return (this.cached.withJid ??= render());
    return (this.cached.withoutJid ??= render());
  }
}

export function isoStamp(ms: number): string {
  return new Date(ms).toISOString();
}

/** Keeps the children a room reflects of a client's presence: not the MUC protocol elements (§17.3.6). */
export function presencePayload(stanza: Element): Element[] {
  const payload: Element[] = [];
  for (const child of stanza.children) {
    if (!(child instanceof Element)) continue;
    if (child.name === 'x' && (child.attrs.xmlns === NS.muc || child.attrs.xmlns === NS.mucUser)) continue;
    payload.push(child);
  }
  return payload;
}

export class Room {
  locked: boolean;
  subject = '';
  /** The occupant JID (or room JID) the subject comes from (§7.2.15). */
  subjectBy: string | undefined;
  subjectAt: number | undefined;
  readonly history: History;
  /** Mediated invitations not answered yet: invitee bare JID -> inviter full JID, for declines (§7.8.2). */
  readonly invitations = new Map<string, string>();
  private readonly affiliationMap = new Map<string, AffiliationEntry>();
  /** Reserved nickname -> bare JID (§7.2.8: nobody else may enter with it). */
  private readonly reserved = new Map<string, string>();
  private readonly byNick = new Map<string, Occupant>();
  private readonly byJid = new Map<string, Occupant>();

  constructor(
    readonly jid: string,
    public config: RoomConfig,
    readonly createdAt: number,
    locked: boolean,
    private readonly host: RoomHost,
  ) {
    this.locked = locked;
    this.history = new History(host.limits.maxHistory, host.limits.historyMaxChars);
  }

  occupantJid(nick: string): string {
    return `${this.jid}/${nick}`;
  }

  // ---- affiliations (§5.2) ----

  affiliation(bareJid: string): AffiliationOrNone {
    return this.affiliationMap.get(bareJid)?.affiliation ?? 'none';
  }

  affiliationEntry(bareJid: string): AffiliationEntry | undefined {
    return this.affiliationMap.get(bareJid);
  }

  affiliations(): IterableIterator<[string, AffiliationEntry]> {
    return this.affiliationMap.entries();
  }

  withAffiliation(affiliation: Affiliation): string[] {
    const jids: string[] = [];
    for (const [jid, entry] of this.affiliationMap) if (entry.affiliation === affiliation) jids.push(jid);
    return jids.sort();
  }

  setAffiliation(bareJid: string, entry: AffiliationEntry | undefined): void {
    const previous = this.affiliationMap.get(bareJid);
    if (previous?.nick !== undefined && this.reserved.get(previous.nick) === bareJid) this.reserved.delete(previous.nick);
    if (entry === undefined) this.affiliationMap.delete(bareJid);
    else {
      this.affiliationMap.set(bareJid, entry);
      if (entry.nick !== undefined) this.reserved.set(entry.nick, bareJid);
    }
    for (const occupant of this.occupantsOf(bareJid)) occupant.invalidate();
  }

  /** The bare JID a nickname is reserved for, if any. */
  reservedBy(nick: string): string | undefined {
    return this.reserved.get(nick);
  }

  /** §5.1.2: the role an occupant enters with. */
  defaultRole(affiliation: AffiliationOrNone): PresentRole {
    if (affiliation === 'owner' || affiliation === 'admin') return 'moderator';
    if (affiliation === 'member') return 'participant';
    return this.config.moderated ? 'visitor' : 'participant';
  }

  // ---- occupants ----

  get size(): number {
    return this.byNick.size;
  }

  occupants(): IterableIterator<Occupant> {
    return this.byNick.values();
  }

  occupant(nick: string): Occupant | undefined {
    return this.byNick.get(nick);
  }

  occupantByJid(fullJid: string): Occupant | undefined {
    return this.byJid.get(fullJid);
  }

  occupantsOf(bareJid: string): Occupant[] {
    const found: Occupant[] = [];
    for (const occupant of this.byNick.values()) if (occupant.bareJid === bareJid) found.push(occupant);
    return found;
  }

  addOccupant(nick: string, bareJid: string, fullJid: string, role: PresentRole, payload: readonly Element[]): Occupant {
    const occupant = new Occupant(nick, bareJid, fullJid, role, payload, this.host.limits);
    this.byNick.set(nick, occupant);
    this.byJid.set(fullJid, occupant);
    this.host.track(this, fullJid, true);
    return occupant;
  }

  /** Another resource of the same user enters under the occupant's nickname, or a session sends new presence. */
  setSessionPresence(occupant: Occupant, fullJid: string, payload: readonly Element[]): void {
    if (!occupant.sessions.has(fullJid)) {
      this.byJid.set(fullJid, occupant);
      this.host.track(this, fullJid, true);
    }
    occupant.sessions.set(fullJid, payload);
    occupant.shown = fullJid;
    occupant.invalidate();
  }

  /** Removes one session; true when it was the occupant's last, and the occupant is gone. */
  removeSession(occupant: Occupant, fullJid: string): boolean {
    if (!occupant.sessions.delete(fullJid)) return occupant.sessions.size === 0;
    this.byJid.delete(fullJid);
    this.host.track(this, fullJid, false);
    if (occupant.sessions.size === 0) {
      if (this.byNick.get(occupant.nick) === occupant) this.byNick.delete(occupant.nick);
      return true;
    }
    if (occupant.shown === fullJid) occupant.shown = occupant.sessions.keys().next().value ?? fullJid;
    occupant.invalidate();
    return false;
  }

  removeOccupant(occupant: Occupant): void {
    for (const fullJid of [...occupant.sessions.keys()]) this.removeSession(occupant, fullJid);
  }

  rename(occupant: Occupant, nick: string): void {
    this.byNick.delete(occupant.nick);
    occupant.nick = nick;
    this.byNick.set(nick, occupant);
    occupant.invalidate();
  }

  // ---- presence (§7.2.2-§7.2.4, §17.3.8) ----

  /** §7.2.3, §7.2.4: everyone sees real JIDs in a non-anonymous room; only moderators in a semi-anonymous one. */
  seesJids(recipient: Occupant | undefined): boolean {
    return this.config.whois === 'anyone' || recipient?.role === 'moderator';
  }

  broadcasts(role: PresentRole): boolean {
    return this.config.presenceBroadcast.includes(role);
  }

  private renderPresence(occupant: Occupant, note: PresenceNote, self: boolean, withJid: boolean): Element {
    const presence = new Element('presence', { from: this.occupantJid(occupant.nick) });
    if (note.unavailable) presence.attrs.type = 'unavailable';
    if (self && note.id !== undefined) presence.attrs.id = note.id;
    for (const child of note.payload ?? occupant.payload) presence.children.push(child);
    const item = xml('item', {
      affiliation: this.affiliation(occupant.bareJid),
      role: note.unavailable && !note.keepRole ? 'none' : occupant.role,
      jid: withJid ? occupant.shown : undefined,
      nick: note.nick,
    });
    if (note.actor !== undefined) item.cnode(xml('actor', { nick: note.actor }));
    if (note.reason !== undefined) item.cnode(xml('reason', {}, note.reason));
    const x = xml('x', { xmlns: NS.mucUser }, item);
    const codes = new Set(note.codes ?? []);
    if (self) {
      codes.add(110);
      for (const code of note.selfCodes ?? []) codes.add(code);
    }
    for (const code of [...codes].sort((a, b) => a - b)) x.cnode(xml('status', { code }));
    if (note.destroy) x.cnode(note.destroy);
    presence.cnode(x);
    return presence;
  }

  private isPlain(note: PresenceNote): boolean {
    return !note.unavailable && note.codes === undefined && note.nick === undefined && note.actor === undefined && note.reason === undefined && note.payload === undefined;
  }

  /** The occupant's current presence for someone else, as sent to a newcomer (§7.2.2). */
  presenceOf(occupant: Occupant, withJid: boolean): Element {
    return occupant.cachedPresence(withJid, () => this.renderPresence(occupant, {}, false, withJid));
  }

  /**
   * Sends the occupant's presence: the self-presence (110) to its own sessions, then, when its role's presence
   * is broadcast, to every other occupant with or without the real JID as each may see it.
   */
  broadcastPresence(occupant: Occupant, note: PresenceNote = {}): void {
    const lost: string[] = [];
    const output = this.host.output;
    const send = (fullJid: string, stanza: Element): void => {
      stanza.attrs.to = fullJid;
      if (!output.deliver(fullJid, stanza)) lost.push(fullJid);
    };
    const self = this.renderPresence(occupant, note, true, true);
    for (const fullJid of occupant.sessions.keys()) send(fullJid, self);
    if (!note.selfOnly && this.broadcasts(occupant.role)) {
      const plain = this.isPlain(note);
      let withJid: Element | undefined;
      let withoutJid: Element | undefined;
      for (const other of this.byNick.values()) {
        if (other === occupant) continue;
        const seesJid = this.seesJids(other);
        const stanza = plain
          ? this.presenceOf(occupant, seesJid)
          : seesJid
            ? (withJid ??= this.renderPresence(occupant, note, false, true))
            : (withoutJid ??= this.renderPresence(occupant, note, false, false));
        for (const fullJid of other.sessions.keys()) send(fullJid, stanza);
      }
    }
    this.reportLost(lost);
  }

  /** Sends a self-presence to one session that is no longer (or not yet) among the occupant's sessions. */
  selfPresenceTo(fullJid: string, occupant: Occupant, note: PresenceNote): void {
    const stanza = this.renderPresence(occupant, note, true, true);
    stanza.attrs.to = fullJid;
    this.host.output.deliver(fullJid, stanza);
  }

  // ---- messages (§7.4) ----

  /**
   * The hot path: the message is serialised once; each recipient's copy is that text with its own 'to'
   * (about 0.2 µs a copy against 2.7–4.5 µs for serialising per recipient: loadtest/bench/muc-fanout.ts).
   */
  broadcast(stanza: Element): void {
    const output = this.host.output;
    const prepared = new PreparedStanza(stanza);
    let lost: string[] | undefined;
    for (const occupant of this.byNick.values()) {
      for (const fullJid of occupant.sessions.keys()) {
        if (!output.deliverPrepared(fullJid, prepared)) (lost ??= []).push(fullJid);
      }
    }
    delete stanza.attrs.to;
    if (lost) this.reportLost(lost);
  }

  /** Sends to every session of one occupant. */
  sendToOccupant(occupant: Occupant, stanza: Element): void {
    const lost: string[] = [];
    for (const fullJid of occupant.sessions.keys()) {
      stanza.attrs.to = fullJid;
      if (!this.host.output.deliver(fullJid, stanza)) lost.push(fullJid);
    }
    delete stanza.attrs.to;
    this.reportLost(lost);
  }

  /** Sends to one real full JID. */
  sendTo(fullJid: string, stanza: Element): void {
    stanza.attrs.to = fullJid;
    this.host.output.deliver(fullJid, stanza);
  }

  /** §7.2.15: the subject message, empty when none is set. */
  subjectMessage(): Element {
    const message = xml('message', { from: this.subjectBy ?? this.jid, type: 'groupchat' }, xml('subject', {}, this.subject));
    if (this.subjectAt !== undefined) message.cnode(xml('delay', { xmlns: NS.delay, from: this.jid, stamp: isoStamp(this.subjectAt) }));
    return message;
  }

  private reportLost(lost: readonly string[]): void {
    for (const fullJid of lost) this.host.lost(this, fullJid);
  }
}
