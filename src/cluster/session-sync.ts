// Keeps the shared session directory in step with this node's sessions, by listening to the core
// hooks: a bound resource is registered (and the session it displaced on another node is told to
// close with `conflict`), a presence change updates availability and priority, an ended session is
// unregistered. Work for one full JID runs in order, so a quick bind-presence-close never leaves a
// stale record behind. A change that fails (Redis failing over) is made again until Redis answers, for
// at most the fail-over bound: a lost update would leave other nodes routing by a stale record.
import type { CoreHooks } from '../hooks/core-hooks.js';
import type { HookBus } from '../hooks/bus.js';
import type { Logger } from '../observability/log.js';
import type { SessionDirectory } from '../sessions/directory.js';
import type { LocalSessionRegistry } from '../sessions/local-registry.js';
import type { BoundSession, SessionRecord } from '../sessions/types.js';

/** Runs before modules' listeners (priority 0), so the directory is current when they route. */
export const SYNC_PRIORITY = 1000;

export interface SessionSyncDeps {
  nodeId: string;
  directory: SessionDirectory;
  hooks: HookBus<CoreHooks>;
  sessions: LocalSessionRegistry;
  log: Logger;
  /** Ends a session another node holds under a JID just bound here. */
  closeRemote(node: string, jid: string, sid: string): void;
  /** How long a failing change is tried again (redis.failover_wait_seconds); 10 s by default. */
  waitMs?: number;
}

const DEFAULT_WAIT_MS = 10_000;

export class SessionSync {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly removers: (() => void)[] = [];

  constructor(private readonly deps: SessionSyncDeps) {}

  start(): void {
    const { hooks } = this.deps;
    this.removers.push(
      hooks.on('session:binding', (session) => this.register(session), SYNC_PRIORITY, 'cluster'),
      hooks.on('presence:broadcast', (session) => this.update(session), SYNC_PRIORITY, 'cluster'),
      hooks.on('session:closed', (session) => this.unregister(session), SYNC_PRIORITY, 'cluster'),
      // The new node's record has replaced this one (unregister leaves it, and drops the JID from this node's set).
      hooks.on('session:handed-over', (session) => this.unregister(session), SYNC_PRIORITY, 'cluster'),
    );
  }

  stop(): void {
    for (const remove of this.removers.splice(0)) remove();
  }

  register(session: BoundSession): Promise<void> {
    return this.serially(session, 'register', async () => {
      const displaced = await this.deps.directory.register(this.recordOf(session));
      if (displaced && displaced.node !== this.deps.nodeId) this.deps.closeRemote(displaced.node, displaced.jid.toString(), displaced.sid);
    });
  }

  update(session: BoundSession): Promise<void> {
    return this.serially(session, 'update', async () => {
      // A session that ended meanwhile has nothing left to update.
      if (this.deps.sessions.get(session.jid.toString()) !== session) return;
      await this.deps.directory.update(this.recordOf(session));
    });
  }

  unregister(session: BoundSession): Promise<void> {
    return this.serially(session, 'unregister', () => this.deps.directory.unregister({ jid: session.jid, node: this.deps.nodeId, sid: session.id }));
  }

  /** Registers every local session again: after the node's heartbeat lapsed and a sweeper wiped its records. */
  async registerAll(): Promise<void> {
    await Promise.all([...this.deps.sessions.all()].map((s) => this.register(s)));
  }

  /** Resolves when every queued directory change is done, or after `timeoutMs`. */
  async idle(timeoutMs: number): Promise<void> {
    await Promise.race([Promise.all([...this.tails.values()]), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }

  private recordOf(session: BoundSession): SessionRecord {
    return { jid: session.jid, node: this.deps.nodeId, sid: session.id, available: session.presence.available, priority: session.presence.priority };
  }

  private async patiently(work: () => Promise<void>): Promise<void> {
    const until = Date.now() + (this.deps.waitMs ?? DEFAULT_WAIT_MS);
    let delay = 25;
    for (;;) {
      try {
        return await work();
      } catch (err) {
        if (Date.now() >= until) throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 250);
    }
  }

  /** Chains `work` after earlier work for the same full JID; failures are logged, never thrown at the stream. */
  private serially(session: BoundSession, what: string, work: () => Promise<void>): Promise<void> {
    const key = session.jid.toString();
    const run = (this.tails.get(key) ?? Promise.resolve()).then(() => this.patiently(work)).catch((err: unknown) => {
      this.deps.log.error({ err, jid: key, what }, 'session directory update failed');
    });
    this.tails.set(key, run);
    void run.then(() => {
      if (this.tails.get(key) === run) this.tails.delete(key);
    });
    return run;
  }
}
