// The receiving side of the delivery guarantee (README.md, "Delivery guarantee"; the sender is outbox.ts):
// per sending process, messages are handed on in sequence order, each once. A repeat (a re-publish whose
// first copy did arrive) is dropped; a message that overtook a missing one is dropped too, since the sender
// publishes again from the missing one on (go-back-N). What was handed on is acknowledged to the sender,
// cumulatively: at the end of the event-loop turn that handed it on (no wake-up of its own), and at most
// once every ACK_DELAY_MS per sender, so that one acknowledgement covers a burst.
import type { Logger } from '../observability/log.js';
import type { AckMessage, Sequenced } from './bus.js';

/** Least time between two acknowledgements to one sender. Far below the sender's ACK_TIMEOUT_MS. */
export const ACK_DELAY_MS = 20;

interface Peer {
  boot: string;
  /** The next seq to hand on. */
  next: number;
  /** Cancels the scheduled acknowledgement, if one is. */
  cancel: (() => void) | undefined;
  lastAckAt: number;
}

export interface InboxDeps {
  nodeId: string;
  log: Logger;
  /** Publishes an acknowledgement to the sender's channel (fire and forget: a lost one means a repeat). */
  sendAck(node: string, ack: AckMessage): void;
}

export class Inbox {
  private readonly peers = new Map<string, Peer>();

  constructor(private readonly deps: InboxDeps) {}

  /** True when the message is to be handed on now; false for a repeat, or one that overtook a missing message. */
  accept(origin: string, message: Sequenced): boolean {
    const { boot, seq, base } = message;
    if (boot === undefined || seq === undefined || base === undefined) return true;
    let peer = this.peers.get(origin);
    if (peer === undefined || peer.boot !== boot) {
      // A sender (or this node) started anew: begin where the sender's unsettled messages begin.
      peer?.cancel?.();
      peer = { boot, next: base, cancel: undefined, lastAckAt: 0 };
      this.peers.set(origin, peer);
    }
    // The sender settled everything below base (acknowledged, or given up to its fallbacks).
    if (base > peer.next) peer.next = base;
    if (seq !== peer.next) {
      if (seq > peer.next) this.deps.log.debug({ origin, seq, expected: peer.next }, 'bus message overtook a missing one; waiting for the sender to go back');
      // A repeat is acknowledged again: its first acknowledgement may be what got lost.
      else this.scheduleAck(origin, peer);
      return false;
    }
    peer.next++;
    this.scheduleAck(origin, peer);
    return true;
  }

  /** Stops pending acknowledgements (the node is closing). */
  close(): void {
    for (const peer of this.peers.values()) peer.cancel?.();
    this.peers.clear();
  }

  private scheduleAck(origin: string, peer: Peer): void {
    if (peer.cancel) return;
    const send = (): void => {
      peer.cancel = undefined;
      if (this.peers.get(origin) !== peer) return;
      peer.lastAckAt = Date.now();
      this.deps.sendAck(origin, { kind: 'ack', origin: this.deps.nodeId, boot: peer.boot, upTo: peer.next - 1 });
    };
    const wait = peer.lastAckAt + ACK_DELAY_MS - Date.now();
    if (wait <= 0) {
      const immediate = setImmediate(send);
      peer.cancel = () => clearImmediate(immediate);
    } else {
      const timer = setTimeout(send, wait);
      timer.unref();
      peer.cancel = () => clearTimeout(timer);
    }
  }
}
