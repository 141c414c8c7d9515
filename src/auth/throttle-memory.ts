// The login throttle's counters in this node's memory (see throttle.ts for the rules): a single
// node, or a cluster node while Redis cannot be reached. A Map in insertion order serves as an LRU:
// an entry touched moves to the end, and past `capacity` the least recently touched one goes.
import { gap, type Admission, type ThrottleEntry, type ThrottlePolicy, type ThrottleStore, type UnlockTarget } from './throttle.js';

interface Counter {
  failures: number;
  next: number;
  lockedUntil: number;
  trustedUntil: number;
  /** Last counted attempt, ms. */
  last: number;
}

const SWEEP_MS = 60_000;

const accountKey = (account: string): string => `a\0${account}`;
const pairKey = (account: string, address: string): string => `p\0${account}\0${address}`;
const addressKey = (address: string): string => `i\0${address}`;

export class MemoryThrottleStore implements ThrottleStore {
  private readonly counters = new Map<string, Counter>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly policy: ThrottlePolicy,
    private readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  get size(): number {
    return this.counters.size;
  }

  admit(address: string, account: string | undefined): Promise<Admission> {
    return Promise.resolve(this.admitNow(address, account));
  }

  private admitNow(address: string, account: string | undefined): Admission {
    const p = this.policy;
    const now = this.now();
    // The address first: counted even when the account then refuses, as an attempt from there it was.
    const from = this.get(addressKey(address), now);
    const addressWait = Math.max(gap(from.failures, p.addressFailuresBeforeDelay, p.maxDelayMs), from.next - now);
    // A refusal counts nothing but keeps the counter recent, so an attack under way cannot push it out.
    if (addressWait > p.maxDelayMs) return this.refuse(addressKey(address), from, 'busy');
    from.failures++;
    from.last = now;
    from.next = now + addressWait + gap(from.failures, p.addressFailuresBeforeDelay, p.maxDelayMs);
    this.put(addressKey(address), from);
    if (account === undefined) return { admitted: true, waitMs: addressWait };

    const acct = this.get(accountKey(account), now);
    const pair = this.get(pairKey(account, address), now);
    if (acct.lockedUntil > now && pair.trustedUntil <= now) return this.refuse(accountKey(account), acct, 'locked');
    if (acct.lockedUntil !== 0 && acct.lockedUntil <= now) {
      acct.lockedUntil = 0;
      if (p.lockoutFailures > 0) acct.failures = Math.min(acct.failures, p.lockoutFailures - 1);
    }
    const pairWait = Math.max(gap(pair.failures, p.failuresBeforeDelay, p.maxDelayMs), pair.next - now);
    if (pairWait > p.maxDelayMs) return this.refuse(pairKey(account, address), pair, 'busy');
    pair.failures++;
    pair.last = now;
    pair.next = now + pairWait + gap(pair.failures, p.failuresBeforeDelay, p.maxDelayMs);
    acct.failures++;
    acct.last = now;
    if (p.lockoutFailures > 0 && acct.failures >= p.lockoutFailures && acct.lockedUntil <= now) acct.lockedUntil = now + p.lockoutMs;
    this.put(accountKey(account), acct);
    this.put(pairKey(account, address), pair);
    return { admitted: true, waitMs: Math.max(addressWait, pairWait) };
  }

  private refuse(key: string, counter: Counter, reason: 'locked' | 'busy'): Admission {
    if (this.counters.has(key)) this.put(key, counter);
    return { admitted: false, reason };
  }

  succeeded(address: string, account: string | undefined): Promise<void> {
    const now = this.now();
    this.takeBack(addressKey(address), now);
    if (account !== undefined) {
      const acct = this.takeBack(accountKey(account), now);
      if (acct && this.policy.lockoutFailures > 0 && acct.failures < this.policy.lockoutFailures) {
        acct.lockedUntil = 0;
        this.dropIfIdle(accountKey(account), acct, now);
      }
      const key = pairKey(account, address);
      const pair = this.counters.get(key) ?? { failures: 0, next: 0, lockedUntil: 0, trustedUntil: 0, last: now };
      pair.failures = 0;
      pair.next = 0;
      pair.trustedUntil = this.policy.trustMs > 0 ? now + this.policy.trustMs : 0;
      if (pair.trustedUntil > now) this.put(key, pair);
      else this.counters.delete(key);
    }
    return Promise.resolve();
  }

  list(): Promise<ThrottleEntry[]> {
    const now = this.now();
    const entries: ThrottleEntry[] = [];
    for (const [key, counter] of this.counters) {
      if (this.expiry(counter) <= now || (counter.failures === 0 && counter.lockedUntil <= now)) continue;
      const [kind = '', first = '', second] = key.split('\0');
      const entry: ThrottleEntry = { kind: kind === 'a' ? 'account' : kind === 'p' ? 'pair' : 'address', failures: counter.failures, expiresAt: this.expiry(counter), scope: 'node' };
      if (kind === 'i') entry.address = first;
      else entry.account = first;
      if (second !== undefined) entry.address = second;
      if (counter.lockedUntil > now) entry.lockedUntil = counter.lockedUntil;
      if (counter.next > now) entry.nextAttemptAt = counter.next;
      entries.push(entry);
    }
    return Promise.resolve(entries);
  }

  unlock(target: UnlockTarget): Promise<number> {
    let changed = 0;
    for (const [key, counter] of [...this.counters]) {
      const [kind = '', first = '', second] = key.split('\0');
      const matches =
        'all' in target ||
        ('account' in target && kind !== 'i' && first === target.account) ||
        ('address' in target && ((kind === 'i' && first === target.address) || (kind === 'p' && second === target.address)));
      if (!matches || (counter.failures === 0 && counter.lockedUntil === 0 && counter.next === 0)) continue;
      changed++;
      if (counter.trustedUntil > this.now()) {
        counter.failures = 0;
        counter.next = 0;
        counter.lockedUntil = 0;
      } else {
        this.counters.delete(key);
      }
    }
    return Promise.resolve(changed);
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    return Promise.resolve();
  }

  private expiry(c: Counter): number {
    return Math.max(c.last + this.policy.windowMs, c.lockedUntil, c.trustedUntil, c.next);
  }

  /** The live counter under `key`, or a fresh one (not stored until put). */
  private get(key: string, now: number): Counter {
    const found = this.counters.get(key);
    if (found && this.expiry(found) > now) return found;
    if (found) this.counters.delete(key);
    return { failures: 0, next: 0, lockedUntil: 0, trustedUntil: 0, last: now };
  }

  /** Stores (or refreshes) a counter as the most recently used, evicting the oldest past capacity. */
  private put(key: string, counter: Counter): void {
    this.counters.delete(key);
    this.counters.set(key, counter);
    while (this.counters.size > this.capacity) {
      const oldest = this.counters.keys().next();
      if (oldest.done === true) break;
      this.counters.delete(oldest.value);
    }
  }

  /** A success takes back the count its own admission added. */
  private takeBack(key: string, now: number): Counter | undefined {
    const counter = this.counters.get(key);
    if (!counter || this.expiry(counter) <= now) return undefined;
    if (counter.failures > 0) counter.failures--;
    this.dropIfIdle(key, counter, now);
    return counter;
  }

  private dropIfIdle(key: string, c: Counter, now: number): void {
    if (c.failures === 0 && c.lockedUntil <= now && c.trustedUntil <= now && c.next <= now) this.counters.delete(key);
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, counter] of [...this.counters]) if (this.expiry(counter) <= now) this.counters.delete(key);
  }
}
