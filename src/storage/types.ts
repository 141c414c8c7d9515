// Store interfaces: modules and the core see only these. Each has an embedded (LMDB) and a
// PostgreSQL implementation, and both pass the same contract suites in storage/contract/.
// Usernames are normalised JID localparts of the served domain; JIDs are normalised strings.
// Stanzas are stored as serialised XML strings: the store never interprets them.
import type { EmbeddedEnv } from './embedded/env.js';
import type { Db } from './postgres/db.js';
import type { StoredCredentials } from '../auth/credentials.js';

// ---- accounts and SCRAM credentials ----

export interface Account {
  username: string;
  credentials: StoredCredentials;
  createdAt: number; // ms since epoch
}

export interface AccountStore {
  /** Creates an account; false when the username is taken. */
  create(username: string, credentials: StoredCredentials): Promise<boolean>;
  get(username: string): Promise<Account | undefined>;
  exists(username: string): Promise<boolean>;
  /** Replaces the credentials; false when there is no such account. */
  setCredentials(username: string, credentials: StoredCredentials): Promise<boolean>;
  /** Deletes the account and everything every store keeps for it; false when there was none. */
  delete(username: string): Promise<boolean>;
  /** Usernames in lexical order, paged. */
  list(options?: { after?: string; limit?: number }): Promise<string[]>;
  count(): Promise<number>;
}

// ---- roster (RFC 6121 §2) and roster versioning (XEP-0237) ----

export type SubscriptionState = 'none' | 'to' | 'from' | 'both';

export interface RosterItem {
  /** The contact's bare JID. */
  jid: string;
  name?: string;
  subscription: SubscriptionState;
  /** An outbound subscription request is pending (ask='subscribe'). */
  ask: boolean;
  /** The user pre-approved the contact's subscription request (RFC 6121 §3.4). */
  approved: boolean;
  groups: string[];
}

export interface Roster {
  /** Increases with every change to the roster; 0 for a roster that was never written. */
  version: number;
  items: RosterItem[];
}

export interface RosterStore {
  get(username: string): Promise<Roster>;
  getItem(username: string, jid: string): Promise<RosterItem | undefined>;
  /** Inserts or replaces an item and bumps the version in one transaction; returns the new version. */
  setItem(username: string, item: RosterItem): Promise<number>;
  /** Removes an item and bumps the version; undefined when there was no such item. */
  removeItem(username: string, jid: string): Promise<number | undefined>;
  version(username: string): Promise<number>;
  count(username: string): Promise<number>;
}

// ---- inbound subscription requests kept until the user answers (RFC 6121 §3.1.3) ----

export interface SubscriptionRequest {
  /** Bare JID of the requester. */
  from: string;
  /** The subscribe presence as received, to deliver again at each login. */
  stanza: string;
  createdAt: number;
}

export interface SubscriptionRequestStore {
  /** Keeps a request; a second one from the same JID replaces the first. */
  put(username: string, request: SubscriptionRequest): Promise<void>;
  remove(username: string, from: string): Promise<boolean>;
  list(username: string): Promise<SubscriptionRequest[]>;
}

// ---- offline messages (XEP-0160) ----

export interface OfflineMessage {
  /** Opaque, increasing within one user's queue. */
  id: string;
  stanza: string;
  storedAt: number;
}

export interface OfflineStore {
  /** Appends a message unless the queue already holds `limit`; false when it was full. */
  push(username: string, stanza: string, limit: number): Promise<boolean>;
  /** Oldest first. Messages stay until `remove`d, so a failed delivery loses nothing. */
  list(username: string, limit?: number): Promise<OfflineMessage[]>;
  remove(username: string, ids: readonly string[]): Promise<void>;
  count(username: string): Promise<number>;
}

// ---- vCard (XEP-0054) and private XML storage (XEP-0049) ----

export interface VCardStore {
  /** The <vCard/> element as stored, or undefined. */
  get(username: string): Promise<string | undefined>;
  set(username: string, vcard: string): Promise<void>;
  delete(username: string): Promise<boolean>;
}

export interface PrivateXmlStore {
  /** `key` is "<element name> <namespace>" of the stored child. */
  get(username: string, key: string): Promise<string | undefined>;
  set(username: string, key: string, xml: string): Promise<void>;
  delete(username: string, key: string): Promise<boolean>;
}

// ---- last activity (XEP-0012): when each user last logged out ----

export interface LastActivity {
  /** When the user's last session ended, ms since epoch. */
  timestamp: number;
  /** The <status/> of the unavailable presence the user sent last, if any. */
  status?: string;
}

export interface LastActivityStore {
  get(username: string): Promise<LastActivity | undefined>;
  /** Replaces the user's record; does nothing for a username with no account. */
  set(username: string, value: LastActivity): Promise<void>;
}

// ---- privacy lists (XEP-0016) and the block list (XEP-0191) ----

export interface PrivacyItem {
  /** Absent: the fall-through item that matches every stanza. */
  type?: 'jid' | 'group' | 'subscription';
  value?: string;
  action: 'allow' | 'deny';
  order: number;
  /** Which stanzas the item applies to; all false means all of them. */
  message: boolean;
  iq: boolean;
  presenceIn: boolean;
  presenceOut: boolean;
}

export interface PrivacyStore {
  /** Names of the user's lists and the default list's name. */
  names(username: string): Promise<{ lists: string[]; default?: string }>;
  /** The items of a list sorted by order, or undefined when there is no such list. */
  getList(username: string, name: string): Promise<PrivacyItem[] | undefined>;
  setList(username: string, name: string, items: readonly PrivacyItem[]): Promise<void>;
  /** Deleting the default list clears the default. */
  deleteList(username: string, name: string): Promise<boolean>;
  /** Sets or clears (undefined) the default list; false when the named list does not exist. */
  setDefault(username: string, name: string | undefined): Promise<boolean>;
}

export interface BlockListStore {
  /** Blocked JIDs (bare, full or domain), sorted. */
  list(username: string): Promise<string[]>;
  /** Adds JIDs; returns those that were not blocked before. */
  block(username: string, jids: readonly string[]): Promise<string[]>;
  /** Removes JIDs, or every JID when `jids` is 'all'; returns those that were removed. */
  unblock(username: string, jids: readonly string[] | 'all'): Promise<string[]>;
}

// ---- MUC rooms (XEP-0045): configuration and affiliations of persistent rooms ----

export type Affiliation = 'owner' | 'admin' | 'member' | 'outcast';
export type RoomConfigValue = string | number | boolean | string[];

export interface StoredRoom {
  /** The room's bare JID, e.g. "lounge@conference.example.org". */
  jid: string;
  /** The room configuration, keyed by XEP-0045 form field (muc#roomconfig_*); validated by the module. */
  config: Record<string, RoomConfigValue>;
  subject?: string;
  subjectBy?: string;
  createdAt: number;
}

export interface RoomAffiliation {
  /** Bare JID of the affiliated user. */
  jid: string;
  affiliation: Affiliation;
  reason?: string;
  /** The nickname registered in the room, if any. */
  nick?: string;
}

export interface RoomStore {
  get(jid: string): Promise<StoredRoom | undefined>;
  /** Inserts or replaces the room's configuration and subject (affiliations are kept). */
  save(room: StoredRoom): Promise<void>;
  /** Deletes the room with its affiliations; false when there was none. */
  delete(jid: string): Promise<boolean>;
  /** The rooms of one MUC service (the domain part of their JIDs), sorted by JID. */
  list(service: string): Promise<StoredRoom[]>;
  affiliations(jid: string): Promise<RoomAffiliation[]>;
  /** Sets an affiliation; 'none' removes it. */
  setAffiliation(room: string, affiliation: RoomAffiliation | { jid: string; affiliation: 'none' }): Promise<void>;
  /** Number of persistent rooms in which `jid` is an owner (for the rooms-per-user limit). */
  countOwned(jid: string): Promise<number>;
}

// ---- message archive (XEP-0313) ----

export interface ArchivedMessage {
  /** Unique, and ordered like the messages within one archive. */
  id: string;
  /** Whose archive: a local username, or a room's bare JID (which contains '@') for a MUC archive. */
  owner: string;
  /** Bare JID of the other party (or the occupant's room JID for a MUC archive). */
  with: string;
  timestamp: number;
  stanza: string;
}

export interface ArchiveQuery {
  owner: string;
  with?: string;
  /** Inclusive time bounds, ms since epoch. */
  start?: number;
  end?: number;
  /** Result Set Management (XEP-0059): page after this id, or before it ('' means the last page). */
  after?: string;
  before?: string;
  /** Page size; stores cap it. */
  limit: number;
}

export interface ArchivePage {
  messages: ArchivedMessage[];
  /** True when no messages lie beyond this page in the paging direction. */
  complete: boolean;
  /** Matches for the query without paging. */
  count: number;
}

export interface ArchiveStore {
  append(message: Omit<ArchivedMessage, 'id'>): Promise<string>;
  query(query: ArchiveQuery): Promise<ArchivePage>;
  /** Drops a whole archive (a user's or a room's). */
  deleteArchive(owner: string): Promise<void>;
  /** Drops messages older than the time given, for retention; returns how many. */
  pruneBefore(timestamp: number): Promise<number>;
}

// ---- bulk provisioning (load tests, import) ----

export interface BulkUser {
  username: string;
  credentials: StoredCredentials;
  createdAt?: number;
  roster?: RosterItem[];
}

export interface BulkLoader {
  /**
   * Writes many users with their rosters in large transactions (COPY on PostgreSQL).
   * 'skip' leaves existing users untouched; 'fail' rejects the whole batch if any exists.
   * Returns how many users were created.
   */
  load(users: readonly BulkUser[], options: { onExisting: 'skip' | 'fail' }): Promise<number>;
}

// ---- the set ----

const STORE_UNAVAILABLE = Symbol.for('ratatosk.StoreUnavailableError');

/** Thrown by a store whose back end cannot be reached; callers answer with a temporary error. */
export class StoreUnavailableError extends Error {
  readonly [STORE_UNAVAILABLE] = true;

  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'StoreUnavailableError';
  }

  /**
   * `instanceof` by brand: the PostgreSQL back end is imported on demand, and a test runner that loads
   * the core as CommonJS gets a second copy of this module from that import; both must be recognised.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && STORE_UNAVAILABLE in value;
  }
}

/**
 * The engine every store opens in: the one LMDB environment or the one PostgreSQL pool. Modules open
 * their own stores in it (ModuleDefinition.stores), so a server still holds one of each.
 */
export type StorageEngine = { readonly kind: 'embedded'; readonly env: EmbeddedEnv } | { readonly kind: 'postgres'; readonly db: Db };

export interface Stores {
  readonly kind: 'embedded' | 'postgres';
  readonly engine: StorageEngine;
  readonly accounts: AccountStore;
  readonly roster: RosterStore;
  readonly subscriptionRequests: SubscriptionRequestStore;
  readonly offline: OfflineStore;
  readonly vcards: VCardStore;
  readonly privateXml: PrivateXmlStore;
  readonly lastActivity: LastActivityStore;
  readonly privacy: PrivacyStore;
  readonly blocklist: BlockListStore;
  readonly rooms: RoomStore;
  readonly archive: ArchiveStore;
  readonly bulk: BulkLoader;
  /** Resolves when the back end answers; rejects with StoreUnavailableError when it does not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
