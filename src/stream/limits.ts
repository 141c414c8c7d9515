// Per-session and per-address limits on client connections (the [limits] table; STYLE.md §8), in the spirit of
// MongooseIM's and ejabberd's shapers and Prosody's mod_limits: a token bucket that says how long to pause
// reading, and counters of connections per client address. Crossing an address limit is a stream error
// `policy-violation` (RFC 6120 §4.9.3.18) or, on BOSH, the terminal condition policy-violation (XEP-0124 §17.2).
import { StreamError } from '../errors.js';

/** A token bucket: `rate` tokens a second, at most `burst` saved up. Spending may go into debt. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private rate: number, private burst: number, private readonly now: () => number = Date.now) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes `amount` tokens; returns the milliseconds to wait before taking more (0: go on at once). */
  take(amount: number): number {
    this.refill();
    this.tokens -= amount;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.rate) * 1000);
  }

  /** New rate and burst (e.g. once authenticated); a larger burst adds its difference to the tokens. */
  reconfigure(rate: number, burst: number): void {
    this.refill();
    this.tokens = Math.min(burst, this.tokens + Math.max(0, burst - this.burst));
    this.rate = rate;
    this.burst = burst;
  }

  private refill(): void {
    const now = this.now();
    const elapsed = now - this.last;
    this.last = now;
    if (elapsed > 0) this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
  }
}

/** Bytes-per-second shaping of what one client sends: before and after authentication. */
export interface ReadRates {
  preAuth: { rate: number; burst: number };
  authenticated: { rate: number; burst: number };
}

/**
 * Shapes one connection's reading: `consumed(bytes)` after each read pauses the source while the bucket is
 * in debt and resumes it when the tokens are back. Nothing is dropped; the client's TCP window fills instead.
 */
export class ReadShaper {
  private readonly bucket: TokenBucket;
  private timer: NodeJS.Timeout | undefined;
  private resumeAt = 0;
  private stopped = false;

  constructor(private readonly rates: ReadRates, private readonly source: { pause(): void; resume(): void }) {
    this.bucket = new TokenBucket(rates.preAuth.rate, rates.preAuth.burst);
  }

  consumed(bytes: number): void {
    const wait = this.bucket.take(bytes);
    if (wait > 0) this.hold(wait);
  }

  /** Stops reading for `ms` (or longer, if already paused for longer). */
  hold(ms: number): void {
    if (this.stopped) return;
    const until = Date.now() + ms;
    if (this.timer) {
      if (until <= this.resumeAt) return;
      clearTimeout(this.timer);
    } else {
      this.source.pause();
    }
    this.resumeAt = until;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) this.source.resume();
    }, ms);
    this.timer.unref();
  }

  authenticated(): void {
    this.bucket.reconfigure(this.rates.authenticated.rate, this.rates.authenticated.burst);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** What a transport enforces per connection. */
export interface ConnectionShaping {
  read: ReadRates;
  /** Output written but not yet taken by the client (limits.max_output_bytes) before it is cut off. */
  maxOutputBytes: number;
}

const UNLIMITED = { rate: Infinity, burst: Infinity };
/** No read shaping and the former 4 MiB output cap: for transports made outside the server (benchmarks). */
export const UNSHAPED: ConnectionShaping = { read: { preAuth: UNLIMITED, authenticated: UNLIMITED }, maxOutputBytes: 4 * 1024 * 1024 };

/** [limits] as a transport applies it. */
export function connectionShaping(limits: {
  readRatePreAuth: number; readBurstPreAuth: number; readRate: number; readBurst: number; maxOutputBytes: number;
}): ConnectionShaping {
  return {
    read: { preAuth: { rate: limits.readRatePreAuth, burst: limits.readBurstPreAuth }, authenticated: { rate: limits.readRate, burst: limits.readBurst } },
    maxOutputBytes: limits.maxOutputBytes,
  };
}

/** The stream error a client that does not read its output gets (if it ever reads it). */
export function slowReaderError(): StreamError {
  return new StreamError('policy-violation', 'too much output waiting for the client to read it');
}

export interface AddressLimits {
  /** Connections (TCP, direct TLS, WebSocket, BOSH sessions) one address may hold at once. */
  maxConnections: number;
  /** Of those, how many may be waiting to authenticate (until resource binding). */
  maxPreAuth: number;
}

/** One admitted connection: tell it when the client has authenticated and when the connection ended. */
export interface AddressTicket {
  authenticated(): void;
  release(): void;
}

/** Counts connections per client address; memory is one entry per address with connections open. */
export class AddressLimiter {
  private readonly open = new Map<string, { all: number; preAuth: number }>();

  constructor(private limits: AddressLimits) {}

  /** New caps (a configuration reload): connections already admitted stay; the next admit() obeys them. */
  reconfigure(limits: AddressLimits): void {
    this.limits = { ...limits };
  }

  /** A ticket, or the reason the connection is refused. */
  admit(address: string): AddressTicket | string {
    const counts = this.open.get(address) ?? { all: 0, preAuth: 0 };
    if (counts.all >= this.limits.maxConnections) return `too many connections from your address (limit ${this.limits.maxConnections})`;
    if (counts.preAuth >= this.limits.maxPreAuth) return `too many unauthenticated connections from your address (limit ${this.limits.maxPreAuth})`;
    counts.all++;
    counts.preAuth++;
    this.open.set(address, counts);
    return new Ticket(this.open, address, counts);
  }

  count(address: string): { all: number; preAuth: number } {
    const c = this.open.get(address);
    return { all: c?.all ?? 0, preAuth: c?.preAuth ?? 0 };
  }
}

/** An AddressTicket as an object of its own, not two closures: every connection holds one for its life. */
class Ticket implements AddressTicket {
  private preAuth = true;
  private released = false;

  constructor(
    private readonly open: Map<string, { all: number; preAuth: number }>,
    private readonly address: string,
    private readonly counts: { all: number; preAuth: number },
  ) {}

  authenticated(): void {
    if (!this.preAuth || this.released) return;
    this.preAuth = false;
    this.counts.preAuth--;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.counts.all--;
    if (this.preAuth) this.counts.preAuth--;
    if (this.counts.all === 0) this.open.delete(this.address);
  }
}
