// XEP-0077 §3.1.1 leaves limits on registration to "local service provisioning"; this one counts
// completed registrations per IP address in a sliding window.

/** A slot taken before the account is created: kept when it was, given back when it was not. */
export interface Reservation {
  release(): void;
}

export class AddressLimit {
  /** Times (ms) of the registrations each address made within the window, oldest first. */
  private readonly recent = new Map<string, number[]>();

  constructor(
    private maxPerAddress: number,
    private windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** New limits (a configuration reload); the registrations already counted stay counted. */
  reconfigure(maxPerAddress: number, windowMs: number): void {
    this.maxPerAddress = maxPerAddress;
    this.windowMs = windowMs;
  }

  /** Takes a slot for `address`, or returns undefined when it used up its registrations for now. */
  reserve(address: string): Reservation | undefined {
    const key = addressKey(address);
    const times = this.current(key);
    if (times.length >= this.maxPerAddress) return undefined;
    const at = this.now();
    times.push(at);
    this.recent.set(key, times);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const list = this.recent.get(key);
        const index = list?.indexOf(at) ?? -1;
        if (list && index !== -1) list.splice(index, 1);
        if (list?.length === 0) this.recent.delete(key);
      },
    };
  }

  /** Forgets registrations older than the window, so idle addresses cost no memory. */
  prune(): void {
    for (const key of [...this.recent.keys()]) {
      if (this.current(key).length === 0) this.recent.delete(key);
    }
  }

  /** Addresses with registrations inside the window. */
  get size(): number {
    return this.recent.size;
  }

  private current(key: string): number[] {
    const cutoff = this.now() - this.windowMs;
    const times = (this.recent.get(key) ?? []).filter((t) => t > cutoff);
    if (times.length > 0) this.recent.set(key, times);
    else this.recent.delete(key);
    return times;
  }
}

/** An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d; both spellings are one address. */
function addressKey(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
