// What the embedded stores share: the LMDB environment (each store opens its own named
// sub-databases in it) and the contract by which an account's data leaves with the account.
import type { RootDatabase } from 'lmdb';
import { ServerError } from '../../errors.js';
import { StoreUnavailableError } from '../types.js';

export type EmbeddedEnv = RootDatabase<unknown, string>;

export interface UserDataOwner {
  /** Removes everything kept for `username`. Runs synchronously inside the account's delete transaction. */
  removeUserData(username: string): void;
}

/**
 * Whether an account exists, synchronously: for a module store's write transaction that must not write
 * for an account deleted meanwhile (the check and the write then commit together).
 */
export function accountExists(env: EmbeddedEnv): (username: string) => boolean {
  const accounts = env.openDB<unknown, string>({ name: 'accounts', cache: false });
  return (username) => accounts.doesExist(username);
}

/** Runs an LMDB call and reports its failure as the store being unavailable (a corrupt record stays itself). */
export async function guard<T>(what: string, action: () => T | Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (err) {
    if (err instanceof ServerError) throw err;
    throw new StoreUnavailableError(`embedded store: ${what} failed: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}
