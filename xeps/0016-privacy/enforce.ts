// Enforcement: the router's synchronous stanza filter, the hooks for the stanzas it never sees
// (subscription presence and messages for users with no available resource), and the presence a
// change of lists owes to contacts (XEP-0016 §2.11 notes; XEP-0191 §3.3 and §3.4).
import { StanzaError, StreamError, bounce } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import type { BoundSession, ModuleContext } from '../../src/modules/api.js';
import { Element, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { rosterMap, track, trackPresence, type PrivacyCache, type UserPrivacy } from './cache.js';
import { classify, decide, isOpen, peerFrom, peerOf, type Direction, type Peer, type Policy, type Verdict } from './engine.js';
import { SmallStringSet } from './small-set.js';

/** Stanzas held for one user while their lists load; more are refused with a 'wait' error. */
const MAX_HELD = 500;

function isErrorOrResult(stanza: Element): boolean {
  return stanza.attrs.type === 'error' || (stanza.name === 'iq' && stanza.attrs.type === 'result');
}

/** XEP-0016 §2.14 (not-acceptable) and XEP-0191 §3.3 (with <blocked/> when the block list stopped it). */
function notAcceptable(verdict: Verdict): StanzaError {
  const blocked = verdict === 'blocked' ? xml('blocked', { xmlns: NS.blockingErrors }) : undefined;
  return new StanzaError('not-acceptable', undefined, 'cancel', blocked);
}

function allowed(policy: Policy, direction: Direction, jid: string): boolean {
  const peer = peerFrom(jid);
  return !peer || decide(policy, direction, 'notification', peer) === 'allow';
}

export class PrivacyGuard {
  private readonly held = new Map<string, Array<{ session: BoundSession; stanza: Element }>>();
  /** Presence this module sends on a user's behalf, which the user's outbound rules must not stop. */
  private readonly exempt = new WeakSet<Element>();
  private readonly bounced = new WeakSet<Element>();

  constructor(private readonly ctx: ModuleContext, private readonly cache: PrivacyCache) {}

  // ---- the stanza filter ----

  /** A stanza a local user sends: outbound rules, answered with not-acceptable. */
  outgoing(stanza: Element, session: BoundSession): boolean {
    const to = stanza.attrs.to;
    if (to === undefined || to === this.ctx.domain) return true;
    const user = this.cache.get(session.jid.local);
    if (!user) throw new StanzaError('internal-server-error', 'privacy lists are still loading', 'wait');
    // Nothing blocked nor listed (the common case): no Policy built per stanza.
    if (user.isOpenFor(session)) return true;
    const policy = user.policy(session);
    const peer = peerFrom(to);
    if (!peer || this.isOwn(peer, session)) return true;
    const verdict = decide(policy, 'out', classify(stanza), peer);
    if (verdict === 'allow') return true;
    // Bounced here, not thrown: the router's bounce would come from the blocked JID and be stopped on its way back.
    if (!isErrorOrResult(stanza)) session.send(bounce(stanza, notAcceptable(verdict), this.ctx.domain));
    return false;
  }

  /**
   * A routed stanza about to reach a local session: the recipient's inbound rules (presence dropped
   * silently, message and iq get/set answered service-unavailable, XEP-0016 §2.14), and for presence
   * the server sends on a local sender's behalf, the sender's presence-out rules.
   */
  incoming(stanza: Element, session: BoundSession, replay = false): boolean {
    const username = session.jid.local;
    const user = this.cache.get(username);
    if (!replay && (!user || (this.held.size !== 0 && this.held.has(username)) || this.cache.adopting(session))) return this.hold(stanza, session);
    if (!user) return false;
    const from = stanza.attrs.from;
    if (from === undefined || from === this.ctx.domain) return true;
    const kind = classify(stanza);
    // Every copy of a fan-out passes here: the common case (no list, nothing blocked) allocates nothing.
    if (kind !== 'notification' && user.isOpenFor(session)) return true;
    const policy = user.policy(session);
    const sender = peerFrom(from);
    if (!sender || this.isOwn(sender, session)) return true;
    if (kind === 'notification' && !this.exempt.has(stanza) && !this.senderAllows(sender, session)) return false;
    if (!isOpen(policy) && decide(policy, 'in', kind, sender) !== 'allow') {
      // Bounced here rather than thrown, so that other resources still get a stanza sent to the bare JID,
      // and callers of ctx.deliver (offline messages) need not expect an exception.
      if (kind === 'message' || kind === 'iq') this.bounceOnce(stanza, new StanzaError('service-unavailable'));
      return false;
    }
    if (kind === 'notification') {
      const state = user.sessions.get(session);
      if (state) trackPresence(state.presenceFrom, stanza);
    }
    return true;
  }

  /** An address of the session's own account: never blocked (XEP-0016 §2.1 note). */
  private isOwn(jid: Jid | Peer, session: BoundSession): boolean {
    return jid.local === session.jid.local && jid.domain === session.jid.domain;
  }

  /** The sender's presence-out rules, for presence the server routes on a local user's behalf. */
  private senderAllows(sender: Peer, recipient: BoundSession): boolean {
    if (sender.domain !== this.ctx.domain || sender.local === '') return true;
    const user = this.cache.get(sender.local);
    if (!user) return true;
    const origin = sender.resource === '' ? undefined : this.ctx.sessions.get(sender.full);
    const policy = user.policy(origin);
    return isOpen(policy) || decide(policy, 'out', 'notification', peerOf(recipient.jid)) === 'allow';
  }

  /** Keeps a stanza for a session whose user's lists are not in memory yet; released when they are. */
  private hold(stanza: Element, session: BoundSession): boolean {
    const username = session.jid.local;
    let queue = this.held.get(username);
    if (!queue) {
      queue = [];
      this.held.set(username, queue);
      this.cache.attach(session).then(
        () => this.release(username),
        (err: unknown) => this.release(username, err),
      );
    }
    if (queue.length >= MAX_HELD) this.bounceOnce(stanza, new StanzaError('resource-constraint', 'the recipient is still logging in'));
    else queue.push({ session, stanza });
    return false;
  }

  private release(username: string, err?: unknown): void {
    const queue = this.held.get(username) ?? [];
    this.held.delete(username);
    for (const { session, stanza } of queue) {
      if (this.ctx.sessions.get(session.jid.toString()) !== session) continue;
      // Held behind another session of the user: this one, taken over from another node, may still be attaching.
      if (err === undefined && this.cache.adopting(session)) {
        this.hold(stanza, session);
        continue;
      }
      if (err !== undefined) {
        this.bounceOnce(stanza, new StanzaError('internal-server-error', 'privacy lists are unavailable; try again later', 'wait'));
        continue;
      }
      if (this.incoming(stanza, session, true)) session.send(stanza);
    }
  }

  /**
   * Answers a stanza with an error, as the router does (never an error or a result), once even when
   * the same stanza was on its way to several resources.
   */
  private bounceOnce(stanza: Element, error: StanzaError): void {
    if (isErrorOrResult(stanza) || this.bounced.has(stanza)) return;
    this.bounced.add(stanza);
    const reply = bounce(stanza, error, this.ctx.domain);
    void this.ctx.send(reply, Jid.tryParse(reply.attrs.from) ?? this.ctx.serverJid);
  }

  // ---- hooks ----

  /** 'session:bound': the lists are in memory before the client's first stanza is processed. */
  async bound(session: BoundSession): Promise<void> {
    try {
      await this.cache.attach(session);
    } catch (err) {
      // Failing open would deliver what the user blocked; the client may reconnect.
      this.ctx.log.error({ err, jid: session.jid.toString() }, 'privacy lists could not be loaded; closing the session');
      session.close(new StreamError('internal-server-error', 'privacy lists could not be loaded'));
    }
  }

  closed(session: BoundSession): void {
    this.cache.detach(session);
  }

  /** 'presence:directed': who has seen a session's presence without a subscription (RFC 6121 §4.6). */
  directed(session: BoundSession, stanza: Element, to: Jid): void {
    if (this.isOwn(to, session)) return;
    const state = this.cache.get(session.jid.local)?.sessions.get(session);
    if (!state) return;
    if (stanza.attrs.type === undefined) track((state.directedTo ??= new SmallStringSet()), to.toString(), true);
    else state.directedTo?.delete(to.toString());
  }

  /**
   * 'presence:subscription', inbound: subscription requests, answers and probes from a JID the user
   * blocked are dropped without an answer, before the roster is touched (XEP-0016 §2.2 rule 4).
   */
  async subscription(_stanza: Element, from: Jid, to: Jid, origin?: BoundSession): Promise<true | undefined> {
    if (origin || to.domain !== this.ctx.domain || to.local === '') return undefined;
    if (from.local === to.local && from.domain === to.domain) return undefined;
    return (await this.userAllows(to.local, 'presence', from)) ? undefined : true;
  }

  /** 'message:offline': a message the user blocked is answered service-unavailable, not stored. */
  async offline(stanza: Element, to: Jid): Promise<true | undefined> {
    const sender = Jid.tryParse(stanza.attrs.from);
    if (!sender || (sender.isDomain && sender.domain === this.ctx.domain)) return undefined;
    if (sender.local === to.local && sender.domain === to.domain) return undefined;
    if (await this.userAllows(to.local, 'message', sender)) return undefined;
    this.bounceOnce(stanza, new StanzaError('service-unavailable'));
    return true;
  }

  /**
   * A decision for the user as a whole, for what the server handles on the user's behalf: with
   * sessions here, denied only when every session's list denies it (each session still filters
   * what is then delivered to it); without, the default list (§2.2 rule 2).
   */
  private async userAllows(username: string, kind: 'message' | 'presence', sender: Jid): Promise<boolean> {
    const peer = peerOf(sender);
    const user = this.cache.get(username);
    if (user && user.sessions.size > 0) {
      for (const session of user.sessions.keys()) {
        const policy = user.policy(session);
        if (isOpen(policy) || decide(policy, 'in', kind, peer) === 'allow') return true;
      }
      return false;
    }
    const policy = await this.cache.policyOf(username);
    return isOpen(policy) || decide(policy, 'in', kind, peer) === 'allow';
  }

  // ---- presence owed after a change ----

  /** What applies to each session now, to compare with after a change. */
  snapshot(user: UserPrivacy): Map<BoundSession, Policy> {
    const policies = new Map<BoundSession, Policy>();
    for (const session of user.sessions.keys()) policies.set(session, user.policy(session));
    return policies;
  }

  /**
   * After a change: unavailable presence to contacts that may no longer see a session's presence and
   * its current presence to those that may again (XEP-0016 §2.11 note; XEP-0191 §3.3, §3.4);
   * unavailable to the session on behalf of senders it may no longer hear from, and a probe to
   * contacts it may hear from again.
   */
  async reconcile(user: UserPrivacy, before: ReadonlyMap<BoundSession, Policy>): Promise<void> {
    const changed: Array<[BoundSession, Policy, Policy]> = [];
    for (const [session, prev] of before) {
      if (!user.sessions.has(session)) continue;
      const now = user.policy(session);
      if (now.blocked !== prev.blocked || now.list !== prev.list) changed.push([session, prev, now]);
    }
    if (changed.length === 0) return;
    const roster = user.roster ?? rosterMap((await this.ctx.stores.roster.get(user.username)).items);
    const probes = new Set<string>();
    for (const [session, prev, now] of changed) {
      const state = user.sessions.get(session);
      if (!state) continue;
      if (session.presence.available) {
        const audience = new Set(state.directedTo);
        for (const [jid, entry] of roster) if (entry.subscription === 'from' || entry.subscription === 'both') audience.add(jid);
        for (const jid of audience) {
          const was = allowed(prev, 'out', jid);
          const is = allowed(now, 'out', jid);
          if (was && !is) this.sendAs(session, xml('presence', { type: 'unavailable', to: jid }));
          else if (!was && is && session.presence.stanza) {
            // A new element (sendAs marks it), sharing the children of the session's last presence.
            const current = new Element('presence', { ...session.presence.stanza.attrs, to: jid });
            current.children = session.presence.stanza.children;
            this.sendAs(session, current);
          }
        }
      }
      for (const jid of [...state.presenceFrom]) {
        if (!allowed(prev, 'in', jid) || allowed(now, 'in', jid)) continue;
        state.presenceFrom.delete(jid);
        session.send(xml('presence', { type: 'unavailable', from: jid, to: session.jid.toString() }));
      }
      for (const [jid, entry] of roster) {
        if ((entry.subscription === 'to' || entry.subscription === 'both') && !allowed(prev, 'in', jid) && allowed(now, 'in', jid)) probes.add(jid);
      }
    }
    const own = Jid.of(user.username, this.ctx.domain);
    for (const jid of probes) void this.ctx.send(xml('presence', { type: 'probe', from: own.toString(), to: jid }), own);
  }

  private sendAs(session: BoundSession, presence: Element): void {
    presence.attrs.from = session.jid.toString();
    this.exempt.add(presence);
    void this.ctx.send(presence, session.jid);
  }
}
