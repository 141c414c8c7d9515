// Slows down repeated failed logins from one address (RFC 6120 §13.7.2.3 "mitigate brute force").
export interface ThrottleOptions {
  failuresBeforeDelay: number;
  maxDelayMs: number;
  /** Failures are forgotten after this much quiet. */
  forgetAfterMs?: number;
}

interface Record {
  failures: number;
  last: number;
}

export class AuthThrottle {
  private readonly byAddress = new Map<string, Record>();
  private readonly forgetAfterMs: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: ThrottleOptions) {
    this.forgetAfterMs = options.forgetAfterMs ?? 10 * 60_000;
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  /** How long to hold back the answer to this address's next attempt. */
  delayFor(address: string, now = Date.now()): number {
    const rec = this.byAddress.get(address);
    if (!rec || now - rec.last > this.forgetAfterMs) return 0;
    const excess = rec.failures - this.options.failuresBeforeDelay;
    if (excess < 0) return 0;
    return Math.min(this.options.maxDelayMs, 250 * 2 ** excess);
  }

  failed(address: string, now = Date.now()): void {
    const rec = this.byAddress.get(address);
    if (!rec || now - rec.last > this.forgetAfterMs) this.byAddress.set(address, { failures: 1, last: now });
    else {
      rec.failures++;
      rec.last = now;
    }
  }

  succeeded(address: string): void {
    this.byAddress.delete(address);
  }

  private sweep(now = Date.now()): void {
    for (const [address, rec] of this.byAddress) if (now - rec.last > this.forgetAfterMs) this.byAddress.delete(address);
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
