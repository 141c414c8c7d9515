// The bus of a single node: there is no other node, so nothing is ever received and nobody listens.
import type { BusMessage, ClusterBus } from './bus.js';

export class LocalBus implements ClusterBus {
  readonly boot = 'local';

  constructor(readonly nodeId: string) {}

  async publish(_node: string, _message: BusMessage): Promise<number> {
    return 0;
  }

  async listen(): Promise<void> {
    // Nothing can arrive.
  }
}
