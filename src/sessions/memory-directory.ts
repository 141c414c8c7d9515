// The single-node session directory: a read view of the local registry. The c2s stream adds and
// removes sessions there itself (and ends a displaced one with `conflict`), so writes have nothing to do.
import type { SessionDirectory, SessionKey } from './directory.js';
import type { LocalSessionRegistry } from './local-registry.js';
import type { BoundSession, SessionRecord } from './types.js';

export class MemoryDirectory implements SessionDirectory {
  readonly shared = false;

  constructor(private readonly sessions: LocalSessionRegistry, private readonly nodeId: string) {}

  async register(): Promise<SessionRecord | undefined> {
    return undefined;
  }

  async update(record: SessionRecord): Promise<boolean> {
    return this.sessions.get(record.jid.toString())?.id === record.sid;
  }

  async unregister(_session: SessionKey): Promise<void> {
    // The registry dropped the session when its stream closed.
  }

  async find(fullJid: string): Promise<SessionRecord | undefined> {
    const session = this.sessions.get(fullJid);
    return session ? this.recordOf(session) : undefined;
  }

  async resources(bareJid: string): Promise<SessionRecord[]> {
    return this.sessions.resources(bareJid).map((s) => this.recordOf(s));
  }

  async sessionsOf(node: string): Promise<string[]> {
    return node === this.nodeId ? [...this.sessions.all()].map((s) => s.jid.toString()) : [];
  }

  async wipeNode(): Promise<SessionRecord[]> {
    // Sessions of this process end with it; there is no earlier life to clear.
    return [];
  }

  private recordOf(session: BoundSession): SessionRecord {
    return { jid: session.jid, node: this.nodeId, sid: session.id, available: session.presence.available, priority: session.presence.priority };
  }
}
