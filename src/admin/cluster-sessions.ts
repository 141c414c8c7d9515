// `session list` and `session kick` for the whole cluster, as ejabberdctl's and mongooseimctl's are: each node
// answers for the sessions bound on it (requests `admin:sessions` and `admin:kick` on the cluster bus, which
// keeps each node's order); a session on another node is found in the session directory and closed by the node
// that holds it. A node that does not answer in time is named, never silently left out.
import { askOtherNodes, type ClusterPeers } from '../cluster/ask-nodes.js';
import type { RemoteSessions } from '../cluster/remote-sessions.js';
import { ServerError } from '../errors.js';
import type { TransportKind } from '../sessions/types.js';
import type { LiveSession } from './live.js';

/** How long the command waits for each other node. */
export const NODE_ANSWER_MS = 3000;

const SESSIONS_TOPIC = 'admin:sessions';
const KICK_TOPIC = 'admin:kick';
const TRANSPORTS: ReadonlySet<string> = new Set<TransportKind>(['tcp', 'websocket', 'bosh']);
const isTransport = (value: unknown): value is TransportKind => typeof value === 'string' && TRANSPORTS.has(value);

/** What this node's own sessions look like to the admin commands. */
export interface LocalSessionAdmin {
  sessions(bareJid?: string): LiveSession[];
  kick(fullJid: string, reason?: string): boolean;
}

export interface SessionListing {
  /** Sorted by node, then JID. */
  readonly sessions: LiveSession[];
  /** Live nodes that did not answer within NODE_ANSWER_MS: their sessions are missing from the list. */
  readonly unanswered: string[];
}

export interface ClusterSessionAdmin {
  sessions(bareJid?: string): Promise<SessionListing>;
  /** True when a session with that full JID was closed, here or on its node; false when none is bound. */
  kick(fullJid: string, reason?: string): Promise<boolean>;
  /** Stops answering other nodes. */
  stop(): void;
}

export interface ClusterSessionDeps {
  readonly nodeId: string;
  readonly local: LocalSessionAdmin;
  /** The other nodes; absent when this node runs alone. */
  readonly cluster?: ClusterPeers & { readonly remote: Pick<RemoteSessions, 'find'> };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A session as another node described it; undefined for anything else. */
function readSession(value: unknown): LiveSession | undefined {
  if (!isRecord(value)) return undefined;
  const { jid, transport, remoteAddress, since, availability, priority, node } = value;
  if (typeof jid !== 'string' || !isTransport(transport)) return undefined;
  if (typeof remoteAddress !== 'string' || typeof since !== 'number' || typeof availability !== 'string' || typeof priority !== 'number' || typeof node !== 'string') return undefined;
  return { jid, transport, remoteAddress, since, availability, priority, node };
}

const byNodeThenJid = (a: LiveSession, b: LiveSession): number => (a.node !== b.node ? (a.node < b.node ? -1 : 1) : a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0);

export function clusterSessionAdmin(deps: ClusterSessionDeps): ClusterSessionAdmin {
  const { local } = deps;
  const remote = deps.cluster?.remote;
  const stops: Array<() => void> = [];
  if (remote !== undefined) {
    stops.push(
      remote.answer(SESSIONS_TOPIC, (body) => {
        const bare = isRecord(body) && typeof body.bare === 'string' ? body.bare : undefined;
        return local.sessions(bare);
      }),
      remote.answer(KICK_TOPIC, (body) => {
        if (!isRecord(body) || typeof body.jid !== 'string') return { kicked: false };
        return { kicked: local.kick(body.jid, typeof body.reason === 'string' ? body.reason : undefined) };
      }),
    );
  }

  /** Sends a request to `node` and resolves with its reply, or undefined when none came in time. */
  const ask = async (node: string, topic: string, body: unknown): Promise<unknown> => {
    if (remote === undefined) return undefined;
    let reply: unknown;
    const inTime = await remote.request(node, topic, body, NODE_ANSWER_MS, (value) => {
      reply = value;
    });
    return inTime ? reply : undefined;
  };

  return {
    async sessions(bareJid) {
      const sessions = local.sessions(bareJid);
      const unanswered: string[] = [];
      if (deps.cluster !== undefined) {
        const asked = await askOtherNodes(deps.cluster, deps.nodeId, SESSIONS_TOPIC, bareJid === undefined ? {} : { bare: bareJid }, NODE_ANSWER_MS);
        unanswered.push(...asked.unanswered);
        for (const { node, reply } of asked.answers) {
          if (!Array.isArray(reply)) unanswered.push(node);
          else for (const item of reply) {
            const session = readSession(item);
            if (session !== undefined) sessions.push(session);
          }
        }
      }
      return { sessions: sessions.sort(byNodeThenJid), unanswered: unanswered.sort() };
    },

    async kick(fullJid, reason) {
      if (local.kick(fullJid, reason)) return true;
      const record = await remote?.find(fullJid);
      if (record === undefined) return false;
      const reply = await ask(record.node, KICK_TOPIC, reason === undefined ? { jid: fullJid } : { jid: fullJid, reason });
      if (!isRecord(reply)) throw new ServerError('NODE_UNAVAILABLE', `${fullJid} is bound on node ${record.node}, which did not answer within ${NODE_ANSWER_MS / 1000} s; try again`);
      return reply.kicked === true;
    },

    stop() {
      for (const stop of stops.splice(0)) stop();
    },
  };
}
