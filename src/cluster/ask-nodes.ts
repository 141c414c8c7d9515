// A request to every other live node of the cluster at once (admin listings, announcements), with the nodes
// that did not answer in time named.
import type { NodeRegistry } from './node-registry.js';
import type { RemoteSessions } from './remote-sessions.js';

/** What asking the other nodes needs of the cluster. */
export interface ClusterPeers {
  readonly remote: Pick<RemoteSessions, 'answer' | 'request'>;
  readonly registry: Pick<NodeRegistry, 'listNodes'>;
}

export interface PeerAnswers {
  /** Each node that answered in time, with its reply. */
  readonly answers: ReadonlyArray<{ readonly node: string; readonly reply: unknown }>;
  /** Live nodes that did not answer within the timeout. */
  readonly unanswered: string[];
}

/** Sends `body` on `topic` to every live node other than `self` and waits up to `timeoutMs` for each reply. */
export async function askOtherNodes(peers: ClusterPeers, self: string, topic: string, body: unknown, timeoutMs: number): Promise<PeerAnswers> {
  const others = (await peers.registry.listNodes()).filter((n) => n.alive && n.id !== self).map((n) => n.id);
  const results = await Promise.all(
    others.map(async (node) => {
      let reply: unknown;
      const inTime = await peers.remote.request(node, topic, body, timeoutMs, (value) => {
        reply = value;
      });
      return { node, inTime, reply };
    }),
  );
  return {
    answers: results.filter((r) => r.inTime).map(({ node, reply }) => ({ node, reply })),
    unanswered: results.filter((r) => !r.inTime).map((r) => r.node),
  };
}
