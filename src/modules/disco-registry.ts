// What the server's modules say about themselves for service discovery (XEP-0030 §3, §4).
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

export class DiscoRegistry {
  private readonly features = new Map<string, number>();
  private readonly identities: DiscoIdentity[] = [];
  private readonly items: DiscoItem[] = [];

  addFeature(feature: string): () => void {
    this.features.set(feature, (this.features.get(feature) ?? 0) + 1);
    return () => {
      const n = (this.features.get(feature) ?? 1) - 1;
      if (n <= 0) this.features.delete(feature);
      else this.features.set(feature, n);
    };
  }

  addIdentity(identity: DiscoIdentity): () => void {
    this.identities.push(identity);
    return () => remove(this.identities, identity);
  }

  addItem(item: DiscoItem): () => void {
    this.items.push(item);
    return () => remove(this.items, item);
  }

  listFeatures(): string[] {
    return [...this.features.keys()].sort();
  }

  listIdentities(): readonly DiscoIdentity[] {
    return this.identities;
  }

  listItems(): readonly DiscoItem[] {
    return this.items;
  }
}

function remove<T>(list: T[], value: T): void {
  const index = list.indexOf(value);
  if (index !== -1) list.splice(index, 1);
}
