// When the session directory's answers can be believed. A reconnection to Redis (a restart, a Sentinel
// fail-over) may land on a server that lost writes, or all its data (a restart without persistence): until
// every node has registered its sessions there again, "no record" may only mean "not registered yet", and a
// routing decision taken on it would store a live user's message offline. So on every reconnection the gate
// closes; it opens once `recheck` (node-registry.ts resync: register this node's sessions again if Redis
// lost them, then wait, bounded, for the other live nodes' heartbeat keys, which they write only after their
// own re-registration) is done. An answer to a command sent before a reconnection counts only if no
// reconnection happened while it was out (`epoch`): ioredis resends unanswered commands on the new connection.
import type { Logger } from '../observability/log.js';
import type { RedisClient } from './redis-connection.js';

export interface DirectoryGate {
  /** Changes whenever a connection to Redis was lost. */
  readonly epoch: number;
  readonly open: boolean;
  /** Resolves when the gate opens, or at `until` (ms since epoch), whichever is first. */
  whenOpen(until: number): Promise<void>;
}

/** Always open: a directory that never loses its memory (one node). */
export const OPEN_GATE: DirectoryGate = { epoch: 0, open: true, whenOpen: () => Promise.resolve() };

export class RedisDirectoryGate implements DirectoryGate {
  epoch = 0;
  open = true;
  private waiters: Array<() => void> = [];
  /** Counts rechecks, so that a recheck overtaken by another reconnection does not open the gate. */
  private round = 0;
  private recheck: (() => Promise<void>) | undefined;

  constructor(private readonly client: RedisClient, private readonly log: Logger) {
    const lost = (): void => {
      this.epoch++;
      if (this.recheck) this.open = false;
    };
    // One server or Sentinel: the command connection. Redis Cluster: the connection of whichever node it is (its slots move
    // to a promoted replica that holds the replicated data; there is no re-registration to wait for).
    client.on('close', lost);
    client.on('node error', () => this.epoch++);
    client.on('-node', () => this.epoch++);
    client.on('ready', () => void this.reopen());
  }

  /** Installs the check run after each reconnection; until then the gate never closes. */
  setRecheck(recheck: () => Promise<void>): void {
    this.recheck = recheck;
  }

  whenOpen(until: number): Promise<void> {
    if (this.open) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, Math.max(0, until - Date.now()));
      timer.unref();
      const waiters = this.waiters;
      function done(): void {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i !== -1) waiters.splice(i, 1);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  private async reopen(): Promise<void> {
    const recheck = this.recheck;
    if (!recheck || this.open) return;
    const round = ++this.round;
    for (;;) {
      const epoch = this.epoch;
      try {
        await recheck();
        if (round !== this.round) return;
        if (epoch === this.epoch) break;
      } catch (err) {
        // Waiting stanzas are bounded by their own deadline; a connection that went away rechecks on 'ready'.
        this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not check the session directory after reconnecting');
        if (round !== this.round || this.client.status !== 'ready') return;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    this.open = true;
    for (const wake of this.waiters.splice(0)) wake();
  }
}
