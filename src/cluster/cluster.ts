// What main.ts sees of clustering: one object with the session directory, the node registry and, when
// other nodes exist, the router's view of their sessions; and the steps of a node's life.
import type { Config } from '../config/types.js';
import type { CoreHooks } from '../hooks/core-hooks.js';
import type { HookBus } from '../hooks/bus.js';
import type { Logger } from '../observability/log.js';
import type { RedisObserver } from '../observability/redis-metrics.js';
import type { SessionDirectory } from '../sessions/directory.js';
import type { LocalSessionRegistry } from '../sessions/local-registry.js';
import type { InboundRouter } from './inbound.js';
import type { NodeEndpoints, NodeInfo, NodeRegistry } from './node-registry.js';
import type { Exclusive } from './exclusive.js';
import type { Placement } from './placement.js';
import type { RemoteSessions } from './remote-sessions.js';

export interface ClusterDeps {
  config: Config;
  log: Logger;
  sessions: LocalSessionRegistry;
  hooks: HookBus<CoreHooks>;
  /** Open client connections on this node now (the registry's load figure). */
  connections(): number;
  /** Watches the Redis command connection for the metrics (command latency, reconnections). */
  observeRedis?: RedisObserver;
}

export interface Cluster {
  readonly nodeId: string;
  readonly directory: SessionDirectory;
  readonly registry: NodeRegistry;
  /** Sessions on other nodes, for the router and the module API; undefined when this node runs alone. */
  readonly remote: RemoteSessions | undefined;
  /** Which node hosts each cluster-wide singleton (MUC rooms). */
  readonly placement: Placement;
  /** Read-modify-write work one at a time per name, across the cluster. */
  readonly exclusive: Exclusive;
  /** Before listening: listen on the bus, clear what a previous run under this node id left, follow local sessions. */
  start(router: InboundRouter): Promise<void>;
  /** Once listening: publish the endpoints, heartbeat, sweep dead nodes. */
  announce(endpoints: NodeEndpoints): Promise<void>;
  /** Shutting down: no more clients are sent here. Returns the node this node's clients should move to, if any. */
  drain(): Promise<NodeInfo | undefined>;
  /** After the sessions closed: flush what waits to be sent, leave the registry, wipe leftovers, disconnect. */
  stop(): Promise<void>;
}
