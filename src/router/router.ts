// Stanza routing: RFC 6120 §8 addressing and RFC 6121 §8 delivery rules for message, presence and
// iq to the server, to bare JIDs and to full JIDs. In a cluster (`remote`), a full JID bound on another
// node is handed to that node, and a bare JID's resources on every node count for §8.5.2.
import { randomBytes } from 'node:crypto';
import type { RemoteSessions } from '../cluster/remote-sessions.js';
import { StanzaError, bounce } from '../errors.js';
import type { CoreHooks } from '../hooks/core-hooks.js';
import type { HookBus } from '../hooks/bus.js';
import { Jid } from '../jid.js';
import type { Logger } from '../observability/log.js';
import type { RoutingTimer } from '../observability/routing-metrics.js';
import type { LocalSessionRegistry } from '../sessions/local-registry.js';
import type { BoundSession, SessionRecord } from '../sessions/types.js';
import { StoreUnavailableError, type AccountStore } from '../storage/types.js';
import { Element, readdressed } from '../xml/element.js';
import { PreparedStanza } from '../xml/prepared.js';
import type { DomainIqTarget, IqRegistry, IqTarget, IqType } from './iq-registry.js';

/**
 * Receives every stanza addressed to a domain other than the server's own (components, MUC). `hops` is the
 * number of nodes the stanza passed before this one (0 when it entered the cluster here).
 */
export type DomainHandler = (stanza: Element, from: Jid, to: Jid, hops: number) => void | Promise<void>;

export interface RouterDeps {
  domain: string;
  sessions: LocalSessionRegistry;
  accounts: AccountStore;
  hooks: HookBus<CoreHooks>;
  iqs: IqRegistry;
  log: Logger;
  /** Sessions on other nodes of the cluster; absent when this node runs alone. */
  remote?: RemoteSessions;
  /** Times the routing of client stanzas (the metrics' ratatosk_routing_seconds). */
  routing?: RoutingTimer;
}

/**
 * A synchronous check on the hot path (privacy lists, blocking). Return false to stop the stanza
 * silently; throw a StanzaError to stop it and bounce it to its sender.
 */
export interface StanzaFilter {
  /** A stanza a local user sends, before it is routed. */
  outgoing?(stanza: Element, session: BoundSession): boolean;
  /** A routed stanza about to be handed to a local session. */
  incoming?(stanza: Element, session: BoundSession): boolean;
}

interface PendingIq {
  resolve(result: Element): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const PRESENCE_TYPES = new Set(['unavailable', 'subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'probe', 'error']);
const SUBSCRIPTION_TYPES = new Set(['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'probe']);
const MESSAGE_TYPES = new Set(['normal', 'chat', 'groupchat', 'headline', 'error']);
/** Nodes a stanza may pass through; past it, only this node's sessions count (stale records cannot bounce it around). */
const MAX_HOPS = 2;

/** A resource §8.5.2 chooses among: a session here, or a record of one on another node. */
type Candidate = { readonly available: boolean; readonly priority: number } & ({ readonly local: BoundSession } | { readonly remote: SessionRecord });

export class Router {
  readonly serverJid: Jid;
  private readonly domains = new Map<string, DomainHandler>();
  private readonly pending = new Map<string, PendingIq>();
  private readonly filters: StanzaFilter[] = [];
  /** Stanzas that came from another node, with the number of nodes they passed through. */
  private readonly hops = new WeakMap<Element, number>();

  constructor(private readonly deps: RouterDeps) {
    this.serverJid = Jid.parse(deps.domain);
  }

  addDomain(domain: string, handler: DomainHandler): () => void {
    const name = Jid.normaliseDomain(domain);
    if (name === this.deps.domain || this.domains.has(name)) throw new Error(`domain ${name} is already routed`);
    this.domains.set(name, handler);
    return () => {
      if (this.domains.get(name) === handler) this.domains.delete(name);
    };
  }

  isServedDomain(domain: string): boolean {
    return domain === this.deps.domain || this.domains.has(domain);
  }

  /** Adds a filter run on every stanza a local user sends and on every routed stanza before delivery. */
  addFilter(filter: StanzaFilter): () => void {
    this.filters.push(filter);
    return () => {
      const index = this.filters.indexOf(filter);
      if (index !== -1) this.filters.splice(index, 1);
    };
  }

  /**
   * A stanza from a bound client session: 'from' is stamped with the session's full JID. Undefined when it was
   * routed to the end at once (a chat message to a session here, with no listener that waits); else a promise
   * of the rest. Either way, the caller takes the session's next stanza only after it (RFC 6120 §10.1).
   */
  fromClient(session: BoundSession, stanza: Element): Promise<void> | undefined {
    const timer = this.deps.routing;
    const startedAt = timer ? timer.start() : 0;
    stanza.attrs.from = session.jid.toString();
    try {
      for (const filter of this.filters) if (filter.outgoing && !filter.outgoing(stanza, session)) return undefined;
    } catch (err) {
      this.reject(stanza, session.jid, err);
      return undefined;
    }
    const routing = this.dispatch(stanza, session.jid, session);
    if (routing !== undefined) return routing.then(() => this.sent(stanza, session, startedAt));
    return this.sent(stanza, session, startedAt);
  }

  /** The end of fromClient: the routing timed, then 'message:sent'. */
  private sent(stanza: Element, session: BoundSession, startedAt: number): Promise<void> | undefined {
    this.deps.routing?.routed(startedAt);
    if (stanza.name === 'message' && this.deps.hooks.has('message:sent')) return this.deps.hooks.emitNow('message:sent', stanza, session);
    return undefined;
  }

  /** Routes a stanza whose sender is already established (server, module, component, other node). */
  async route(stanza: Element, from: Jid, origin?: BoundSession): Promise<void> {
    await this.dispatch(stanza, from, origin);
  }

  /** route, without a promise when nothing had to be waited for; an error is answered to the sender, never thrown. */
  private dispatch(stanza: Element, from: Jid, origin?: BoundSession): Promise<void> | undefined {
    let routing: Promise<void> | undefined;
    try {
      if (stanza.name === 'message') routing = this.routeMessage(stanza, from);
      else if (stanza.name === 'presence') routing = this.routePresence(stanza, from, origin);
      else if (stanza.name === 'iq') routing = this.routeIq(stanza, from, origin);
      else throw new StanzaError('bad-request', `unknown stanza <${stanza.name}/>`);
    } catch (err) {
      this.reject(stanza, from, err);
      return undefined;
    }
    return routing?.catch((err: unknown) => this.reject(stanza, from, err));
  }

  /** Routes a stanza another node handed over: it holds the addressee here, or the stanza fell back. */
  async routeForwarded(stanza: Element, from: Jid, hops: number): Promise<void> {
    this.hops.set(stanza, hops);
    return this.route(stanza, from);
  }

  /** Bounces a stanza that could not be delivered (its node could not be reached in time) to its sender. */
  refuse(stanza: Element, from: Jid, error: StanzaError): void {
    this.reject(stanza, from, error);
  }

  /** Sends an iq from the server and waits for its result; rejects with the StanzaError of an error reply. */
  sendIq(iq: Element, timeoutMs = 30_000): Promise<Element> {
    const id = iq.attrs.id ?? randomBytes(9).toString('base64url');
    iq.attrs.id = id;
    iq.attrs.from ??= this.deps.domain;
    const key = this.pendingKey(id, iq.attrs.to ?? '');
    return new Promise<Element>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(new StanzaError('remote-server-timeout', `no answer to iq ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(key, { resolve, reject, timer });
      void this.route(iq, Jid.parse(iq.attrs.from ?? this.deps.domain));
    });
  }

  private pendingKey(id: string, peer: string): string {
    return `${peer}\u0000${id}`;
  }

  /** Answers a stanza that could not be handled; errors are never answered with errors. */
  private reject(stanza: Element, from: Jid, err: unknown): void {
    if (stanza.attrs.type === 'error' || (stanza.name === 'iq' && stanza.attrs.type === 'result')) return;
    let error: StanzaError;
    if (err instanceof StanzaError) error = err;
    else if (err instanceof StoreUnavailableError) {
      // Storage is down (RFC 6120 §8.3.2: 'wait' means retry later); the sender keeps the stanza.
      this.deps.log.warn({ err: err.message }, 'stanza refused: storage unavailable');
      error = new StanzaError('internal-server-error', 'storage is temporarily unavailable; try again later', 'wait');
    } else {
      this.deps.log.error({ err, stanza: stanza.toString().slice(0, 500) }, 'stanza handling failed');
      error = new StanzaError('internal-server-error');
    }
    const reply = bounce(stanza, error, this.deps.domain);
    reply.attrs.to = from.toString();
    void this.route(reply, Jid.tryParse(reply.attrs.from) ?? this.serverJid);
  }

  private parseTo(stanza: Element): Jid | undefined {
    const to = stanza.attrs.to;
    if (to === undefined || to === '') return undefined;
    const jid = Jid.tryParse(to);
    if (!jid) throw new StanzaError('jid-malformed', `invalid 'to' address "${to}"`);
    return jid;
  }

  /** Hands a stanza for another domain to its handler; true if it was not ours to deliver. */
  private async toOtherDomain(stanza: Element, from: Jid, to: Jid): Promise<boolean> {
    if (to.domain === this.deps.domain) return false;
    const handler = this.domains.get(to.domain);
    if (!handler) throw new StanzaError('remote-server-not-found', `${to.domain} is not served here and server-to-server is not enabled`);
    await handler(stanza, from, to, this.hops.get(stanza) ?? 0);
    return true;
  }

  // ---- other nodes ----

  private remoteFor(stanza: Element): RemoteSessions | undefined {
    const remote = this.deps.remote;
    // Alone (no cluster), no hop count to look up for every message.
    if (remote === undefined) return undefined;
    return (this.hops.get(stanza) ?? 0) < MAX_HOPS ? remote : undefined;
  }

  /** Hands a stanza for a full JID not bound here to the node that holds it; false when no node does. */
  private async forwardToOwner(stanza: Element, from: Jid, to: Jid): Promise<boolean> {
    const remote = this.remoteFor(stanza);
    const record = await remote?.find(to.toString());
    if (!remote || !record) return false;
    remote.forward(record.node, stanza, from, (this.hops.get(stanza) ?? 0) + 1);
    return true;
  }

  /** A bare JID's resources, here and on other nodes. */
  private async candidates(stanza: Element, bare: Jid): Promise<Candidate[]> {
    const local = this.localCandidates(bare);
    const remote = this.remoteFor(stanza);
    if (!remote) return local;
    const elsewhere = await remote.resources(bare.toString());
    return elsewhere.length === 0 ? local : [...local, ...elsewhere.map((r) => ({ remote: r, available: r.available, priority: r.priority }))];
  }

  private localCandidates(bare: Jid): Candidate[] {
    return this.deps.sessions.resources(bare.toString()).map((s) => ({ local: s, available: s.presence.available, priority: s.presence.priority }));
  }

  /**
   * Hands the stanza to each candidate: here directly, elsewhere one bus message per node. With
   * `fallback`, a stanza that only one other node was to take and finds nobody there is routed again.
   * Returns the full JIDs it went to: here those the incoming filters let through, elsewhere all.
   */
  private deliverTo(candidates: readonly Candidate[], stanza: Element, from: Jid, fallback = false): string[] {
    const remote: SessionRecord[] = [];
    const handed: string[] = [];
    let here = 0;
    for (const c of candidates) {
      if ('local' in c) {
        if (this.deliver(c.local, stanza)) handed.push(c.local.jid.toString());
        here++;
      } else {
        remote.push(c.remote);
        handed.push(c.remote.jid.toString());
      }
    }
    if (remote.length === 0 || !this.deps.remote) return handed;
    const oneNode = remote.every((r) => r.node === remote[0]?.node);
    this.deps.remote.deliver(remote, stanza, from, (this.hops.get(stanza) ?? 0) + 1, { fallback: fallback && here === 0 && oneNode });
    return handed;
  }

  // ---- message (RFC 6121 §8.5.2.1.1, §8.5.2.2.1, §8.5.3) ----

  /** Synchronous up to a session here (the common case); a promise when something must be waited for. */
  private routeMessage(stanza: Element, from: Jid): Promise<void> | undefined {
    const type = MESSAGE_TYPES.has(stanza.attrs.type ?? '') ? (stanza.attrs.type as string) : 'normal';
    const to = this.parseTo(stanza) ?? from.bare();
    if (to.domain !== this.deps.domain) return this.toOtherDomain(stanza, from, to).then(() => undefined);
    if (to.local === '') {
      // Messages to the server itself: no module claims them yet.
      if (type === 'error' || type === 'headline') return undefined;
      throw new StanzaError('service-unavailable');
    }
    if (!to.isBare) {
      const session = this.deps.sessions.get(to.toString());
      if (session) return this.deliver(session, stanza) ? this.delivered(stanza, to, [to.toString()]) : undefined;
      return this.messageToAbsentResource(stanza, from, to, type);
    }
    return this.messageToBare(stanza, to, type, from);
  }

  /** A message to a full JID not bound here: to the node that holds it, else as to the bare JID (§8.5.3.2.1). */
  private async messageToAbsentResource(stanza: Element, from: Jid, to: Jid, type: string): Promise<void> {
    if (await this.forwardToOwner(stanza, from, to)) return;
    if (type === 'error' || type === 'headline') return;
    if (type === 'groupchat') throw new StanzaError('service-unavailable');
    await this.messageToBare(stanza, to.bare(), type, from);
  }

  private messageToBare(stanza: Element, bare: Jid, type: string, from: Jid): Promise<void> | undefined {
    // One node and one resource, available with a non-negative priority (most chat): what §8.5.2.1.1 chooses
    // below, without building the candidate lists.
    const sole = type === 'error' || type === 'groupchat' || this.remoteFor(stanza) ? undefined : this.deps.sessions.sole(bare.toString());
    if (sole !== undefined && sole.presence.available && sole.presence.priority >= 0) {
      return this.deliver(sole, stanza) ? this.delivered(stanza, bare, [sole.jid.toString()]) : undefined;
    }
    return this.messageToResources(stanza, bare, type, from);
  }

  /** §8.5.2 in full: the candidates here and on other nodes, offline storage when none is available. */
  private async messageToResources(stanza: Element, bare: Jid, type: string, from: Jid): Promise<void> {
    // One node (or a stanza past its hops): no lookup to wait for.
    const all = this.remoteFor(stanza) ? await this.candidates(stanza, bare) : this.localCandidates(bare);
    if (all.length === 0 && !(await this.deps.accounts.exists(bare.local))) {
      if (type === 'error') return;
      throw new StanzaError('service-unavailable', 'no such user');
    }
    if (type === 'error') return;
    if (type === 'groupchat') throw new StanzaError('service-unavailable');
    const available = all.filter((c) => c.available && c.priority >= 0);
    if (available.length === 0) {
      if (type === 'headline') return;
      if (await this.deps.hooks.fire('message:offline', stanza, bare)) return this.delivered(stanza, bare, []);
      throw new StanzaError('service-unavailable', 'the recipient is offline');
    }
    const top = Math.max(...available.map((c) => c.priority));
    const chosen = type === 'headline' ? available : available.filter((c) => c.priority === top);
    const handed = this.deliverTo(chosen, stanza, from, type !== 'headline');
    // Stopped by every filter here and sent nowhere else: as if it had not come.
    if (handed.length > 0) await this.delivered(stanza, bare, handed);
  }

  /** Tells listeners which of a local user's resources §8.5 gave a message to (none: stored for later). */
  private delivered(stanza: Element, user: Jid, resources: readonly string[]): Promise<void> | undefined {
    return this.deps.hooks.emitNow('message:delivered', stanza, user.bare(), resources);
  }

  // ---- presence (RFC 6121 §4.6, §8.5.2.1.3, §8.5.3.2.3) ----

  private async routePresence(stanza: Element, from: Jid, origin?: BoundSession): Promise<void> {
    const type = stanza.attrs.type;
    if (type !== undefined && !PRESENCE_TYPES.has(type)) throw new StanzaError('bad-request', `unknown presence type "${type}"`);
    const to = this.parseTo(stanza);
    if (!to) {
      if (origin && (type === undefined || type === 'unavailable')) {
        const priority = Number.parseInt(stanza.getChildText('priority') ?? '0', 10);
        origin.presence.available = type === undefined;
        origin.presence.priority = Number.isFinite(priority) ? Math.max(-128, Math.min(127, priority)) : 0;
        origin.presence.stanza = stanza;
        await this.deps.hooks.emit('presence:broadcast', origin, stanza);
      }
      return;
    }
    if (origin && (type === undefined || type === 'unavailable')) await this.deps.hooks.emit('presence:directed', origin, stanza, to);
    // Outbound subscription management (RFC 6121 §3) runs for every addressee, local or not; the IM module routes it on.
    if (origin && type !== undefined && SUBSCRIPTION_TYPES.has(type) && (await this.deps.hooks.fire('presence:subscription', stanza, from, to, origin))) return;
    if (await this.toOtherDomain(stanza, from, to)) return;
    if (to.local === '') return;
    if (!to.isBare) {
      const session = this.deps.sessions.get(to.toString());
      // Inbound subscription work and probe answers for a resource happen on the node that holds it.
      if (!session && (await this.forwardToOwner(stanza, from, to))) return;
      if (type === undefined || !SUBSCRIPTION_TYPES.has(type)) {
        if (session) this.deliver(session, stanza);
        return;
      }
    }
    if (type !== undefined && SUBSCRIPTION_TYPES.has(type)) {
      await this.deps.hooks.fire('presence:subscription', stanza, from, to);
      return;
    }
    if (type === 'error') return;
    this.deliverTo((await this.candidates(stanza, to)).filter((c) => c.available), stanza, from);
  }

  // ---- iq (RFC 6120 §8.2.3, RFC 6121 §8.5) ----

  private async routeIq(stanza: Element, from: Jid, origin?: BoundSession): Promise<void> {
    const type = stanza.attrs.type;
    if (type === 'result' || type === 'error') return this.routeIqResponse(stanza, from);
    const payload = requestPayload(stanza);
    const to = this.parseTo(stanza);
    if (to && (await this.toOtherDomain(stanza, from, to))) return;

    let target: IqTarget;
    if (!to || (to.isBare && to.local === from.local && from.domain === this.deps.domain)) target = 'self';
    else if (to.local === '') target = 'host';
    else if (to.isBare) target = 'bare';
    else {
      const session = this.deps.sessions.get(to.toString());
      if (session) this.deliver(session, stanza);
      else if (!(await this.forwardToOwner(stanza, from, to))) throw new StanzaError('service-unavailable');
      return;
    }
    if (target === 'bare' && to && this.deps.sessions.resources(to.toString()).length === 0 && !(await this.deps.accounts.exists(to.local))) {
      throw new StanzaError('service-unavailable', 'no such user');
    }

    await this.answerIq(stanza, payload, target, from, to ?? from.bare(), origin);
  }

  /**
   * An iq get or set to another domain served here, which that domain's handler keeps on this node: answered
   * from the IQ handlers registered for the domain (a DomainIqTarget), under the same rules as the server's
   * own (RFC 6120 §8.2.3). Errors go back to the sender; nothing is thrown.
   */
  async dispatchIq(stanza: Element, from: Jid): Promise<void> {
    try {
      const payload = requestPayload(stanza);
      const to = this.parseTo(stanza);
      if (!to || !this.domains.has(to.domain)) throw new StanzaError('service-unavailable', `${to?.domain ?? 'no domain'} has no IQ handlers here`);
      const target: DomainIqTarget = { domain: to.domain, to: to.local === '' ? 'service' : to.isBare ? 'bare' : 'full' };
      await this.answerIq(stanza, payload, target, from, to);
    } catch (err) {
      this.reject(stanza, from, err);
    }
  }

  private async answerIq(stanza: Element, payload: Element, target: IqTarget, from: Jid, to: Jid, origin?: BoundSession): Promise<void> {
    const ns = payload.attrs.xmlns ?? '';
    const handler = this.deps.iqs.lookup(stanza.attrs.type as IqType, target, ns, payload.name);
    if (!handler) throw new StanzaError('service-unavailable', `no handler for ${payload.name} in ${ns || 'no namespace'}`);
    const result = await handler({ stanza, payload, from, to, ...(origin ? { session: origin } : {}) });
    const reply = new Element('iq', { type: 'result', id: stanza.attrs.id, to: from.toString() });
    if (stanza.attrs.to) reply.attrs.from = stanza.attrs.to;
    if (result) reply.cnode(result);
    await this.route(reply, to);
  }

  private async routeIqResponse(stanza: Element, from: Jid): Promise<void> {
    const to = this.parseTo(stanza);
    if (to && (await this.toOtherDomain(stanza, from, to))) return;
    // To the server, or to a bare JID here: the server's own (sendIq), also those sent from an account's bare JID.
    if (!to || to.local === '' || to.isBare) {
      const key = this.pendingKey(stanza.attrs.id ?? '', from.toString());
      const waiting = this.pending.get(key);
      if (!waiting) return;
      this.pending.delete(key);
      clearTimeout(waiting.timer);
      if (stanza.attrs.type === 'result') waiting.resolve(stanza);
      else waiting.reject(StanzaError.fromStanza(stanza) ?? new StanzaError('undefined-condition'));
      return;
    }
    const session = this.deps.sessions.get(to.toString());
    if (session) this.deliver(session, stanza);
    else await this.forwardToOwner(stanza, from, to);
  }

  /** Hands a routed stanza to a local session unless a filter (privacy lists, blocking) stops it; false when stopped. */
  deliver(session: BoundSession, stanza: Element): boolean {
    for (const filter of this.filters) if (filter.incoming && !filter.incoming(stanza, session)) return false;
    session.send(stanza);
    return true;
  }

  /** The fan-out form of deliver: filters see the element addressed to the session; the text is serialised once for all. */
  deliverPrepared(session: BoundSession, prepared: PreparedStanza): boolean {
    const to = session.jid.toString();
    prepared.element.attrs.to = to;
    for (const filter of this.filters) if (filter.incoming && !filter.incoming(prepared.element, session)) return false;
    session.sendText(prepared.for(to));
    return true;
  }

  /**
   * A fan-out to many bare JIDs of this domain (a presence broadcast to a user's contacts): what routing
   * the stanza to each of them would do for presence (RFC 6121 §8.5.2.1.3: every available resource), with
   * the stanza serialised once. Each session here gets its copy addressed to its full JID through the
   * incoming filters (deliverPrepared); sessions on other nodes get one bus message per node, whose copies
   * that node addresses and filters the same way. A filter that throws bounces that copy to the sender.
   */
  async deliverToBareJids(stanza: Element, from: Jid, bareJids: Iterable<string>): Promise<void> {
    const remote = this.remoteFor(stanza);
    const to = stanza.attrs.to;
    const prepared = new PreparedStanza(stanza);
    const lookups: Array<Promise<SessionRecord[]>> = [];
    for (const bare of bareJids) {
      for (const session of this.deps.sessions.resources(bare)) {
        if (!session.presence.available) continue;
        try {
          this.deliverPrepared(session, prepared);
        } catch (err) {
          this.reject(readdressed(stanza, session.jid.toString()), from, err);
        }
      }
      if (remote) lookups.push(remote.resources(bare));
    }
    if (to === undefined) delete stanza.attrs.to;
    else stanza.attrs.to = to;
    if (!remote || lookups.length === 0) return;
    const elsewhere = (await Promise.all(lookups)).flat().filter((r) => r.available);
    if (elsewhere.length > 0) remote.deliver(elsewhere, stanza, from, (this.hops.get(stanza) ?? 0) + 1, { readdress: true });
  }
}

/** RFC 6120 §8.2.3: an iq get or set has an id and exactly one child element, its payload. */
function requestPayload(stanza: Element): Element {
  const { type, id } = stanza.attrs;
  if (!id) throw new StanzaError('bad-request', "an iq needs an 'id'");
  if (type !== 'get' && type !== 'set') throw new StanzaError('bad-request', `iq type must be get, set, result or error, not "${type ?? ''}"`);
  const children = stanza.children.filter((c): c is Element => c instanceof Element);
  if (children.length !== 1 || !children[0]) throw new StanzaError('bad-request', `an iq ${type} must have exactly one child element`);
  return children[0];
}
