// The hooks of the private XML module beyond the core's, declared by merging into the hook map of the module
// API (src/modules/api.ts CoreHooks): another module may keep a fragment in step with its own data (XEP-0411:
// storage:bookmarks and the PEP bookmarks node).
import type { Awaitable } from '../../src/modules/api.js';
import type { Element } from '../../src/xml/element.js';

declare module '../../src/modules/api.js' {
  interface CoreHooks {
    /**
     * A user reads the fragment `key` ("<element name> <namespace>"); `stored` is what the store holds. An answer
     * replaces it in the result; undefined leaves it.
     */
    'private:read': (username: string, key: string, stored: Element | undefined) => Awaitable<Element | undefined>;
    /** A user stored the fragment `key` (after the store write). */
    'private:stored': (username: string, key: string, element: Element) => Awaitable<void>;
  }
}
