// The stores of privacy lists (XEP-0016 §2) and the block list (XEP-0191 §3). Implemented in embedded.ts
// (LMDB) and postgres.ts (migrations/0005_im_privacy_blocklist.sql); both pass privacy.contract.ts.

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

/** The module's stores: its lists and its block list. */
export interface PrivacyModuleStores {
  readonly privacy: PrivacyStore;
  readonly blocklist: BlockListStore;
}
