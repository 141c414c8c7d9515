// Presence subscriptions (RFC 6121 §3): the state machine of Appendix A, outbound processing of what a
// local user sends (§3.1.2, §3.1.5, §3.2.2, §3.3.2, pre-approval §3.4), inbound processing of what reaches
// a local user (§3.1.3, §3.1.6, §3.2.3, §3.3.3), pending requests kept until answered, and probes (§4.3.2).
// In a cluster the node that processes a stanza also delivers it to the user's resources on other nodes.
import { bounce, StanzaError } from '../../src/errors.js';
import type { Jid } from '../../src/jid.js';
import type { BoundSession, RosterItem, SubscriptionState } from '../../src/modules/api.js';
import { parseElement, xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { MAX_ROSTER_SIZE } from './roster.js';
import { hasFrom, hasTo, readdress, subscriptionOf, type Im } from './shared.js';

export type SubscriptionType = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';
const SUBSCRIPTION_TYPES: ReadonlySet<string> = new Set<SubscriptionType>(['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed']);

/** A user's side of the relation with one contact: the roster item's state plus a pending inbound request. */
export interface SubState {
  subscription: SubscriptionState;
  /** Pending out: the user asked for the contact's presence (ask='subscribe'). */
  ask: boolean;
  /** The user pre-approved the contact's request (§3.4). */
  approved: boolean;
  /** Pending in: the contact asked for the user's presence and the user has not answered. */
  pendingIn: boolean;
}

export interface Outcome {
  /** Outbound: route the stanza to the contact. Inbound: deliver it to the user's available resources. */
  pass: boolean;
  next: SubState;
  /** Inbound: the server answers `subscribed` for the user (existing subscription, pre-approval). */
  autoReply?: boolean;
}

/** Appendix A.2: a stanza the user sends to the contact. */
export function outbound(type: SubscriptionType, s: SubState): Outcome {
  const to = hasTo(s.subscription);
  const from = hasFrom(s.subscription);
  switch (type) {
    case 'subscribe': // A.2.1: always routed; pending out unless already subscribed
      return { pass: true, next: to ? s : { ...s, ask: true } };
    case 'unsubscribe': // A.2.2: always routed; no 'to', no pending out
      return { pass: true, next: { ...s, subscription: subscriptionOf(false, from), ask: false } };
    case 'subscribed': // A.2.3: approves a pending request; otherwise a pre-approval (§3.4.1) unless already 'from'
      if (s.pendingIn && !from) return { pass: true, next: { ...s, subscription: subscriptionOf(to, true), pendingIn: false, approved: false } };
      if (!from) return { pass: false, next: { ...s, approved: true } };
      return { pass: false, next: s };
    case 'unsubscribed': // A.2.4: denies a pending request or cancels 'from'; always cancels a pre-approval (§3.4.2)
      if (s.pendingIn || from) return { pass: true, next: { ...s, subscription: subscriptionOf(to, false), pendingIn: false, approved: false } };
      return { pass: false, next: { ...s, approved: false } };
  }
}

/** Appendix A.3: a stanza the contact sent reaches the user. */
export function inbound(type: SubscriptionType, s: SubState): Outcome {
  const to = hasTo(s.subscription);
  const from = hasFrom(s.subscription);
  switch (type) {
    case 'subscribe': // A.3.1, §3.1.3, §3.4
      if (from) return { pass: false, next: s, autoReply: true };
      if (s.approved) return { pass: false, next: { ...s, subscription: subscriptionOf(to, true), approved: false, pendingIn: false }, autoReply: true };
      if (s.pendingIn) return { pass: false, next: s };
      return { pass: true, next: { ...s, pendingIn: true } };
    case 'unsubscribe': // A.3.2
      if (s.pendingIn || from) return { pass: true, next: { ...s, subscription: subscriptionOf(to, false), pendingIn: false } };
      return { pass: false, next: s };
    case 'subscribed': // A.3.3
      if (s.ask && !to) return { pass: true, next: { ...s, subscription: subscriptionOf(true, from), ask: false } };
      return { pass: false, next: s };
    case 'unsubscribed': // A.3.4
      if (s.ask || to) return { pass: true, next: { ...s, subscription: subscriptionOf(false, from), ask: false } };
      return { pass: false, next: s };
  }
}

const NONE: SubState = { subscription: 'none', ask: false, approved: false, pendingIn: false };

function stateOf(item: RosterItem | undefined, pendingIn: boolean): SubState {
  return item ? { subscription: item.subscription, ask: item.ask, approved: item.approved, pendingIn } : { ...NONE, pendingIn };
}

function sameItemState(a: SubState, b: SubState): boolean {
  return a.subscription === b.subscription && a.ask === b.ask && a.approved === b.approved;
}

/** What a transition did, for the presence the user's resources now owe the contact. */
interface Applied {
  outcome: Outcome;
  gainedFrom: boolean;
  lostFrom: boolean;
}

export function setupSubscriptions(im: Im): void {
  const { ctx } = im;
  const stores = ctx.stores;

  const hasPendingRequest = async (username: string, contact: string): Promise<boolean> =>
    (await stores.subscriptionRequests.list(username)).some((r) => r.from === contact);

  /**
   * Applies one transition to `username`'s relation with `contact` under the user's roster lock: the roster
   * item (created only when it carries state), the pending request, and a roster push when the item changed.
   */
  const transition = (
    username: string,
    contact: string,
    decide: (state: SubState) => Outcome,
    options: { request?: Element; refuseWhenFull?: boolean } = {},
  ): Promise<Applied> =>
    im.rosters.run(username, async () => {
      const [item, pendingIn] = await Promise.all([stores.roster.getItem(username, contact), hasPendingRequest(username, contact)]);
      const before = stateOf(item, pendingIn);
      const outcome = decide(before);
      const { next } = outcome;
      if (!sameItemState(before, next)) {
        const carriesState = next.subscription !== 'none' || next.ask || next.approved;
        if (item || carriesState) {
          if (!item && options.refuseWhenFull && (await stores.roster.count(username)) >= MAX_ROSTER_SIZE) {
            throw new StanzaError('not-allowed', `the roster is full (${MAX_ROSTER_SIZE} items)`);
          }
          const updated: RosterItem = { jid: contact, groups: [], ...item, subscription: next.subscription, ask: next.ask, approved: next.approved };
          im.push(username, updated, await stores.roster.setItem(username, updated));
        }
      }
      if (!before.pendingIn && next.pendingIn && options.request) {
        await stores.subscriptionRequests.put(username, { from: contact, stanza: options.request.toString(), createdAt: Date.now() });
      } else if (before.pendingIn && !next.pendingIn) {
        await stores.subscriptionRequests.remove(username, contact);
      }
      const hadFrom = hasFrom(before.subscription);
      const hasNowFrom = hasFrom(next.subscription);
      return { outcome, gainedFrom: !hadFrom && hasNowFrom, lostFrom: hadFrom && !hasNowFrom };
    });

  /** After a change of 'from': the contact gets the user's presence, or its end (§3.1.5, §3.2.2, §3.3.3). */
  const settlePresence = async (username: string, contact: string, applied: Applied): Promise<void> => {
    if (applied.gainedFrom) await im.sendPresenceOf(username, contact);
    else if (applied.lostFrom) await im.sendUnavailableOf(username, contact);
  };

  /** §3.1.2 and the like: what a local client sends, processed for the sender and routed on from its bare JID. */
  const processOutbound = async (stanza: Element, type: SubscriptionType, session: BoundSession, to: Jid): Promise<void> => {
    const username = session.jid.local;
    const user = session.jid.bare();
    const contact = to.bare();
    if (contact.equals(user)) return; // one's own presence needs no subscription
    let applied: Applied;
    try {
      applied = await transition(username, contact.toString(), (s) => outbound(type, s), { refuseWhenFull: true });
    } catch (err) {
      if (!(err instanceof StanzaError)) throw err;
      ctx.deliver(session, bounce(stanza, err, ctx.domain));
      return;
    }
    if (applied.outcome.pass) {
      const routed = readdress(stanza, { from: user.toString(), to: contact.toString() });
      await ctx.send(routed, user);
    }
    await settlePresence(username, contact.toString(), applied);
  };

  /** §3.1.3 and the like: a subscription stanza for a local user, from a local user or from elsewhere. */
  const processInbound = async (stanza: Element, type: SubscriptionType, from: Jid, to: Jid): Promise<void> => {
    const username = to.local;
    const user = to.bare().toString();
    const contact = from.bare().toString();
    if (contact === user) return;
    if (!(await im.userExists(username))) {
      // §8.5.1: answer a request to nobody with 'unsubscribed'; ignore the rest.
      if (type === 'subscribe') await ctx.send(xml('presence', { type: 'unsubscribed', from: user, to: contact }), to.bare());
      return;
    }
    const request = readdress(stanza, { from: contact, to: user });
    const applied = await transition(username, contact, (s) => inbound(type, s), { request });
    if (applied.outcome.pass) {
      for (const session of im.available(username)) ctx.deliver(session, request);
      const elsewhere = await im.availableElsewhere(username);
      if (elsewhere.length > 0) ctx.cluster.deliverRemote(elsewhere, request);
    }
    if (applied.outcome.autoReply) {
      await ctx.send(xml('presence', { type: 'subscribed', from: user, to: contact }), to.bare());
      // The contact may have lost track: give it the presence it is entitled to.
      if (!applied.gainedFrom) await im.sendPresenceOf(username, contact);
    }
    await settlePresence(username, contact, applied);
  };

  /**
   * §4.3.2: a probe reveals presence only to a JID the user shares presence with ('from' or 'both'). One
   * to a full JID is answered by the node that holds it (the router forwards it there), with the user's
   * available resources on that node: this is how another node asks for them (Im.sendPresenceOf), even
   * for the user's own other resources.
   */
  const processProbe = async (from: Jid, to: Jid): Promise<void> => {
    const username = to.local;
    const user = to.bare().toString();
    const prober = from.bare().toString();
    // To a full JID: this node's resources answer, not those the directory lists elsewhere.
    const elsewhere = to.isBare ? undefined : [];
    if (prober === user) {
      if (elsewhere) await im.sendPresenceOf(username, from.toString(), elsewhere);
      return;
    }
    const unsubscribed = (): Promise<void> => ctx.send(xml('presence', { type: 'unsubscribed', from: user, to: prober }), to.bare());
    if (!(await im.userExists(username))) return unsubscribed();
    const item = await stores.roster.getItem(username, prober);
    if (item && hasFrom(item.subscription)) return im.sendPresenceOf(username, from.toString(), elsewhere);
    // Answering a pending request's author with 'unsubscribed' would cancel its request (A.3.4); say nothing then.
    if (await hasPendingRequest(username, prober)) return;
    return unsubscribed();
  };

  ctx.hook('presence:subscription', async (stanza, from, to, origin) => {
    const type = stanza.attrs.type as string | undefined;
    if (type === 'probe') {
      if (origin) return undefined; // a client's own probe is routed as it is
      if (!im.isLocalUser(to)) return undefined;
      await processProbe(from, to);
      return true;
    }
    if (type === undefined || !SUBSCRIPTION_TYPES.has(type)) return undefined;
    const subscription = type as SubscriptionType;
    if (!origin && !im.isLocalUser(to)) return undefined;
    try {
      if (origin) await processOutbound(stanza, subscription, origin, to);
      else await processInbound(stanza, subscription, from, to);
    } catch (err) {
      // Handled either way: a half-processed subscription must not be routed on as if nothing happened.
      ctx.log.error({ err, type, from: from.toString(), to: to.toString() }, 'subscription processing failed');
      if (origin) ctx.deliver(origin, bounce(stanza, new StanzaError('internal-server-error', 'the subscription could not be processed; try again later', 'wait'), ctx.domain));
    }
    return true;
  });
}

/** §3.1.3: requests still unanswered are delivered again when a resource becomes available. */
export async function deliverPendingRequests(im: Im, session: BoundSession): Promise<void> {
  const { ctx } = im;
  for (const request of await ctx.stores.subscriptionRequests.list(session.jid.local)) {
    let stanza: Element;
    try {
      stanza = parseElement(request.stanza);
    } catch (err) {
      ctx.log.warn({ err, user: session.jid.local, from: request.from }, 'stored subscription request is not XML; dropped');
      await ctx.stores.subscriptionRequests.remove(session.jid.local, request.from);
      continue;
    }
    if (!stanza.getChild('delay', NS.delay)) stanza.cnode(xml('delay', { xmlns: NS.delay, from: ctx.domain, stamp: new Date(request.createdAt).toISOString() }));
    ctx.deliver(session, stanza);
  }
}
