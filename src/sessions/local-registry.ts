// Sessions bound on this node, indexed by full JID and by bare JID.
import type { BoundSession, TransportKind } from './types.js';

export class LocalSessionRegistry {
  private readonly byFull = new Map<string, BoundSession>();
  private readonly byBare = new Map<string, Map<string, BoundSession>>();

  /** Adds a session; returns the session it displaces (same full JID), which the caller ends with `conflict`. */
  add(session: BoundSession): BoundSession | undefined {
    const full = session.jid.toString();
    const previous = this.byFull.get(full);
    this.byFull.set(full, session);
    const bare = session.jid.bareString();
    let resources = this.byBare.get(bare);
    if (!resources) {
      resources = new Map();
      this.byBare.set(bare, resources);
    }
    resources.set(session.jid.resource, session);
    return previous === session ? undefined : previous;
  }

  /** Removes a session if it is still the one registered under its JID. */
  remove(session: BoundSession): boolean {
    const full = session.jid.toString();
    if (this.byFull.get(full) !== session) return false;
    this.byFull.delete(full);
    const bare = session.jid.bareString();
    const resources = this.byBare.get(bare);
    resources?.delete(session.jid.resource);
    if (resources?.size === 0) this.byBare.delete(bare);
    return true;
  }

  get(fullJid: string): BoundSession | undefined {
    return this.byFull.get(fullJid);
  }

  /** The bare JID's session when it has exactly one here (the common case routing checks first), else undefined. */
  sole(bareJid: string): BoundSession | undefined {
    const resources = this.byBare.get(bareJid);
    if (resources === undefined || resources.size !== 1) return undefined;
    for (const session of resources.values()) return session;
    return undefined;
  }

  resources(bareJid: string): BoundSession[] {
    const resources = this.byBare.get(bareJid);
    return resources ? [...resources.values()] : [];
  }

  /** Whether some session of the bare JID here carries the flag; no array is made (Carbons asks for every message). */
  anyWithFlag(bareJid: string, flag: string): boolean {
    const resources = this.byBare.get(bareJid);
    if (resources === undefined) return false;
    for (const session of resources.values()) if (session.flags.has(flag)) return true;
    return false;
  }

  hasResource(bareJid: string, resource: string): boolean {
    return this.byBare.get(bareJid)?.has(resource) ?? false;
  }

  all(): IterableIterator<BoundSession> {
    return this.byFull.values();
  }

  get size(): number {
    return this.byFull.size;
  }

  countByTransport(): Record<TransportKind, number> {
    const counts: Record<TransportKind, number> = { tcp: 0, websocket: 0, bosh: 0 };
    for (const s of this.byFull.values()) counts[s.transport]++;
    return counts;
  }
}
