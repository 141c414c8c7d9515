// The cluster bus: one channel per node, and the few kinds of message nodes send each other.
// local-bus.ts is the single-node bus (nobody to talk to); redis-bus.ts is Redis pub/sub.
import type { Element } from '../xml/element.js';

/** How the receiving node treats a stanza. */
export type StanzaMode =
  /** Route it as if it had arrived there: it holds the full JID the stanza is addressed to. */
  | 'route'
  /** Hand it to the listed sessions through the incoming stanza filters, without routing it again. */
  | 'deliver';

export interface StanzaMessage {
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
  /** 'deliver': when none of the targets is there any longer, route it again (other resources, offline storage). */
  readonly fallback?: boolean;
  readonly stanza: Element;
}

export interface CloseMessage {
  readonly kind: 'close';
  readonly origin: string;
  /** As StanzaMessage.id. */
  readonly id?: string;
  /** The full JID that another node bound again: its session here must end with `conflict`. */
  readonly jid: string;
  /** The session id, so that a newer session here under the same JID is left alone. */
  readonly sid: string;
}

export type BusMessage = StanzaMessage | CloseMessage;

export interface ClusterBus {
  readonly nodeId: string;
  /** Sends to a node's channel; resolves with how many subscribers got it (0: the node is not listening). */
  publish(node: string, message: BusMessage): Promise<number>;
  /** Starts listening on this node's channel. */
  listen(handler: (message: BusMessage) => void): Promise<void>;
}
