// The hooks the PEP module fires, declared by merging into the hook map of the module API (src/modules/api.ts
// CoreHooks): what changed on an account's node after the store write, for the bridges (compat.ts) and others.
import type { Awaitable } from '../../src/modules/api.js';
import type { Element } from '../../src/xml/element.js';

declare module '../../src/modules/api.js' {
  interface CoreHooks {
    /** An item was published to a node of the local account `username` (after the store write and notifications). */
    'pep:published': (username: string, node: string, id: string, payload: Element) => Awaitable<void>;
    /** An item was retracted from a node of `username`, or the whole node deleted (id undefined). */
    'pep:retracted': (username: string, node: string, id: string | undefined) => Awaitable<void>;
  }
}
