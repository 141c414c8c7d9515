// The push registrations store (XEP-0357 §5): the app servers each account enabled, with what the client
// gave and the count of messages notified since it was last online. Implemented in embedded.ts (LMDB) and
// postgres.ts (migrations/0010_push_registrations.sql); both pass registrations.contract.ts.

/** One app server node an account's client enabled (§5), keyed by (account, jid, node). */
export interface PushRegistration {
  /** The app server's JID (the 'jid' of <enable/>). */
  readonly jid: string;
  /** The node on the app server (the 'node' of <enable/>). */
  readonly node: string;
  /** The publish-options form as the server forwards it (serialised <x/>), when the client gave one. */
  readonly options?: string;
  /** The client asked for message bodies in its notifications (README: include-body). */
  readonly includeBody: boolean;
  /** The resource of the session that enabled it: a session of it waiting for resumption is this client. */
  readonly resource?: string;
  /** When it was enabled (ms since epoch); enabling again renews it. */
  readonly enabledAt: number;
  /** Messages notified since the client was last online. */
  readonly count: number;
}

export type NewRegistration = Omit<PushRegistration, 'count'>;

export interface PushStore {
  /** The account's registrations, oldest first. */
  list(username: string): Promise<PushRegistration[]>;
  /** Adds or replaces the (jid, node) registration, its count back at 0; nothing for a username with no account. */
  enable(username: string, registration: NewRegistration): Promise<void>;
  /** Removes the jid's registration for `node`, or all of the jid's without one; how many went. */
  disable(username: string, jid: string, node?: string): Promise<number>;
  /** Counts one more message for a registration; the new count, or undefined when it is gone. */
  bump(username: string, jid: string, node: string): Promise<number | undefined>;
  /** The client of `resource` is online again: its registrations count from 0. */
  resetCounts(username: string, resource: string): Promise<void>;
}
