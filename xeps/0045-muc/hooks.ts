// The hooks the MUC module listens to beyond the core's, declared by merging into the hook map of the
// module API (src/modules/api.ts CoreHooks), so the core declares only its own.
import type { Awaitable } from '../../src/modules/api.js';

declare module '../../src/modules/api.js' {
  interface CoreHooks {
    /**
     * The operator destroys a room (`ratatosk room destroy`, fired by the module's command, commands.ts): the
     * live MUC service tells the occupants (XEP-0045 §10.9, with the reason) and forgets the room; true when
     * the room was live. The stored room is the caller's.
     */
    'muc:destroy-room': (roomJid: string, reason?: string) => Awaitable<boolean | undefined>;
  }
}
