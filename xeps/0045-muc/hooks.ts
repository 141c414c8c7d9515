// The hooks the MUC module listens to beyond the core's, declared by merging into the hook map of the
// module API (src/modules/api.ts CoreHooks), so the core declares only its own.
import type { Jid } from '../../src/jid.js';
import type { Awaitable } from '../../src/modules/api.js';
import type { Element } from '../../src/xml/element.js';

declare module '../../src/modules/api.js' {
  interface CoreHooks {
    /**
     * The operator destroys a room (`ratatosk room destroy`, fired by the module's command, commands.ts): the
     * live MUC service tells the occupants (XEP-0045 §10.9, with the reason) and forgets the room; true when
     * the room was live. The stored room is the caller's.
     */
    'muc:destroy-room': (roomJid: string, reason?: string) => Awaitable<boolean | undefined>;
    /**
     * A groupchat message (§7.4) from an occupant, as the room reflects it (from the occupant JID, no 'to'),
     * before it goes to the occupants and into the history: listeners may add children (an archive stamps
     * its XEP-0359 stanza-id) and must not keep the element beyond the call without copying it.
     */
    'muc:groupchat': (roomJid: string, message: Element) => Awaitable<void>;
    /** A room's disco#info (§6.4): listeners add the features they provide for rooms (an archive: XEP-0313 §6). */
    'muc:room-features': (roomJid: string, features: string[]) => Awaitable<void>;
    /**
     * May `requester` read the room's archive (XEP-0313 §6)? True for its occupants and for members, admins and
     * owners; false for others; undefined when there is no such room here.
     */
    'muc:archive-access': (roomJid: string, requester: Jid) => Awaitable<boolean | undefined>;
  }
}
