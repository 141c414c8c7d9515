// The session directory: which node holds each bound resource, keyed by bare and by full JID.
// On one node it is the local registry itself (memory-directory.ts); in a cluster it is shared
// through Redis (src/cluster/redis-directory.ts). Both pass src/sessions/directory.contract.ts.
import type { SessionRecord } from './types.js';

export type { SessionRecord };

/** The part of a record that names one session: a record is only changed by the session it describes. */
export type SessionKey = Pick<SessionRecord, 'jid' | 'node' | 'sid'>;

export interface SessionDirectory {
  /** True when other nodes read and write it too (records may name other nodes). */
  readonly shared: boolean;
  /**
   * Records a session that was just bound. Returns the record it displaced when the same full JID was
   * held by another session (on another node, or an older one here); that session must end with `conflict`.
   */
  register(record: SessionRecord): Promise<SessionRecord | undefined>;
  /** Stores a session's new availability and priority; false when the record is no longer that session's. */
  update(record: SessionRecord): Promise<boolean>;
  /** Forgets a session that ended; a record that another session took over since is left alone. */
  unregister(session: SessionKey): Promise<void>;
  /** The record of a full JID, on whatever node. */
  find(fullJid: string): Promise<SessionRecord | undefined>;
  /** Every resource of a bare JID, on whatever node. */
  resources(bareJid: string): Promise<SessionRecord[]>;
  /** The full JIDs a node holds. */
  sessionsOf(node: string): Promise<string[]>;
  /** Removes every record a node holds (it died, or restarted under the same id); returns what it removed. */
  wipeNode(node: string): Promise<SessionRecord[]>;
}
