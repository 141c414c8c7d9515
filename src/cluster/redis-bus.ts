// The cluster bus on Redis pub/sub: each node listens on its own channel (keys.ts), so a message
// reaches one node, never all of them. PUBLISH (SPUBLISH on Redis Cluster, see redis-connection.ts)
// answers with the number of receivers, which tells the sender whether the node is listening.
// Each message carries an id that its retries share, and the outbox's sequence fields (outbox.ts
// publishes again what was not acknowledged); inbox.ts hands sequenced messages on in order, once, and
// acknowledges them on the sender's channel. An unsequenced message whose id was seen lately is dropped.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../observability/log.js';
import type { AckMessage, BusMessage, ClusterBus } from './bus.js';
import { decodeMessage, encodeMessage } from './envelope.js';
import { Inbox } from './inbox.js';
import { nodeChannel } from './keys.js';
import type { RedisLink } from './redis-connection.js';

/** How many recent message ids, and for how long, the receiver remembers to drop repeats. */
const SEEN_MAX = 100_000;
const SEEN_MS = 60_000;

export class RedisBus implements ClusterBus {
  /** Tells this process's ids and sequence numbers from those of an earlier run under the same node id. */
  readonly boot = randomBytes(6).toString('base64url');
  private sent = 0;
  private readonly ids = new WeakMap<BusMessage, string>();
  /** id -> when it arrived, oldest first. */
  private readonly seen = new Map<string, number>();

  private readonly inbox: Inbox;

  constructor(readonly nodeId: string, private readonly redis: RedisLink, private readonly log: Logger) {
    this.inbox = new Inbox({ nodeId, log, sendAck: (node, ack) => this.sendAck(node, ack) });
  }

  private sendAck(node: string, ack: AckMessage): void {
    this.redis.publish(nodeChannel(node), encodeMessage(ack)).catch((err: unknown) => {
      this.log.debug({ err, node }, 'acknowledgement not published; the sender will publish again');
    });
  }

  publish(node: string, message: BusMessage): Promise<number> {
    // Acknowledgements are never repeated; a sequenced message is told apart by its boot and seq.
    if (message.kind === 'ack' || message.seq !== undefined) return this.redis.publish(nodeChannel(node), encodeMessage(message));
    let id = this.ids.get(message);
    if (id === undefined) {
      id = `${this.nodeId}.${this.boot}.${(++this.sent).toString(36)}`;
      this.ids.set(message, id);
    }
    return this.redis.publish(nodeChannel(node), encodeMessage({ ...message, id }));
  }

  /** True when a message with this id arrived lately; remembers it otherwise. */
  private repeated(id: string): boolean {
    const now = Date.now();
    if (this.seen.has(id)) return true;
    this.seen.set(id, now);
    for (const [oldest, at] of this.seen) {
      if (this.seen.size <= SEEN_MAX && now - at < SEEN_MS) break;
      this.seen.delete(oldest);
    }
    return false;
  }

  /** Stops the acknowledgements still waiting to go out. */
  close(): void {
    this.inbox.close();
  }

  async listen(handler: (message: BusMessage) => void): Promise<void> {
    await this.redis.subscribe(nodeChannel(this.nodeId), (payload) => {
      const message = decodeMessage(payload);
      if (typeof message === 'string') {
        this.log.error({ reason: message, payload: payload.slice(0, 300) }, 'unreadable message on the cluster bus; dropped');
        return;
      }
      if (message.kind === 'ack') {
        handler(message);
        return;
      }
      if (message.seq !== undefined) {
        if (this.inbox.accept(message.origin, message)) handler(message);
        return;
      }
      if (message.id !== undefined && this.repeated(message.id)) {
        this.log.debug({ id: message.id, origin: message.origin }, 'second copy of a retried bus message; dropped');
        return;
      }
      handler(message);
    });
  }
}
