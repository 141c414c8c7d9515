// The cluster bus on Redis pub/sub: each node listens on its own channel (keys.ts), so a message
// reaches one node, never all of them. PUBLISH (SPUBLISH on Redis Cluster, see redis-connection.ts)
// answers with the number of receivers, which tells the sender whether the node is listening.
import type { Logger } from '../observability/log.js';
import type { BusMessage, ClusterBus } from './bus.js';
import { decodeMessage, encodeMessage } from './envelope.js';
import { nodeChannel } from './keys.js';
import type { RedisLink } from './redis-connection.js';

export class RedisBus implements ClusterBus {
  constructor(readonly nodeId: string, private readonly redis: RedisLink, private readonly log: Logger) {}

  publish(node: string, message: BusMessage): Promise<number> {
    return this.redis.publish(nodeChannel(node), encodeMessage(message));
  }

  async listen(handler: (message: BusMessage) => void): Promise<void> {
    await this.redis.subscribe(nodeChannel(this.nodeId), (payload) => {
      const message = decodeMessage(payload);
      if (typeof message === 'string') {
        this.log.error({ reason: message, payload: payload.slice(0, 300) }, 'unreadable message on the cluster bus; dropped');
        return;
      }
      handler(message);
    });
  }
}
