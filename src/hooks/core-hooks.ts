// The named hooks the core fires; modules add behaviour by listening here. A module that fires
// hooks of its own declares them by merging into this interface (through src/modules/api.ts).
import type { Jid } from '../jid.js';
import type { Outbound } from '../sessions/output.js';
import type { BoundSession } from '../sessions/types.js';
import type { RosterItem } from '../storage/types.js';
import type { Element } from '../xml/element.js';

export interface FeatureContext {
  readonly authenticated: boolean;
  readonly transport: BoundSession['transport'];
  /** TLS protects the connection (or it counts as secure: loopback or a trusted proxy). */
  readonly secure: boolean;
}

export interface PreauthClient {
  readonly remoteAddress: string;
  readonly secure: boolean;
  readonly transport: BoundSession['transport'];
}

/** Handlers that answer may answer after storage I/O. */
export type Awaitable<T> = T | Promise<T>;

export interface CoreHooks {
  /**
   * A resource is being bound: awaited before the bind result goes out, so that a client holding its JID is the
   * session others route to (the cluster registers it in the shared directory and ends the one it displaced).
   */
  'session:binding': (session: BoundSession) => void;
  /** A resource was bound (its bind result is on its way to the client). */
  'session:bound': (session: BoundSession) => void;
  /** A bound session ended, however it ended (close, dropped socket, timeout, replaced). */
  'session:closed': (session: BoundSession) => void;
  /**
   * A session's connection dropped and the session stays bound without one (XEP-0198 resumption enabled):
   * stanzas for it wait in its output stages until it is resumed ('session:resumed') or closed ('session:closed').
   */
  'session:hibernating': (session: BoundSession) => void;
  /** A session was resumed on a new stream (its <resumed/> and re-sent stanzas are out). */
  'session:resumed': (session: BoundSession) => void;
  /** A session handed over to node `to` (StreamSession.handOver) left this node: it lives on there, so no 'session:closed'. */
  'session:handed-over': (session: BoundSession, to: string) => void;
  /**
   * A stanza was given to a session kept bound without a connection ('session:hibernating'): it waits in the
   * session's output stages, and the client learns of it only if it resumes. Fired on the node holding the
   * session, whichever node routed the stanza (push notifications, XEP-0357, start from here).
   */
  'session:stanza-held': (session: BoundSession, stanza: Outbound) => void;
  /** Stream features after authentication, added to bind and session. */
  'stream:features': (features: Element[], context: FeatureContext) => Element[];
  /** Presence without 'to' from a client: an availability change to broadcast. */
  'presence:broadcast': (session: BoundSession, stanza: Element) => void;
  /** Directed presence (available or unavailable) a local user sent to `to` (RFC 6121 §4.6). */
  'presence:directed': (session: BoundSession, stanza: Element, to: Jid) => void;
  /** An iq from a client that has not authenticated yet (in-band registration); the reply, or undefined to refuse. */
  'c2s:preauth-iq': (iq: Element, client: PreauthClient) => Awaitable<Element | undefined>;
  /**
   * Subscription-related presence (subscribe, subscribed, unsubscribe, unsubscribed, probe); true when handled.
   * With `origin`, a local client sent it to any domain (outbound processing, RFC 6121 §3.1.2); the handler
   * routes it on. Without, it is addressed to a local user (inbound processing, §3.1.3).
   */
  'presence:subscription': (stanza: Element, from: Jid, to: Jid, origin?: BoundSession) => Awaitable<boolean | undefined>;
  /** A message to a local user with no available resource; true when stored for later delivery. */
  'message:offline': (stanza: Element, to: Jid) => Awaitable<boolean | undefined>;
  /**
   * A message a local user sent passed the outgoing filters and was routed (delivered, stored or bounced). The
   * sender's stream awaits it before its next stanza, so listeners see one sender's messages in order.
   */
  'message:sent': (stanza: Element, session: BoundSession) => Awaitable<void>;
  /**
   * A message to the local user `user` (bare JID) was handed by RFC 6121 §8.5 to `resources` (full JIDs, on this
   * node or on others; none when it was stored for later delivery). Fired once per message, on the node that chose
   * the resources: for a full JID the node holding it, for a bare JID the node that routed it.
   */
  'message:delivered': (stanza: Element, user: Jid, resources: readonly string[]) => Awaitable<void>;
  /** A roster item was stored (its new state) or removed, after the store write; modules that cache roster data follow it. */
  'roster:changed': (username: string, item: RosterItem | { jid: string; subscription: 'remove' }) => void;
  /** An account was deleted; modules drop the data they keep for it. */
  'account:deleted': (username: string) => void;
  /**
   * disco#info to the server with a 'node' (XEP-0030 §3.2): the module that owns the node answers with the whole
   * <query/> (node attribute included); undefined when the node is not its own. Nobody answering is item-not-found.
   */
  'disco:info-node': (node: string, from: Jid) => Awaitable<Element | undefined>;
  /** disco#items to the server with a 'node' (XEP-0030 §4.2), answered like 'disco:info-node'. */
  'disco:items-node': (node: string, from: Jid) => Awaitable<Element | undefined>;
  /**
   * Sessions that ended without their node saying so: the node stopped heartbeating (crash, kill -9,
   * partition) and a sweeper wiped them from the session directory, or this node restarted under the same
   * id and cleared its previous run's. Fired on one node only; their contacts must learn they are gone.
   */
  'cluster:sessions-lost': (sessions: Array<{ jid: Jid; available: boolean }>) => void;
  /**
   * Another node that this one saw alive stopped heartbeating or left the cluster. Fired on every node that
   * saw it go (within the heartbeat bound of src/cluster/README.md), before or after its sessions are wiped.
   */
  'cluster:node-down': (node: string) => void;
}
