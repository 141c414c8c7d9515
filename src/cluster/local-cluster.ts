// A node that runs alone (no redis.* setting): sessions live in the local registry, nothing crosses
// a bus, and the registry knows one node. The router gets no remote sessions, so it works as it
// always did on one node.
import type { Cluster, ClusterDeps } from './cluster.js';
import { LocalBus } from './local-bus.js';
import { LocalExclusive } from './exclusive.js';
import { LocalPlacement } from './placement.js';
import { SingleNodeRegistry } from './single-node-registry.js';
import { MemoryDirectory } from '../sessions/memory-directory.js';

export function localCluster(deps: ClusterDeps): Cluster {
  const nodeId = deps.config.nodeId;
  const bus = new LocalBus(nodeId);
  const registry = new SingleNodeRegistry(nodeId, deps.connections);
  return {
    nodeId,
    directory: new MemoryDirectory(deps.sessions, nodeId),
    registry,
    remote: undefined,
    placement: new LocalPlacement(nodeId),
    exclusive: new LocalExclusive(),
    start: () => bus.listen(),
    announce: async (endpoints) => registry.join(endpoints),
    drain: async () => undefined,
    stop: async () => undefined,
  };
}
