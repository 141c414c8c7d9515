// The cluster bus on Redis pub/sub: each node listens on its own channel (keys.ts), so a message
// reaches one node, never all of them. PUBLISH (SPUBLISH on Redis Cluster, see redis-connection.ts)
// answers with the number of receivers, which tells the sender whether the node is listening.
// Each message carries an id that its retries share (outbox.ts retries a publish whose fate is
// unknown, e.g. one sent as Redis failed over); a copy whose id was seen lately is dropped here.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../observability/log.js';
import type { BusMessage, ClusterBus } from './bus.js';
import { decodeMessage, encodeMessage } from './envelope.js';
import { nodeChannel } from './keys.js';
import type { RedisLink } from './redis-connection.js';

/** How many recent message ids, and for how long, the receiver remembers to drop repeats. */
const SEEN_MAX = 100_000;
const SEEN_MS = 60_000;

export class RedisBus implements ClusterBus {
  /** Tells this process's ids from those of an earlier run under the same node id. */
  private readonly boot = randomBytes(6).toString('base64url');
  private sent = 0;
  private readonly ids = new WeakMap<BusMessage, string>();
  /** id -> when it arrived, oldest first. */
  private readonly seen = new Map<string, number>();

  constructor(readonly nodeId: string, private readonly redis: RedisLink, private readonly log: Logger) {}

  publish(node: string, message: BusMessage): Promise<number> {
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

  async listen(handler: (message: BusMessage) => void): Promise<void> {
    await this.redis.subscribe(nodeChannel(this.nodeId), (payload) => {
      const message = decodeMessage(payload);
      if (typeof message === 'string') {
        this.log.error({ reason: message, payload: payload.slice(0, 300) }, 'unreadable message on the cluster bus; dropped');
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
