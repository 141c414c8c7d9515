// XEP-0045 the service: the handler of conference.<domain> (every stanza to the service, its rooms and their
// occupants comes here, and goes to the node that hosts the room); IQs to the service and to rooms go to the
// core's IQ registry (muc#admin, muc#owner, register, ping here; disco in discovery.ts); §10.1 room creation
// and the rooms-per-user limit, persistent rooms loaded from the store on first use, §10.9 destruction, §17.4
// IQs through occupant JIDs (with XEP-0410 self-ping answered by the room), and ghost removal (§18.1.2).
import { randomBytes } from 'node:crypto';
import { StanzaError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import type { BoundSession, ModuleContextWith } from '../../src/modules/api.js';
import type { RoomStore, StoredRoom } from './store/types.js';
import { Element, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { handleAdmin } from './admin.js';
import { OccupantNodes, readHandOver, RemoteFanout, RoomsAbroad, serviceGonePresence, type HandedOverStay, type MucHandOver } from './cluster.js';
import { defaultRoomConfig, restoredConfig, storedConfig, type MucLimits } from './config.js';
import { exit, handlePresence, isDeliveryError } from './join.js';
import { handleMessage } from './messages.js';
import { handleOwner } from './owner.js';
import { handleRegister } from './register.js';
import { Room, type RoomHost, type RoomOutput } from './room.js';

/** How long the room waits for the answer to an iq it forwarded to an occupant (§17.4). */
const FORWARDED_IQ_TIMEOUT_MS = 60_000;
const MAX_FORWARDED_IQS = 10_000;
/** Nodes a room's stanza may pass on its way to the room's host (a stale view of where it lives costs one). */
const MAX_ROOM_HOPS = 2;

interface ForwardedIq {
  readonly id: string;
  /** The real full JID that asked, and its occupant JID in the room. */
  readonly requester: string;
  readonly requesterJid: string;
  /** The real full JID the iq went to, and the occupant JID it was addressed to. */
  readonly target: string;
  readonly targetJid: string;
  readonly expires: number;
}

export interface IqContext {
  readonly muc: MucService;
  readonly room: Room;
  readonly stanza: Element;
  readonly payload: Element;
  readonly from: Jid;
}

type RoomIqHandler = (request: IqContext) => Promise<Element | undefined> | Element | undefined;

export interface DestroyDetails {
  venue?: string;
  reason?: string;
  password?: string;
}

/** The cluster request topic of occupantMoved, and how long the sender waits for its answer. */
export const OCCUPANT_MOVED = 'muc:occupant-moved';
const OCCUPANT_MOVED_WAIT_MS = 5000;

export class MucService implements RoomHost {
  readonly rooms = new Map<string, Room>();
  readonly output: RoomOutput;
  private readonly loading = new Map<string, Promise<Room | undefined>>();
  /** Real full JID -> the rooms it is in, to take it out when its session ends. */
  private readonly joined = new Map<string, Set<Room>>();
  private readonly forwarded = new Map<string, ForwardedIq>();
  /** Across nodes (cluster.ts): where remote occupants are, their copies, and local sessions in rooms hosted elsewhere. */
  private readonly occupantNodes = new OccupantNodes();
  private readonly fanout: RemoteFanout;
  private readonly abroad = new RoomsAbroad();
  /** Stanzas being handled per room JID: a room is given up to other nodes only when none is. */
  private readonly inFlight = new Map<string, number>();

  constructor(readonly ctx: ModuleContextWith<'cluster', unknown, RoomStore>, readonly domain: string, public limits: MucLimits) {
    this.fanout = new RemoteFanout(ctx.cluster);
    this.output = {
      deliver: (fullJid, stanza) => {
        const session = ctx.sessions.get(fullJid);
        if (session !== undefined) {
          ctx.deliver(session, stanza);
          return true;
        }
        const node = this.occupantNodes.get(fullJid);
        if (node === undefined) return false;
        this.fanout.add(node, fullJid, stanza);
        return true;
      },
      deliverPrepared: (fullJid, stanza) => {
        const session = ctx.sessions.get(fullJid);
        if (session !== undefined) {
          ctx.deliverPrepared(session, stanza);
          return true;
        }
        const node = this.occupantNodes.get(fullJid);
        if (node === undefined) return false;
        this.fanout.add(node, fullJid, stanza.element);
        return true;
      },
      route: (stanza) => {
        void ctx.send(stanza, Jid.parse(stanza.attrs.from ?? domain));
      },
    };
    const on = (type: 'get' | 'set', ns: string, name: string, handler: RoomIqHandler): void =>
      ctx.onIq(type, { domain, to: 'bare' }, ns, name, async ({ stanza, payload, from, to }) => handler({ muc: this, room: await this.roomFor(to, from), stanza, payload, from }));
    on('get', NS.ping, 'ping', () => undefined);
    on('get', NS.mucAdmin, 'query', handleAdmin);
    on('set', NS.mucAdmin, 'query', handleAdmin);
    on('get', NS.mucOwner, 'query', handleOwner);
    on('set', NS.mucOwner, 'query', handleOwner);
    on('get', NS.register, 'query', handleRegister);
    on('set', NS.register, 'query', handleRegister);
  }

  /**
   * The domain handler: every stanza to the service, a room or an occupant JID. A room's stanzas are handled on
   * the node that hosts the room (cluster.ts); `hops` > 0 means another node forwarded this one.
   */
  async handle(stanza: Element, from: Jid, to: Jid, hops = 0): Promise<void> {
    if (to.local === '') return this.dispatch(stanza, from, to);
    const roomJid = to.bareString();
    if (!this.rooms.has(roomJid)) {
      const host = await this.hostOf(roomJid, hops > 0);
      if (host !== this.ctx.config.nodeId) return this.forward(host, stanza, from, to, hops);
    }
    this.inFlight.set(roomJid, (this.inFlight.get(roomJid) ?? 0) + 1);
    try {
      const fullJid = from.toString();
      const remote = from.domain === this.ctx.domain && !from.isBare && this.ctx.sessions.get(fullJid) === undefined;
      if (remote && stanza.name === 'presence') await this.occupantNodes.learn(this.ctx, fullJid, from.bareString());
      await this.dispatch(stanza, from, to);
      if (remote && !this.joined.has(fullJid)) this.occupantNodes.delete(fullJid);
    } finally {
      const left = (this.inFlight.get(roomJid) ?? 1) - 1;
      if (left > 0) this.inFlight.set(roomJid, left);
      else this.inFlight.delete(roomJid);
      this.vacated(roomJid);
    }
  }

  private dispatch(stanza: Element, from: Jid, to: Jid): Promise<void> {
    if (stanza.name === 'message') return handleMessage(this, stanza, from, to);
    if (stanza.name === 'presence') return handlePresence(this, stanza, from, to);
    return this.handleIq(stanza, from, to);
  }

  private async hostOf(roomJid: string, fresh: boolean): Promise<string> {
    try {
      return await this.ctx.cluster.placement.locate(roomJid, { fresh });
    } catch (err) {
      this.ctx.log.warn({ err, room: roomJid }, 'cannot tell which node hosts the room');
      throw new StanzaError('service-unavailable', 'the chat service cannot reach the rest of the cluster; try again shortly', 'wait');
    }
  }

  /** Hands a room's stanza to the node that hosts the room, noting where local sessions sit. */
  private forward(host: string, stanza: Element, from: Jid, to: Jid, hops: number): void {
    if (hops >= MAX_ROOM_HOPS) throw new StanzaError('service-unavailable', 'the room is moving between nodes; try again shortly', 'wait');
    if (stanza.name === 'presence' && !to.isBare && this.ctx.sessions.get(from.toString()) !== undefined) {
      this.abroad.note(from.toString(), to.bareString(), to.resource, stanza.attrs.type, host);
    }
    this.ctx.cluster.forward(host, stanza, from, hops);
  }

  /** A room no longer here (emptied, destroyed, never created): other nodes may host it next. */
  private vacated(roomJid: string): void {
    if (this.rooms.has(roomJid) || this.inFlight.has(roomJid) || this.loading.has(roomJid)) return;
    this.ctx.cluster.placement.release(roomJid).catch((err: unknown) => this.ctx.log.warn({ err, room: roomJid }, 'could not release a room to the cluster'));
  }

  /**
   * Another node died or left. Its occupants leave the rooms hosted here (§18.1.2, 333); local sessions in
   * rooms it hosted are told those rooms are gone (§11.2, 332) and may enter again, on the node that hosts
   * the room next (a persistent room comes back from the store there).
   */
  nodeDown(node: string): void {
    for (const fullJid of this.occupantNodes.on(node)) {
      for (const room of [...(this.joined.get(fullJid) ?? [])]) {
        const occupant = room.occupantByJid(fullJid);
        if (occupant !== undefined) exit(this, room, occupant, fullJid, { codes: [333], payload: [] });
      }
      this.occupantNodes.delete(fullJid);
    }
    for (const { fullJid, roomJid, nick } of this.abroad.hostDown(node)) {
      const session = this.ctx.sessions.get(fullJid);
      if (session !== undefined) this.ctx.deliver(session, serviceGonePresence(roomJid, nick, fullJid));
    }
  }

  newId(): string {
    return randomBytes(9).toString('base64url');
  }

  /** Delivers to a local session at once (keeping the order of what follows), or routes. */
  sendNow(stanza: Element): void {
    const to = stanza.attrs.to;
    if (to !== undefined && this.output.deliver(to, stanza)) return;
    this.output.route(stanza);
  }

  async userExists(jid: Jid): Promise<boolean> {
    if (jid.domain !== this.ctx.domain) return true;
    return this.ctx.sessions.resources(jid.bareString()).length > 0 || (await this.ctx.stores.accounts.exists(jid.local));
  }

  // ---- rooms: creation, loading, emptying, destruction ----

  /** A live room, or a persistent one read from the store (once, however many ask at the same time). */
  async load(roomJid: string): Promise<Room | undefined> {
    const live = this.rooms.get(roomJid);
    if (live !== undefined) return live;
    let pending = this.loading.get(roomJid);
    if (pending === undefined) {
      pending = this.restore(roomJid).finally(() => this.loading.delete(roomJid));
      this.loading.set(roomJid, pending);
    }
    return pending;
  }

  private async restore(roomJid: string): Promise<Room | undefined> {
    const stored = await this.ctx.store.get(roomJid);
    if (stored === undefined) return this.rooms.get(roomJid);
    const affiliations = await this.ctx.store.affiliations(roomJid);
    const live = this.rooms.get(roomJid);
    if (live !== undefined) return live;
    const config = restoredConfig(stored.config, this.limits);
    config.persistent = true;
    const room = new Room(roomJid, config, stored.createdAt, false, this);
    room.subject = stored.subject ?? '';
    room.subjectBy = stored.subjectBy;
    for (const { jid, affiliation, reason, nick } of affiliations) {
      const entry: { affiliation: typeof affiliation; reason?: string; nick?: string } = { affiliation };
      if (reason !== undefined) entry.reason = reason;
      if (nick !== undefined) entry.nick = nick;
      room.setAffiliation(jid, entry);
    }
    this.rooms.set(roomJid, room);
    return room;
  }

  /** §10.1.1: refuses with not-allowed when the user owns max_rooms_per_user rooms already. */
  async checkCreation(bareJid: string): Promise<void> {
    if (this.ctx.config.admins.includes(bareJid)) return;
    const max = this.limits.maxRoomsPerUser;
    if (max === 0) throw new StanzaError('not-allowed', 'creating rooms is not allowed on this service (§10.1.1)');
    let owned = 0;
    for (const room of this.rooms.values()) if (!room.config.persistent && room.affiliation(bareJid) === 'owner') owned++;
    if (owned < max) owned += await this.ctx.store.countOwned(bareJid);
    if (owned >= max) throw new StanzaError('not-allowed', `you own ${owned} rooms already, the most this service allows (§10.1.1)`);
  }

  /** §10.1.1: a new room is locked, with its creator as owner, until configured. */
  create(roomJid: string, ownerJid: string): Room {
    const room = new Room(roomJid, defaultRoomConfig(this.limits), Date.now(), true, this);
    room.setAffiliation(ownerJid, { affiliation: 'owner' });
    this.rooms.set(roomJid, room);
    return room;
  }

  /** §7.14: a temporary room goes when its last occupant leaves; so does one never configured (§10.1.3). */
  emptied(room: Room): void {
    if (room.size > 0 || (room.config.persistent && !room.locked)) return;
    if (this.rooms.get(room.jid) === room) this.rooms.delete(room.jid);
    this.vacated(room.jid);
  }

  /** §10.9: every occupant is told (with the alternate venue and reason) and the room is gone. */
  async destroy(room: Room, details: DestroyDetails, fromStore: boolean): Promise<void> {
    const destroy = xml(
      'destroy',
      { jid: details.venue },
      details.reason === undefined ? undefined : xml('reason', {}, details.reason),
      details.password === undefined ? undefined : xml('password', {}, details.password),
    );
    for (const [jid] of [...room.affiliations()]) room.setAffiliation(jid, undefined);
    for (const occupant of [...room.occupants()]) {
      room.broadcastPresence(occupant, { unavailable: true, destroy, selfOnly: true, payload: [] });
      room.removeOccupant(occupant);
    }
    if (this.rooms.get(room.jid) === room) this.rooms.delete(room.jid);
    this.vacated(room.jid);
    if (fromStore && room.config.persistent) await this.ctx.store.delete(room.jid);
  }

  // ---- persistence of persistent rooms ----

  private stored(room: Room): StoredRoom {
    const stored: StoredRoom = { jid: room.jid, config: storedConfig(room.config), createdAt: room.createdAt };
    if (room.subject !== '') stored.subject = room.subject;
    if (room.subjectBy !== undefined) stored.subjectBy = room.subjectBy;
    return stored;
  }

  private persists(room: Room): boolean {
    return room.config.persistent && !room.locked && this.rooms.get(room.jid) === room;
  }

  async save(room: Room): Promise<void> {
    if (this.persists(room)) await this.ctx.store.save(this.stored(room));
  }

  async saveAffiliation(room: Room, bareJid: string): Promise<void> {
    if (!this.persists(room)) return;
    const entry = room.affiliationEntry(bareJid);
    await this.ctx.store.setAffiliation(room.jid, entry === undefined ? { jid: bareJid, affiliation: 'none' } : { jid: bareJid, ...entry });
  }

  /** A room that just became persistent: the room first, then its affiliations (they reference it). */
  async saveAll(room: Room): Promise<void> {
    if (!this.persists(room)) return;
    await this.ctx.store.save(this.stored(room));
    for (const [jid, entry] of [...room.affiliations()]) await this.ctx.store.setAffiliation(room.jid, { jid, ...entry });
  }

  async unsave(room: Room): Promise<void> {
    await this.ctx.store.delete(room.jid);
  }

  /** Runs a store write whose failure must not undo what occupants were already told; it is logged. */
  persist(write: Promise<void>): void {
    write.catch((err: unknown) => this.ctx.log.error({ err }, 'could not store a room change'));
  }

  // ---- RoomHost ----

  track(room: Room, fullJid: string, present: boolean): void {
    let rooms = this.joined.get(fullJid);
    if (present) {
      if (rooms === undefined) this.joined.set(fullJid, (rooms = new Set()));
      rooms.add(room);
    } else if (rooms !== undefined) {
      rooms.delete(room);
      if (rooms.size === 0) {
        this.joined.delete(fullJid);
        this.occupantNodes.delete(fullJid);
      }
    }
  }

  lost(room: Room, fullJid: string): void {
    // After the current broadcast: removing an occupant broadcasts too.
    setImmediate(() => {
      if (this.ctx.sessions.get(fullJid) !== undefined) return;
      const occupant = room.occupantByJid(fullJid);
      if (occupant !== undefined && this.rooms.get(room.jid) === room) exit(this, room, occupant, fullJid, { codes: [333], payload: [] });
    });
  }

  /** RFC 6121 §4.6.3 on the service side: a session that ended leaves every room it was in. */
  sessionClosed(session: BoundSession): void {
    const fullJid = session.jid.toString();
    // Even a session that replaced this one under the same full JID starts outside the room.
    for (const room of [...(this.joined.get(fullJid) ?? [])]) {
      const occupant = room.occupantByJid(fullJid);
      if (occupant !== undefined) exit(this, room, occupant, fullJid, { payload: [] });
    }
    // Rooms hosted on other nodes: their host hears it from here.
    for (const { roomJid, nick } of this.abroad.leave(fullJid)) {
      const unavailable = xml('presence', { from: fullJid, to: `${roomJid}/${nick}`, type: 'unavailable' });
      this.handle(unavailable, session.jid, Jid.parse(`${roomJid}/${nick}`)).catch((err: unknown) => this.ctx.log.warn({ err, room: roomJid }, 'could not tell a room on another node that an occupant left'));
    }
  }

  // ---- a session handed over to another node (XEP-0198 resumption there; src/cluster/README.md) ----

  /**
   * On the owning node, in the step that detaches the session: the rooms it is in, those hosted here (this
   * node as host) and those hosted elsewhere (RoomsAbroad); undefined when it is in none.
   */
  exportSession(session: BoundSession): MucHandOver | undefined {
    const fullJid = session.jid.toString();
    const rooms: HandedOverStay[] = [];
    for (const room of this.joined.get(fullJid) ?? []) {
      const occupant = room.occupantByJid(fullJid);
      if (occupant !== undefined && this.rooms.get(room.jid) === room) rooms.push({ room: room.jid, nick: occupant.nick, host: this.ctx.config.nodeId });
    }
    for (const { roomJid, nick, host } of this.abroad.staysOf(fullJid)) rooms.push({ room: roomJid, nick, host });
    return rooms.length === 0 ? undefined : { rooms };
  }

  /**
   * On the taking node, before the session is bound here: a room hosted here now delivers to it directly; a
   * room hosted on another node (the old owner included) is one this node tells when the session ends (§7.14).
   */
  adoptSession(session: BoundSession, value: unknown): void {
    const fullJid = session.jid.toString();
    const { stays, rejected } = readHandOver(value);
    if (rejected === -1) this.ctx.log.warn({ jid: fullJid }, 'the MUC state of a session handed over from another node is not {rooms: [...]}; ignored');
    else if (rejected > 0) this.ctx.log.warn({ jid: fullJid, rejected }, 'malformed rooms in the MUC state of a session handed over from another node; ignored');
    const here = this.ctx.config.nodeId;
    const hosts = new Set<string>();
    for (const { room, nick, host } of stays) {
      if (Jid.tryParse(room)?.domain !== this.domain) {
        this.ctx.log.warn({ jid: fullJid, room }, 'a session handed over from another node names a room of another service; ignored');
        continue;
      }
      // Hosted here: the session is local now, no longer filed under the node it left.
      if (this.rooms.has(room)) this.occupantNodes.delete(fullJid);
      // Hosted elsewhere (the old owner included): this node now tells the host when the session ends.
      else if (host !== here) {
        this.abroad.note(fullJid, room, nick, undefined, host);
        hosts.add(host);
      }
      // Else a room the other node saw hosted here, gone since (emptied, destroyed): nothing to leave.
    }
    // The hosts file the session under the node it left; told, they send its copies here and no longer count it
    // among that node's sessions should that node die (§18.1.2). Until then the old node routes copies on.
    for (const host of hosts) {
      this.ctx.cluster
        .request(host, OCCUPANT_MOVED, { jid: fullJid, node: here }, OCCUPANT_MOVED_WAIT_MS, () => undefined)
        .catch((err: unknown) => this.ctx.log.warn({ err, host, jid: fullJid }, 'could not tell a room host that an occupant session moved here'));
    }
  }

  /** A room host hears that an occupant session moved to `node` (adoptSession there). */
  occupantMoved(body: unknown): null {
    const { jid, node } = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    if (typeof jid !== 'string' || typeof node !== 'string' || node === '') {
      this.ctx.log.warn({ body }, 'unreadable notice of an occupant session that moved; ignored');
      return null;
    }
    // Only occupants of rooms hosted here that are not local (a local session needs no node).
    if (this.joined.has(jid) && this.ctx.sessions.get(jid) === undefined) this.occupantNodes.set(jid, node);
    return null;
  }

  /**
   * On the old owner, as the session leaves for node `to`: rooms hosted here keep it as an occupant there (no
   * exit, §7.14 does not apply: the session lives on); its stays in rooms elsewhere are now `to`'s to end.
   */
  handedOver(session: BoundSession, to: string): void {
    const fullJid = session.jid.toString();
    if (this.joined.has(fullJid)) this.occupantNodes.set(fullJid, to);
    this.abroad.leave(fullJid);
  }

  /** §11.2: the service is going away; each occupant gets one unavailable self-presence with 332. */
  shutdown(): void {
    this.fanout.close();
    for (const room of this.rooms.values()) {
      for (const occupant of [...room.occupants()]) {
        room.broadcastPresence(occupant, { unavailable: true, codes: [332], selfOnly: true, payload: [] });
        room.removeOccupant(occupant);
      }
    }
    this.rooms.clear();
    this.joined.clear();
    this.forwarded.clear();
  }

  /** Forgets forwarded iqs nobody answered. */
  sweep(now = Date.now()): void {
    for (const [key, entry] of this.forwarded) {
      if (entry.expires > now) break;
      this.forwarded.delete(key);
    }
  }

  // ---- iq ----

  /** Answers an iq with a result, at once when the requester is a local session. */
  reply(stanza: Element, payload?: Element): void {
    const result = xml('iq', { type: 'result', id: stanza.attrs.id, from: stanza.attrs.to, to: stanza.attrs.from }, payload);
    this.sendNow(result);
  }

  /** The room an iq or disco query is about; unknown rooms, and locked ones to all but their owners, are item-not-found. */
  async roomFor(to: Jid, from: Jid): Promise<Room> {
    const room = await this.load(to.bareString());
    if (room === undefined || (room.locked && room.affiliation(from.bareString()) !== 'owner')) throw new StanzaError('item-not-found', 'no such room');
    return room;
  }

  /** Results and errors come back through occupant JIDs (§17.4); gets and sets to the service and rooms go to the IQ registry. */
  private async handleIq(stanza: Element, from: Jid, to: Jid): Promise<void> {
    const type = stanza.attrs.type;
    if (type === 'result' || type === 'error') {
      if (!to.isBare && to.local !== '') this.forwardedAnswer(stanza, from, to);
      return;
    }
    if (to.isBare) return this.ctx.dispatchIq(stanza, from);
    // The router let through only a get or set with exactly one child element (RFC 6120 §8.2.3).
    const payload = stanza.children.find((c): c is Element => c instanceof Element);
    if (payload === undefined || (type !== 'get' && type !== 'set')) throw new StanzaError('bad-request', 'an iq get or set needs exactly one child element');
    this.occupantIq(stanza, payload, from, to, type);
  }

  /** §6.3: public, unlocked rooms, live or stored, sorted by JID. */
  async publicRooms(): Promise<Map<string, string>> {
    const rooms = new Map<string, string>();
    for (const stored of await this.ctx.store.list(this.domain)) {
      if (this.rooms.has(stored.jid)) continue;
      const config = restoredConfig(stored.config, this.limits);
      if (config.public) rooms.set(stored.jid, config.name);
    }
    for (const room of this.rooms.values()) if (!room.locked && room.config.public) rooms.set(room.jid, room.config.name);
    return new Map([...rooms].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** §17.4: an iq to an occupant JID; a ping to one's own (XEP-0410) is answered by the room itself. */
  private occupantIq(stanza: Element, payload: Element, from: Jid, to: Jid, type: string): void {
    const room = this.rooms.get(to.bareString());
    const requester = room?.occupantByJid(from.toString());
    if (room === undefined || requester === undefined) {
      // §6.6 for disco; XEP-0410 §3.2 for everything else.
      if (payload.attrs.xmlns === NS.discoInfo || payload.attrs.xmlns === NS.discoItems) throw new StanzaError('bad-request', 'you are not in this room (§6.6)');
      throw new StanzaError('not-acceptable', 'you are not in this room');
    }
    if (type === 'get' && requester.nick === to.resource && payload.name === 'ping' && payload.attrs.xmlns === NS.ping) return this.reply(stanza);
    const target = room.occupant(to.resource);
    if (target === undefined) throw new StanzaError('item-not-found', `no occupant "${to.resource}" in this room`);
    if (this.forwarded.size >= MAX_FORWARDED_IQS) this.sweep();
    if (this.forwarded.size >= MAX_FORWARDED_IQS) throw new StanzaError('resource-constraint', 'too many requests in flight; try again later');
    const key = this.newId();
    const targetJid = target.shown;
    this.forwarded.set(key, {
      id: stanza.attrs.id ?? '',
      requester: from.toString(),
      requesterJid: room.occupantJid(requester.nick),
      target: targetJid,
      targetJid: room.occupantJid(target.nick),
      expires: Date.now() + FORWARDED_IQ_TIMEOUT_MS,
    });
    const forward = new Element('iq', { type, id: key, from: room.occupantJid(requester.nick), to: targetJid });
    forward.children.push(payload);
    if (!this.output.deliver(targetJid, forward)) {
      this.forwarded.delete(key);
      throw new StanzaError('recipient-unavailable', 'that occupant is not reachable now');
    }
  }

  /** The answer to a forwarded iq goes back to the requester, from the target's occupant JID. */
  private forwardedAnswer(stanza: Element, from: Jid, to: Jid): void {
    const entry = this.forwarded.get(stanza.attrs.id ?? '');
    if (entry === undefined || entry.target !== from.toString() || entry.requesterJid !== to.toString()) {
      // An error bounced by an occupant's session may mean it is gone (§18.1.2).
      if (stanza.attrs.type === 'error' && isDeliveryError(stanza)) {
        const room = this.rooms.get(to.bareString());
        const occupant = room?.occupantByJid(from.toString());
        if (room && occupant) exit(this, room, occupant, from.toString(), { codes: [333], payload: [] });
      }
      return;
    }
    this.forwarded.delete(stanza.attrs.id ?? '');
    const answer = new Element('iq', { type: stanza.attrs.type ?? 'result', id: entry.id, from: entry.targetJid, to: entry.requester });
    for (const child of stanza.children) if (child instanceof Element) answer.children.push(child);
    this.sendNow(answer);
  }
}
