// The message archive store (XEP-0313): messages by owner (a username, or a room's bare JID) in id order,
// id being time-ordered (ids.ts), and each owner's archiving preferences (§5).

export interface ArchivedMessage {
  /** The archive's owner: a user's name (the local part: accounts are of one domain) or a room's bare JID. */
  readonly owner: string;
  /** The archive id (XEP-0359 stanza-id), unique per owner, time-ordered. */
  readonly id: string;
  /** The other party's bare JID (for a room: the occupant JID, which is the sender). */
  readonly with: string;
  /** The other party's JID as it appeared (full or bare); a full-JID `with` filter matches it. */
  readonly peer: string;
  /** When it was archived, ms since 1970. */
  readonly timestamp: number;
  /** The message as serialised. */
  readonly stanza: string;
}

export interface ArchiveQuery {
  readonly owner: string;
  /** A bare JID matches `with`; a full JID matches `peer`. */
  readonly with?: string;
  readonly withFull?: boolean;
  /** Ids strictly greater than `after` and strictly less than `before` (time filters are id bounds). */
  readonly after?: string;
  readonly before?: string;
  /** Only these ids. */
  readonly ids?: readonly string[];
  readonly max: number;
  /** 'last': the last `max` of the range (paging backwards); 'first': the first `max`. */
  readonly from: 'first' | 'last';
}

export interface ArchivePage {
  /** Oldest first. */
  readonly messages: readonly ArchivedMessage[];
  /** The range held no more than these: the page reaches its end (XEP-0313 §4.3 complete). */
  readonly complete: boolean;
}

export type PrefsDefault = 'always' | 'roster' | 'never';

export interface ArchivePrefs {
  readonly default: PrefsDefault;
  readonly always: readonly string[];
  readonly never: readonly string[];
}

export interface ArchiveStore {
  /** Writes messages (a batch); an id already held for its owner is left as it is. */
  append(messages: readonly ArchivedMessage[]): Promise<void>;
  query(query: ArchiveQuery): Promise<ArchivePage>;
  /** Whether the owner's archive holds the id. */
  has(owner: string, id: string): Promise<boolean>;
  getPrefs(owner: string): Promise<ArchivePrefs | undefined>;
  setPrefs(owner: string, prefs: ArchivePrefs): Promise<void>;
  /** Deletes every message archived before `timestamp`; returns how many. */
  purgeBefore(timestamp: number): Promise<number>;
  /** Deletes an owner's archive and preferences. */
  removeOwner(owner: string): Promise<void>;
  /** Every archive's messages by (owner, id), `limit` after the position given (export). */
  scan(after: { owner: string; id: string } | undefined, limit: number): Promise<ArchivedMessage[]>;
  /** Every owner's preferences, by owner (export). */
  allPrefs(): Promise<Array<{ owner: string; prefs: ArchivePrefs }>>;
}
