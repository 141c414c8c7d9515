// The FAST token store (XEP-0484): at most one token per account and user-agent id (§3: tokens are bound
// to the client installation). Tokens are not kept: only what verifies a login with one (a hash of the
// mechanism's initiator proof) and the server's answer, neither of which logs anyone in (README).
// Implemented in embedded.ts (LMDB) and postgres.ts (migrations/0024_fast_tokens.sql); both pass tokens.contract.ts.

export interface FastTokenRecord {
  /** The HT mechanism the token is bound to (§3.2: it is refused with any other). */
  mechanism: string;
  /** SHA-256 (hex) of HMAC(token, "Initiator"): what the login's initiator message must hash to. */
  verifier: string;
  /** HMAC(token, "Responder"), base64: the server's additional data on success. */
  responder: string;
  /** When the token stops working, ms since 1970. */
  expiresAt: number;
  /** Ties the token to the password it was issued under: a changed password leaves it unusable (README). */
  credential: string;
}

export interface FastTokenStore {
  /** Stores the account's token for the user agent, in place of any it had. Nothing without the account. */
  put(username: string, agent: string, record: FastTokenRecord): Promise<void>;
  get(username: string, agent: string): Promise<FastTokenRecord | undefined>;
  /**
   * Takes the token out if its verifier is `verifier`, atomically: of two logins with the same token (on two
   * nodes) one gets it. Undefined when there was none or another.
   */
  take(username: string, agent: string, verifier: string): Promise<FastTokenRecord | undefined>;
  /** Removes the account's tokens (every user agent's when `agent` is undefined); how many there were. */
  revoke(username: string, agent?: string): Promise<number>;
}
