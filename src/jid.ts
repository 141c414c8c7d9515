// JID value object (RFC 7622). Normalisation approximates the PRECIS profiles with Unicode NFKC
// case folding for localpart and domainpart and NFC for the resourcepart; forbidden characters
// and length limits are enforced as §3 requires.
const FORBIDDEN_LOCAL = /[\s"&'/:<>@\u0000-\u001f\u007f]/u;
const FORBIDDEN_DOMAIN = /[\s"&'/:<>@\u0000-\u001f\u007f\\]/u;
const MAX_PART_BYTES = 1023;
/**
 * Parsed JIDs by their input text. Jids are immutable, and routing parses the same few addresses over
 * and over (every 'to' of every stanza); normalising costs three Unicode normalisations and checks.
 * Two generations: a JID seen again while in the older one moves to the newer; when the newer is full it
 * becomes the older and the oldest is dropped. So what is in use stays, and what a churn of logins leaves
 * behind (a full JID per session, never seen again) goes within two generations instead of piling up: a
 * single map of 10,000 took an hour of the soak to fill and was most of its heap growth.
 */
const GENERATION = 1_024;
/** Longer inputs are parsed every time, so the cache stays small whatever a client sends (at most ~1 MB). */
const PARSED_MAX_INPUT = 256;
let recent = new Map<string, Jid>();
let older = new Map<string, Jid>();

export class JidError extends Error {
  constructor(readonly input: string, reason: string) {
    super(`invalid JID "${input}": ${reason}`);
    this.name = 'JidError';
  }
}

export class Jid {
  private text: string | undefined = undefined;
  private bareJid: Jid | undefined = undefined;

  private constructor(readonly local: string, readonly domain: string, readonly resource: string) {}

  static parse(input: string): Jid {
    const known = recent.get(input);
    if (known !== undefined) return known;
    const jid = older.get(input) ?? Jid.parseText(input);
    if (input.length > PARSED_MAX_INPUT) return jid;
    if (recent.size >= GENERATION) {
      older = recent;
      recent = new Map();
    }
    recent.set(input, jid);
    return jid;
  }

  private static parseText(input: string): Jid {
    const slash = input.indexOf('/');
    const beforeResource = slash === -1 ? input : input.slice(0, slash);
    const resource = slash === -1 ? '' : input.slice(slash + 1);
    const at = beforeResource.indexOf('@');
    const local = at === -1 ? '' : beforeResource.slice(0, at);
    const domain = at === -1 ? beforeResource : beforeResource.slice(at + 1);
    if (at !== -1 && local === '') throw new JidError(input, 'empty localpart');
    if (slash !== -1 && resource === '') throw new JidError(input, 'empty resourcepart');
    return Jid.of(local, domain, resource, input);
  }

  /** Parses or returns undefined, for data from the wire where a bad JID is answered, not thrown. */
  static tryParse(input: string | undefined): Jid | undefined {
    if (input === undefined) return undefined;
    try {
      return Jid.parse(input);
    } catch {
      return undefined;
    }
  }

  static of(local: string, domain: string, resource = '', input = `${local}@${domain}/${resource}`): Jid {
    const l = Jid.normaliseLocal(local, input);
    const d = Jid.normaliseDomain(domain, input);
    const r = resource.normalize('NFC');
    if (Buffer.byteLength(r) > MAX_PART_BYTES) throw new JidError(input, 'resourcepart too long');
    if (/[\u0000-\u001f\u007f]/u.test(r)) throw new JidError(input, 'control character in resourcepart');
    return new Jid(l, d, r);
  }

  static normaliseLocal(local: string, input = local): string {
    const l = local.normalize('NFKC').toLowerCase();
    if (Buffer.byteLength(l) > MAX_PART_BYTES) throw new JidError(input, 'localpart too long');
    if (FORBIDDEN_LOCAL.test(l)) throw new JidError(input, 'forbidden character in localpart');
    return l;
  }

  static normaliseDomain(domain: string, input = domain): string {
    const d = domain.normalize('NFKC').toLowerCase().replace(/\.$/, '');
    if (d === '') throw new JidError(input, 'empty domainpart');
    if (Buffer.byteLength(d) > MAX_PART_BYTES) throw new JidError(input, 'domainpart too long');
    if (FORBIDDEN_DOMAIN.test(d)) throw new JidError(input, 'forbidden character in domainpart');
    return d;
  }

  get isBare(): boolean {
    return this.resource === '';
  }

  get isDomain(): boolean {
    return this.local === '' && this.resource === '';
  }

  bare(): Jid {
    if (this.resource === '') return this;
    this.bareJid ??= new Jid(this.local, this.domain, '');
    return this.bareJid;
  }

  withResource(resource: string): Jid {
    return Jid.of(this.local, this.domain, resource);
  }

  equals(other: Jid | undefined): boolean {
    return other !== undefined && other.local === this.local && other.domain === this.domain && other.resource === this.resource;
  }

  toString(): string {
    if (this.text === undefined) {
      const bare = this.local === '' ? this.domain : `${this.local}@${this.domain}`;
      this.text = this.resource === '' ? bare : `${bare}/${this.resource}`;
    }
    return this.text;
  }

  bareString(): string {
    return this.resource === '' ? this.toString() : this.bare().toString();
  }
}
