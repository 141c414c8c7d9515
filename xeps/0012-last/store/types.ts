// The last-activity store (XEP-0012 §4 offline user query): when each account's last session ended.
// Implemented in embedded.ts (LMDB) and postgres.ts (migrations/0008_im_last_activity.sql); both pass
// last-activity.contract.ts.

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
