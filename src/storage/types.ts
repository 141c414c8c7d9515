// The core's store interfaces (RFC 6120/6121: accounts, rosters, subscription requests, offline
// messages): authentication, the router's offline path and several modules use them. Each has an
// embedded (LMDB) and a PostgreSQL implementation, and both pass the same contract suites in
// storage/contract/. A module's own stores live in its folder (ModuleDefinition.stores).
// Usernames are normalised JID localparts of the served domain; JIDs are normalised strings.
// Stanzas are stored as serialised XML strings: the store never interprets them.
import type { EmbeddedEnv } from './embedded/env.js';
import type { Db } from './postgres/db.js';
import type { StoredCredentials } from '../auth/credentials.js';
import type { ModuleStoresSpec } from '../modules/storage.js';

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
  /**
   * Delivery: hands the oldest messages (up to `limit`) to `hand`, which delivers them at once and returns the ids
   * it delivered; those leave the queue in the same step. A take of the same queue meanwhile, from this process or
   * another node, waits until this one has ended and then sees only what is left, so no message is handed twice.
   * If `hand` throws, or the process dies before the step ends, every message stays.
   */
  take(username: string, limit: number, hand: (messages: readonly OfflineMessage[]) => readonly string[]): Promise<OfflineTake>;
}

/** What a take saw and what left the queue. */
export interface OfflineTake {
  listed: number;
  removed: number;
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
  readonly bulk: BulkLoader;
  /**
   * The stores of the module `name`, opened once in this engine (later calls return the same) and, on
   * the embedded back end, their account data removed with the account from then on.
   */
  module<S>(name: string, spec: ModuleStoresSpec<S>): S;
  /** Resolves when the back end answers; rejects with StoreUnavailableError when it does not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
