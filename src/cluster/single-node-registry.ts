// The node registry of a server that runs alone: the only node is this one.
import type { NodeEndpoints, NodeInfo, NodeRegistry } from './node-registry.js';

export class SingleNodeRegistry implements NodeRegistry {
  private endpoints: NodeEndpoints | undefined;
  private readonly startedAt = Date.now();

  constructor(private readonly nodeId: string, private readonly connections: () => number) {}

  join(endpoints: NodeEndpoints): void {
    this.endpoints = endpoints;
  }

  async listNodes(): Promise<NodeInfo[]> {
    if (!this.endpoints) return [];
    return [{ id: this.nodeId, ...this.endpoints, connections: this.connections(), alive: true, draining: false, startedAt: this.startedAt }];
  }

  async leastLoadedNode(options: { exclude?: readonly string[] } = {}): Promise<NodeInfo | undefined> {
    return (await this.listNodes()).find((n) => !(options.exclude ?? []).includes(n.id));
  }
}
