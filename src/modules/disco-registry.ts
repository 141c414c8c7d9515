// What the server's modules say about the JIDs they host for service discovery (XEP-0030 §3, §4): identities,
// features and items registered per JID, and per domain a provider for JIDs that come and go (MUC rooms) and
// for nodes. The disco module answers from it for every domain the server hosts.
import type { Jid } from '../jid.js';
import type { Element } from '../xml/element.js';

export interface DiscoIdentity {
  category: string;
  type: string;
  name?: string;
}

export interface DiscoItem {
  jid: string;
  name?: string;
  node?: string;
}

/** A disco#info answer: identities, features and extended information forms (XEP-0128). */
export interface DiscoInfo {
  readonly identities: readonly DiscoIdentity[];
  readonly features: readonly string[];
  readonly forms?: readonly Element[];
}

export interface DiscoRequest {
  /** The JID asked about (bare or a domain). */
  readonly to: Jid;
  readonly node?: string;
  readonly from: Jid;
}

/**
 * Answers for JIDs of one domain that are not registered one by one: undefined when it knows nothing of the
 * JID or node (the registered entries answer, else item-not-found); may throw a StanzaError to refuse.
 */
export interface DiscoProvider {
  info?(request: DiscoRequest): DiscoInfo | undefined | Promise<DiscoInfo | undefined>;
  items?(request: DiscoRequest): readonly DiscoItem[] | undefined | Promise<readonly DiscoItem[] | undefined>;
}

class Entry {
  readonly features = new Map<string, number>();
  readonly identities: DiscoIdentity[] = [];
  readonly items: DiscoItem[] = [];

  get empty(): boolean {
    return this.features.size === 0 && this.identities.length === 0 && this.items.length === 0;
  }
}

export class DiscoRegistry {
  /** By JID (normalised, bare or a domain). */
  private readonly entries = new Map<string, Entry>();
  /** By domain. */
  private readonly providers = new Map<string, DiscoProvider>();
  /** Features of every account of the server's domain (XEP-0030 §3.1, a user's bare JID), counted like a JID's. */
  private readonly accountFeatures = new Map<string, number>();
  private readonly accountIdentities: DiscoIdentity[] = [];

  addFeature(feature: string, jid: string): () => void {
    const { features } = this.entry(jid);
    features.set(feature, (features.get(feature) ?? 0) + 1);
    return () => {
      const n = (features.get(feature) ?? 1) - 1;
      if (n <= 0) features.delete(feature);
      else features.set(feature, n);
      this.prune(jid);
    };
  }

  addAccountIdentity(identity: DiscoIdentity): () => void {
    this.accountIdentities.push(identity);
    return () => {
      const i = this.accountIdentities.indexOf(identity);
      if (i >= 0) this.accountIdentities.splice(i, 1);
    };
  }

  addAccountFeature(feature: string): () => void {
    const features = this.accountFeatures;
    features.set(feature, (features.get(feature) ?? 0) + 1);
    return () => {
      const n = (features.get(feature) ?? 1) - 1;
      if (n <= 0) features.delete(feature);
      else features.set(feature, n);
    };
  }

  addIdentity(identity: DiscoIdentity, jid: string): () => void {
    const { identities } = this.entry(jid);
    identities.push(identity);
    return () => {
      remove(identities, identity);
      this.prune(jid);
    };
  }

  addItem(item: DiscoItem, jid: string): () => void {
    const { items } = this.entry(jid);
    items.push(item);
    return () => {
      remove(items, item);
      this.prune(jid);
    };
  }

  addProvider(domain: string, provider: DiscoProvider): () => void {
    if (this.providers.has(domain)) throw new Error(`two disco providers for ${domain}`);
    this.providers.set(domain, provider);
    return () => {
      if (this.providers.get(domain) === provider) this.providers.delete(domain);
    };
  }

  listFeatures(jid: string): string[] {
    return [...(this.entries.get(jid)?.features.keys() ?? [])].sort();
  }

  listAccountFeatures(): string[] {
    return [...this.accountFeatures.keys()].sort();
  }

  listAccountIdentities(): readonly DiscoIdentity[] {
    return [...this.accountIdentities];
  }

  listIdentities(jid: string): readonly DiscoIdentity[] {
    return this.entries.get(jid)?.identities ?? [];
  }

  listItems(jid: string): readonly DiscoItem[] {
    return this.entries.get(jid)?.items ?? [];
  }

  /** disco#info of a JID: what is registered for it (not for a node) with what its domain's provider adds; undefined when neither knows it. */
  async info(request: DiscoRequest): Promise<DiscoInfo | undefined> {
    const provided = await this.providers.get(request.to.domain)?.info?.(request);
    const entry = request.node === undefined ? this.entries.get(request.to.toString()) : undefined;
    if (entry === undefined) return provided;
    const registered = { identities: entry.identities, features: this.listFeatures(request.to.toString()) };
    if (provided === undefined) return registered;
    const features = [...new Set([...registered.features, ...provided.features])];
    return { ...provided, identities: [...registered.identities, ...provided.identities], features };
  }

  /** disco#items of a JID, registered and provided; undefined when neither knows it. */
  async items(request: DiscoRequest): Promise<readonly DiscoItem[] | undefined> {
    const provided = await this.providers.get(request.to.domain)?.items?.(request);
    const entry = request.node === undefined ? this.entries.get(request.to.toString()) : undefined;
    if (entry === undefined) return provided;
    return provided === undefined ? entry.items : [...entry.items, ...provided];
  }

  private entry(jid: string): Entry {
    let entry = this.entries.get(jid);
    if (entry === undefined) this.entries.set(jid, (entry = new Entry()));
    return entry;
  }

  private prune(jid: string): void {
    if (this.entries.get(jid)?.empty) this.entries.delete(jid);
  }
}

function remove<T>(list: T[], value: T): void {
  const index = list.indexOf(value);
  if (index !== -1) list.splice(index, 1);
}
