// Clustering on Redis when redis.url, redis.sentinels or redis.cluster is set; otherwise one node.
import type { Cluster, ClusterDeps } from './cluster.js';
import { localCluster } from './local-cluster.js';
import { redisCluster } from './redis-cluster.js';
import { redisConfigured } from './redis-connection.js';

export type { Cluster } from './cluster.js';
export type { NodeEndpoints, NodeInfo, NodeRegistry } from './node-registry.js';
export type { DeliverOptions, RemoteSessions } from './remote-sessions.js';
export { nodeEndpoints, shutdownError } from './endpoints.js';

export function openCluster(deps: ClusterDeps): Promise<Cluster> {
  return redisConfigured(deps.config.redis) ? redisCluster(deps) : Promise.resolve(localCluster(deps));
}
