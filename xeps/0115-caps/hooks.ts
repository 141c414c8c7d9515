// The hooks of the caps module beyond the core's, declared by merging into the hook map of the module API
// (src/modules/api.ts CoreHooks): what it learns of clients' capabilities (client-caps.ts), for modules that
// filter by feature (XEP-0163 +notify).
import type { Awaitable, BoundSession } from '../../src/modules/api.js';

declare module '../../src/modules/api.js' {
  interface CoreHooks {
    /** The features of a local resource (full JID) as its caps say, once resolved; undefined when unknown. */
    'caps:features': (fullJid: string) => Awaitable<ReadonlySet<string> | undefined>;
    /**
     * A local available resource's features became known or changed (its first presence with caps, or a new
     * ver), after they were resolved by disco#info or found in the cache.
     */
    'caps:resolved': (session: BoundSession, features: ReadonlySet<string>) => void;
  }
}
