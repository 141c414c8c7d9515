// The modules' own stores in the server's one engine: each opened once, by module name, and on the
// embedded back end enrolled to lose an account's data in the account's delete transaction.
import type { ModuleStoresSpec } from '../modules/storage.js';
import type { UserDataOwner } from './embedded/env.js';
import type { StorageEngine } from './types.js';

export class ModuleStoreRegistry {
  private readonly opened = new Map<string, unknown>();

  /** `owners`: the embedded account store's list of what goes with an account (absent on PostgreSQL). */
  constructor(private readonly engine: StorageEngine, private readonly owners?: UserDataOwner[]) {}

  open<S>(name: string, spec: ModuleStoresSpec<S>): S {
    if (this.opened.has(name)) return this.opened.get(name) as S;
    const store = spec.open(this.engine);
    const owner = this.owners === undefined ? undefined : spec.accountData?.(store);
    if (owner !== undefined) this.owners?.push(owner);
    this.opened.set(name, store);
    return store;
  }
}
