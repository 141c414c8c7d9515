// The cluster bus: one channel per node, and the few kinds of message nodes send each other.
// local-bus.ts is the single-node bus (nobody to talk to); redis-bus.ts is Redis pub/sub.
import type { Element } from '../xml/element.js';

/** How the receiving node treats a stanza. */
export type StanzaMode =
  /** Route it as if it had arrived there: it holds the full JID the stanza is addressed to. */
  | 'route'
  /** Hand it to the listed sessions through the incoming stanza filters, without routing it again. */
  | 'deliver';

/**
 * Set by the sending outbox (outbox.ts) on everything it sends to one node: `seq` numbers the messages of
 * this process (`boot`) to that node from 1; every seq below `base` is settled (acknowledged, or given up
 * and handled by a fallback), so the receiver need not wait for it. The receiver hands messages on in seq
 * order only and acknowledges the highest it handed on (inbox.ts); see README.md, "Delivery guarantee".
 */
export interface Sequenced {
  readonly boot?: string;
  readonly seq?: number;
  readonly base?: number;
}

export interface StanzaMessage extends Sequenced {
  readonly kind: 'stanza';
  /** The sending node. */
  readonly origin: string;
  /** Set by the bus: the same for every retry of one message, so the receiver can drop a second copy. */
  readonly id?: string;
  readonly mode: StanzaMode;
  /** The sender as the sending router knew it (the stanza's own 'from' may be absent). */
  readonly from: string;
  /** Nodes the stanza has passed through so far; the router stops forwarding past a small bound. */
  readonly hops: number;
  /** 'deliver': the full JIDs to hand it to, all held by the receiving node. */
  readonly targets: readonly string[];
  /** 'deliver': only to sessions carrying this flag (roster pushes go to interested resources). */
  readonly flag?: string;
  /** 'deliver': each copy addressed ('to') to its session's full JID. */
  readonly readdress?: boolean;
  /**
   * 'deliver': when none of the targets is still there, route it again (other resources, offline storage).
   * With `readdress`, per target: each target not bound on the receiving node has its copy, addressed to it,
   * routed again there (a session handed over to another node is found where it is now).
   */
  readonly fallback?: boolean;
  readonly stanza: Element;
}

export interface CloseMessage extends Sequenced {
  readonly kind: 'close';
  readonly origin: string;
  /** As StanzaMessage.id. */
  readonly id?: string;
  /** The full JID that another node bound again: its session here must end with `conflict`. */
  readonly jid: string;
  /** The session id, so that a newer session here under the same JID is left alone. */
  readonly sid: string;
}

/** "I handed on, in order, every message up to `upTo` that your process `boot` sent me": from the receiver to the sender. */
export interface AckMessage {
  readonly kind: 'ack';
  /** The acknowledging node (the receiver). */
  readonly origin: string;
  /** The sender's boot id the acknowledgement is for; an ack for an earlier process of the node is ignored. */
  readonly boot: string;
  readonly upTo: number;
}

/**
 * A request to another node's module, or the reply to one (remote-sessions.ts `request`): `topic` names the
 * handler, `call` pairs a reply with its request. Sequenced like stanzas, so a reply is ordered with the
 * stanzas the same node sends after it (the session hand-over relies on it: README.md).
 */
export interface CallMessage extends Sequenced {
  readonly kind: 'call';
  readonly origin: string;
  /** As StanzaMessage.id. */
  readonly id?: string;
  readonly topic: string;
  /** The requester's id for this request, echoed in the reply. */
  readonly call: string;
  readonly reply: boolean;
  /** JSON data; checked by the handler that reads it. */
  readonly body: unknown;
}

export type BusMessage = StanzaMessage | CloseMessage | CallMessage | AckMessage;
/** What the outbox queues: everything but acknowledgements, which are never retried. */
export type OutboundMessage = StanzaMessage | CloseMessage | CallMessage;

export interface ClusterBus {
  readonly nodeId: string;
  /** Sends to a node's channel; resolves with how many subscribers got it (0: the node is not listening). */
  publish(node: string, message: BusMessage): Promise<number>;
  /** Starts listening on this node's channel; acknowledgements reach `handler` too. */
  listen(handler: (message: BusMessage) => void): Promise<void>;
  /** This process's boot id, which the outbox stamps on sequenced messages. */
  readonly boot: string;
}
