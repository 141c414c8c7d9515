// XEP-0054 vcard-temp (version 1.3.0): a user stores and reads their own vCard (§3.1, §3.2) and reads
// other users' (§3.3), which are public; and XEP-0153 vCard-Based Avatars (version 1.1.1) on the
// server side (avatar-hash.ts). See README.md for the choices made where the XEPs leave room.
import { StanzaError } from '../../src/errors.js';
import { defineModule } from '../../src/modules/api.js';
import { Element, parseElement, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { setupAvatarHashes } from './avatar-hash.js';
import './hooks.js';
import { vcardStores } from './store/index.js';

/** Largest vCard stored, in UTF-8 bytes of its XML, PHOTO included (about 46 KiB of image once in base64). */
export const MAX_VCARD_BYTES = 64 * 1024;

export default defineModule({
  name: 'vcard',
  specs: [
    { id: 'XEP-0054', title: 'vcard-temp', version: '1.3.0', scope: 'get and set of the own vCard, get of other local users’ vCards; vCards up to 64 KiB', status: 'complete' },
    { id: 'XEP-0153', title: 'vCard-Based Avatars', version: '1.1.1', scope: 'server side: the photo hash added to broadcast presence that lacks it', status: 'complete' },
  ],
  stores: vcardStores,
  setup(ctx) {
    const store = ctx.store;
    const avatars = setupAvatarHashes(ctx);
    ctx.addFeature(NS.vcard);

    // §3.1: the own vCard, or an empty one (Example 4) when none was stored.
    ctx.onIq('get', 'self', NS.vcard, 'vCard', async ({ to }) => {
      const stored = await store.get(to.local);
      return stored === undefined ? xml('vCard', { xmlns: NS.vcard }) : parseElement(stored);
    });

    // §3.2: the whole vCard replaces the stored one (there are no partial updates).
    ctx.onIq('set', 'self', NS.vcard, 'vCard', async ({ payload, to }) => {
      const text = payload.toString();
      // Like an oversized XEP-0060 item (§7.1.3.4 payload-too-big): understood, but beyond what the server takes.
      if (Buffer.byteLength(text) > MAX_VCARD_BYTES) throw new StanzaError('not-acceptable', `a vCard may have at most ${MAX_VCARD_BYTES} bytes`);
      await store.set(to.local, text);
      avatars.vcardStored(to.local, payload);
      await ctx.emit('vcard:stored', to.local, payload);
      return undefined;
    });

    // XEP-0398 §4: another module (PEP avatars) changes the photo and keeps the rest of the vCard.
    ctx.hook('vcard:set-photo', async (username, photo) => {
      const stored = await store.get(username);
      const vcard = stored === undefined ? xml('vCard', { xmlns: NS.vcard }) : parseElement(stored);
      vcard.children = vcard.children.filter((child) => !(child instanceof Element && child.name === 'PHOTO'));
      if (photo !== undefined) vcard.cnode(xml('PHOTO', {}, xml('TYPE', {}, photo.type), xml('BINVAL', {}, photo.base64)));
      const text = vcard.toString();
      if (Buffer.byteLength(text) > MAX_VCARD_BYTES) return false;
      await store.set(username, text);
      avatars.vcardStored(username, vcard);
      return true;
    });

    // §3.3: vCards are public. No vCard and no such user get the same error (service-unavailable,
    // which the router already gives for a user who does not exist), against directory harvesting.
    ctx.onIq('get', 'bare', NS.vcard, 'vCard', async ({ to }) => {
      const stored = await store.get(to.local);
      if (stored === undefined) throw new StanzaError('service-unavailable');
      return parseElement(stored);
    });

    // §3.2: "If a user attempts to perform an IQ set on another user's vCard ... SHOULD be <forbidden/>".
    ctx.onIq('set', 'bare', NS.vcard, 'vCard', ({ to }) => {
      throw new StanzaError('forbidden', `the vCard of ${to.toString()} is not yours to change`);
    });
  },
});
