// Store interfaces: modules and the core see only these; each has an embedded (LMDB) and,
// from the PostgreSQL issue on, a PostgreSQL implementation that pass one contract suite.
import type { StoredCredentials } from '../auth/credentials.js';

export interface Account {
  username: string; // normalised localpart
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
  /** Deletes the account and everything it owns; false when there was none. */
  delete(username: string): Promise<boolean>;
  /** Usernames in lexical order, paged. */
  list(options?: { after?: string; limit?: number }): Promise<string[]>;
  count(): Promise<number>;
}

/** Thrown by a store whose back end cannot be reached; callers answer with a temporary error. */
export class StoreUnavailableError extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

export interface Stores {
  readonly kind: 'embedded' | 'postgres';
  readonly accounts: AccountStore;
  close(): Promise<void>;
}
