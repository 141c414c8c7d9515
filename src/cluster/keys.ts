// Every Redis key and channel the cluster uses, in one place (see README.md). The part in braces is
// the Redis Cluster hash tag: the keys of one bare JID, or of one node, live in one slot, so a Lua
// script that touches them runs on one shard.

/** Sorted set: node id → number of open client connections (the seeds' "service registry"). */
export const NODES_KEY = 'rt:nodes';

/** Hash: resource → JSON {node, sid, available, priority}, for every bound resource of a bare JID. */
export const resourcesKey = (bareJid: string): string => `rt:{${bareJid}}:res`;

/** Set: the full JIDs a node holds, so that they can be wiped when it dies or restarts. */
export const nodeSessionsKey = (node: string): string => `rt:node:{${node}}:sessions`;

/** String with a TTL: present while the node heartbeats; its value is the node's boot id. */
export const nodeAliveKey = (node: string): string => `rt:node:{${node}}:alive`;

/** Hash: the node's public endpoints (host, ports, WebSocket and BOSH URLs) and state. */
export const nodeInfoKey = (node: string): string => `rt:node:{${node}}:info`;

/** String with a TTL: a sweeper cleared the node's sessions (and told its users' contacts); read once by the node when it is back. */
export const nodeSweptKey = (node: string): string => `rt:node:{${node}}:swept`;

/** String with a TTL: held by whoever clears the node's sessions (a sweeper, or the node restarting). */
export const nodeLockKey = (node: string): string => `rt:node:{${node}}:lock`;

/** Pub/sub channel each node listens on (SSUBSCRIBE on Redis Cluster). */
export const nodeChannel = (node: string): string => `rt:ch:{${node}}`;

/** String: the node hosting a cluster-wide singleton (a MUC room JID); see placement.ts. */
export const placeKey = (name: string): string => `rt:place:{${name}}`;

/** Set: the singletons a node hosts, so that its claims can be dropped when it dies or restarts. */
export const nodePlacesKey = (node: string): string => `rt:node:{${node}}:places`;

/** String with a TTL: the holder (node and a random token) of exclusive work under a name; see redis-exclusive.ts. */
export const lockKey = (name: string): string => `rt:lock:{${name}}`;
