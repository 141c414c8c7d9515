// Login throttling (RFC 6120 §13.7.2.3: mitigate dictionary attacks on SASL), per (address,
// account), per account across addresses, and per address across accounts.
//
// Every admitted attempt counts as a failure the moment it is admitted, so parallel connections
// see each other at once; a success then takes its own count back and clears only its own
// (address, account) pair. Delays grow exponentially and are scheduled, not merely slept: the
// next attempt of a pair or address may not start before the previous one's slot plus its gap,
// so many connections cannot guess in parallel. After `lockoutFailures` attempts on an account
// within the window it is locked for `lockoutMs`, except from an (address, account) pair that
// logged in successfully within `trustMs` (the owner's usual address keeps working while an
// attacker elsewhere is locked out). When a lock ends the count falls back to one below the
// limit: one more attempt is allowed, which a failure turns into a new lock.
import { isIP } from 'node:net';
import { SaslError } from '../errors.js';

export interface ThrottlePolicy {
  /** Attempts of one (address, account) pair before each further one is delayed. */
  failuresBeforeDelay: number;
  /** Attempts from one address, over all accounts, before each further one is delayed. */
  addressFailuresBeforeDelay: number;
  /** Longest delay; an attempt that would have to wait longer is refused. */
  maxDelayMs: number;
  /** Counters are forgotten after this long without an attempt. */
  windowMs: number;
  /** Attempts on one account within the window that lock it; 0 never locks. */
  lockoutFailures: number;
  lockoutMs: number;
  /** How long a successful login exempts its (address, account) pair from the account's lock; 0: never. */
  trustMs: number;
}

export const BASE_DELAY_MS = 250;

/** The gap after the `count`-th attempt before the next one may start. */
export function gap(count: number, threshold: number, maxDelayMs: number): number {
  if (count < threshold) return 0;
  return Math.min(maxDelayMs, BASE_DELAY_MS * 2 ** Math.min(count - threshold, 30));
}

export type Admission = { admitted: true; waitMs: number } | { admitted: false; reason: 'locked' | 'busy' };

export type EntryKind = 'account' | 'pair' | 'address';

/** One counter, as `ratatosk auth locks` shows it. */
export interface ThrottleEntry {
  kind: EntryKind;
  /** The account's localpart (account and pair entries). */
  account?: string;
  address?: string;
  failures: number;
  /** ms since epoch: the end of a lock (account), or when the next attempt may start (pair, address). */
  lockedUntil?: number;
  nextAttemptAt?: number;
  /** When the counter is forgotten, ms since epoch. */
  expiresAt: number;
  /** Where the counter lives: 'cluster' (Redis) or 'node' (this node's memory). */
  scope: 'cluster' | 'node';
}

export type UnlockTarget = { account: string } | { address: string } | { all: true };

/** Where the counters live: this node's memory, or Redis for the whole cluster. */
export interface ThrottleStore {
  admit(address: string, account: string | undefined): Promise<Admission>;
  succeeded(address: string, account: string | undefined): Promise<void>;
  list(): Promise<ThrottleEntry[]>;
  /** Clears counters and locks (a pair's trust stays); the number of entries changed. */
  unlock(target: UnlockTarget): Promise<number>;
  close(): Promise<void>;
}

/** An admitted attempt: report its success so that it stops counting as a failure. */
export interface LoginTicket {
  succeeded(): void;
}

/**
 * The client as the throttle counts it. An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d;
 * both spellings are one address. An IPv6 client counts by its /64, the block one host or one home is
 * usually given: otherwise each of its 2^64 addresses would be a fresh client, and a phone's privacy
 * addresses would each lose the trust its last login gave.
 */
export function normaliseAddress(address: string): string {
  const lower = address.toLowerCase().replace(/%.*$/, '');
  if (lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4) return lower.slice(7);
  if (isIP(lower) !== 6) return lower;
  const [head = '', tail] = lower.split('::');
  const count = (part: string): string[] => (part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const left = count(head);
  const right = tail === undefined ? [] : count(tail);
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export class LoginThrottle {
  constructor(private readonly store: ThrottleStore) {}

  /**
   * Admits one attempt on `account` (a JID localpart; undefined when the name is not a valid one)
   * from `address`, after waiting out its delay. A refusal is SASL temporary-auth-failure, decided
   * before any password is looked at, so it says nothing about the password or the account's
   * existence (unknown names are counted and locked the same way).
   */
  async admit(address: string, account: string | undefined): Promise<LoginTicket> {
    const from = normaliseAddress(address);
    const admission = await this.store.admit(from, account);
    if (!admission.admitted) throw new SaslError('temporary-auth-failure', 'too many failed attempts; try again later');
    if (admission.waitMs > 0) await new Promise((resolve) => setTimeout(resolve, admission.waitMs));
    let done = false;
    return {
      succeeded: () => {
        if (done) return;
        done = true;
        void this.store.succeeded(from, account);
      },
    };
  }

  list(): Promise<ThrottleEntry[]> {
    return this.store.list();
  }

  unlock(target: UnlockTarget): Promise<number> {
    if ('address' in target) return this.store.unlock({ address: normaliseAddress(target.address) });
    return this.store.unlock(target);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
