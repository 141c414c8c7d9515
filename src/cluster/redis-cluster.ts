// A node of a cluster on Redis: connections (redis-connection.ts), the shared session directory,
// the pub/sub bus with an outbox per peer, the node registry with heartbeat and sweeper, and the
// listeners that keep the directory in step with local sessions. See README.md.
import type { SessionRecord } from '../sessions/types.js';
import type { Cluster, ClusterDeps } from './cluster.js';
import { RedisDirectoryGate } from './directory-gate.js';
import { handleBusMessage } from './inbound.js';
import { RedisNodeRegistry } from './node-registry.js';
import { RedisBus } from './redis-bus.js';
import { connectRedis } from './redis-connection.js';
import { RedisDirectory } from './redis-directory.js';
import { RedisExclusive } from './redis-exclusive.js';
import { RedisPlacement } from './redis-placement.js';
import { ClusterSessions } from './remote-sessions.js';
import { SessionSync } from './session-sync.js';

/** How long shutdown waits for queued directory changes and bus messages. */
const FLUSH_MS = 2000;

export async function redisCluster(deps: ClusterDeps): Promise<Cluster> {
  const { config, sessions, hooks } = deps;
  const nodeId = config.nodeId;
  const log = deps.log.child({ component: 'cluster' });
  const redis = await connectRedis(config.redis, nodeId, log);
  deps.observeRedis?.(redis.client, 'cluster');
  const directory = new RedisDirectory(redis.client, log);
  const bus = new RedisBus(nodeId, redis, log);
  const gate = new RedisDirectoryGate(redis.client, log);
  const waitMs = config.redis.failoverWaitSeconds !== undefined ? config.redis.failoverWaitSeconds * 1000 : undefined;
  const remote = new ClusterSessions({ nodeId, directory, bus, log, gate, isLocal: (jid) => sessions.get(jid) !== undefined, ...(waitMs !== undefined ? { waitMs } : {}) });
  const sync = new SessionSync({ nodeId, directory, hooks, sessions, log, closeRemote: (node, jid, sid) => remote.closeRemote(node, jid, sid), ...(waitMs !== undefined ? { waitMs } : {}) });

  // The registry is made below; the placement asks it only when a claim's owner has no heartbeat.
  const placement = new RedisPlacement(nodeId, redis.client, log, waitMs, () => registry.heartbeatsTrusted());
  const reportLost = async (records: SessionRecord[], node: string): Promise<void> => {
    const places = await placement.wipeNode(node);
    if (places > 0) log.info({ node, places }, 'dropped the rooms a cleared node hosted');
    if (records.length > 0) await hooks.emit('cluster:sessions-lost', records.map((r) => ({ jid: r.jid, available: r.available })));
  };
  // Redis lost this node's records, or a sweeper declared it dead: register its sessions again and, if a
  // sweeper told their contacts they left (`swept`), announce them again. The registration is awaited (the
  // heartbeat key, which tells other nodes the directory is whole again, follows it); the presence
  // broadcasts are not, since they route through the directory gate it opens. Without a sweep nobody was
  // told anything, and a second copy of a presence already seen would only be noise.
  const reannounce = async (swept: boolean): Promise<void> => {
    await sync.registerAll();
    if (!swept) return;
    void (async () => {
      for (const session of sessions.all()) {
        if (session.presence.available && session.presence.stanza) await hooks.emit('presence:broadcast', session, session.presence.stanza);
      }
    })().catch((err: unknown) => log.warn({ err }, 'could not announce presence again after a lapse'));
  };
  const registry = new RedisNodeRegistry({ nodeId, redis: redis.client, directory, log, connections: deps.connections, onSessionsLost: reportLost,
    onLapse: reannounce,
    onNodeDown: (node) => {
      placement.forgetNode(node);
      void hooks.emit('cluster:node-down', node);
    },
  });
  if (redis.mode !== 'cluster') gate.setRecheck(() => registry.resync());

  return {
    nodeId,
    directory,
    registry,
    remote,
    placement,
    exclusive: new RedisExclusive(redis.client, nodeId, log, waitMs),
    async start(router) {
      remote.setFallbacks({ reroute: (stanza, from, hops) => void router.routeForwarded(stanza, from, hops), refuse: (stanza, from, error) => router.refuse(stanza, from, error) });
      await bus.listen((message) => {
        if (message.kind === 'ack') {
          remote.heardFrom(message.origin);
          remote.acknowledged(message);
        } else if (message.kind === 'call') remote.called(message);
        else handleBusMessage(message, { sessions, router, log, heardFrom: (node) => remote.heardFrom(node) });
      });
      await registry.clearPreviousLife();
      sync.start();
    },
    announce: (endpoints) => registry.join(endpoints),
    async drain() {
      await registry.drain();
      try {
        return await registry.leastLoadedNode({ exclude: [nodeId] });
      } catch (err) {
        log.warn({ err }, 'could not read the node registry; clients get system-shutdown');
        return undefined;
      }
    },
    async stop() {
      await sync.idle(FLUSH_MS);
      await remote.idle(FLUSH_MS);
      sync.stop();
      try {
        await registry.leave();
        await directory.wipeNode(nodeId);
        await placement.wipeNode(nodeId);
      } catch (err) {
        log.warn({ err }, 'could not leave the cluster cleanly; the sweepers of other nodes will clear this node');
      }
      bus.close();
      await redis.close();
    },
  };
}
