// The hooks of the vCard module beyond the core's, declared by merging into the hook map of the module API
// (src/modules/api.ts CoreHooks): other modules keep avatars in step with the vCard photo (XEP-0398).
import type { Awaitable } from '../../src/modules/api.js';
import type { Element } from '../../src/xml/element.js';

/** A vCard PHOTO (XEP-0054 §2 PHOTO with TYPE and BINVAL). */
export interface VCardPhoto {
  readonly type: string;
  /** The image, base64. */
  readonly base64: string;
}

declare module '../../src/modules/api.js' {
  interface CoreHooks {
    /** The user stored a new vCard with an iq set (fired after the store write). */
    'vcard:stored': (username: string, vcard: Element) => Awaitable<void>;
    /**
     * Another module sets the photo of the user's vCard (undefined removes it), keeping the rest; true when stored.
     * Does not fire 'vcard:stored'.
     */
    'vcard:set-photo': (username: string, photo: VCardPhoto | undefined) => Awaitable<boolean | undefined>;
  }
}
