// An account deleted anywhere (in-band, XEP-0077 §3.2; by an administrator, XEP-0133 §4.2 or `ratatosk user del`)
// ends on every node: each closes the account's sessions it holds with <not-authorized/> and runs its own
// 'account:deleted' listeners, so module caches (privacy lists, archive preferences, avatar hashes) forget it there
// too. The node where the deletion happened tells the others over the bus (request `account:deleted`).
import type { HookBus } from '../hooks/bus.js';
import type { CoreHooks } from '../hooks/core-hooks.js';
import { StreamError } from '../errors.js';
import type { Logger } from '../observability/log.js';
import type { LocalSessionRegistry } from '../sessions/local-registry.js';
import { askOtherNodes, type ClusterPeers } from './ask-nodes.js';

const TOPIC = 'account:deleted';
/** How long the deleting node waits for each other node to confirm. */
const CONFIRM_WITHIN_MS = 5000;

export interface AccountDeletionDeps {
  readonly nodeId: string;
  readonly domain: string;
  readonly hooks: HookBus<CoreHooks>;
  readonly sessions: LocalSessionRegistry;
  readonly log: Logger;
  /** The other nodes; absent when this node runs alone. */
  readonly cluster?: ClusterPeers;
}

/** Follows 'account:deleted' on this node and from the others; returns the undo. */
export function followAccountDeletions(deps: AccountDeletionDeps): () => void {
  const { hooks, cluster, log } = deps;
  /** Accounts whose deletion another node announced, while this node's listeners run for it (not announced back). */
  const announcedByPeer = new Set<string>();

  const closeHere = (username: string): void => {
    const sessions = deps.sessions.resources(`${username}@${deps.domain}`);
    // After this turn: whoever deleted the account from one of its own sessions still gets the answer first.
    if (sessions.length > 0) setImmediate(() => {
      for (const session of sessions) session.close(new StreamError('not-authorized', 'the account was deleted'));
    });
  };

  const tellOthers = async (username: string): Promise<void> => {
    if (cluster === undefined) return;
    const { unanswered } = await askOtherNodes(cluster, deps.nodeId, TOPIC, { username }, CONFIRM_WITHIN_MS);
    // Its sessions there stay until they end; the account is gone from the store, so no new login succeeds.
    if (unanswered.length > 0) log.warn({ user: username, nodes: unanswered }, 'nodes did not confirm an account deletion');
  };

  const undo = [
    hooks.on(
      'account:deleted',
      (username) => {
        closeHere(username);
        if (!announcedByPeer.has(username)) return tellOthers(username).catch((err: unknown) => log.warn({ err, user: username }, 'could not announce an account deletion to the other nodes'));
        return undefined;
      },
      // After the modules' own listeners: waiting for the other nodes does not hold up their clean-up here.
      -10,
      'cluster',
    ),
  ];
  if (cluster !== undefined) {
    undo.push(
      cluster.remote.answer(TOPIC, async (body) => {
        const username = typeof body === 'object' && body !== null && 'username' in body && typeof body.username === 'string' ? body.username : undefined;
        if (username === undefined) return { ok: false };
        announcedByPeer.add(username);
        try {
          await hooks.emit('account:deleted', username);
        } finally {
          announcedByPeer.delete(username);
        }
        return { ok: true };
      }),
    );
  }
  return () => {
    for (const step of undo.splice(0)) step();
  };
}
