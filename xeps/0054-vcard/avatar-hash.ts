// XEP-0153 vCard-Based Avatars (version 1.1.1), server side: the avatar hash (§3.1, Example 3) is added
// to the broadcast presence of clients that do not include the vcard-temp:x:update element, so their
// contacts learn of the avatar even from clients that know nothing of XEP-0153.
import { createHash } from 'node:crypto';
import type { ModuleContext } from '../../src/modules/api.js';
import type { VCardStore } from './store/types.js';
import { parseElement, xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

/**
 * The SHA-1 of the avatar image data, in lower-case hex (§3.1: "the SHA1 hash of the avatar image data
 * itself (not the base64-encoded version)"); '' when the vCard has no PHOTO with a BINVAL (§4.1
 * rule 3: an empty <photo/> says there is no avatar). Whitespace in the base64 is ignored (§4.6 rule 5).
 */
export function photoHash(vcard: Element): string {
  const binval = vcard.getChild('PHOTO')?.getChildText('BINVAL');
  const base64 = (binval ?? '').replace(/\s+/g, '');
  if (base64 === '') return '';
  const image = Buffer.from(base64, 'base64');
  return image.length === 0 ? '' : createHash('sha1').update(image).digest('hex');
}

export interface AvatarHashes {
  /** A user stored a new vCard: their next broadcast presence carries its hash. */
  vcardStored(username: string, vcard: Element): void;
}

/**
 * Keeps the photo hash of each user with a session on this node in memory, since stanza filters are
 * synchronous: loaded when the user's first session binds (the stream handles no stanza of the
 * session before that has finished, so the first presence is annotated too), kept current by vCard
 * sets, and dropped with the user's last session.
 */
export function setupAvatarHashes(ctx: ModuleContext<unknown, VCardStore>): AvatarHashes {
  /** username -> photo hash ('' for no photo). */
  const hashes = new Map<string, string>();

  ctx.hook('session:bound', async (session) => {
    const username = session.jid.local;
    if (hashes.has(username)) return;
    let hash: string;
    try {
      const stored = await ctx.store.get(username);
      hash = stored === undefined ? '' : photoHash(parseElement(stored));
    } catch (err) {
      // Without the hash the presence goes out as the client sent it; nothing else depends on it.
      ctx.log.warn({ err, user: username }, 'could not load the vCard for the avatar hash');
      return;
    }
    // A vCard set while this load was under way has already put the newer hash in place.
    if (!hashes.has(username) && ctx.sessions.resources(session.jid.bareString()).length > 0) hashes.set(username, hash);
  });

  ctx.hook('session:closed', (session) => {
    if (ctx.sessions.resources(session.jid.bareString()).length === 0) hashes.delete(session.jid.local);
  });

  ctx.hook('account:deleted', (username) => {
    hashes.delete(username);
  });

  ctx.addStanzaFilter({
    outgoing(stanza, session) {
      // Only available presence broadcasts (no 'to', no type), as they are what contacts cache avatars from.
      if (stanza.name !== 'presence' || stanza.attrs.type !== undefined || stanza.attrs.to) return true;
      // A client that speaks XEP-0153 itself knows better what it advertises (§4.1, §4.3).
      if (stanza.getChild('x', NS.vcardUpdate)) return true;
      const hash = hashes.get(session.jid.local);
      if (hash !== undefined) stanza.cnode(xml('x', { xmlns: NS.vcardUpdate }, xml('photo', null, hash === '' ? undefined : hash)));
      return true;
    },
  });

  return {
    vcardStored(username, vcard) {
      if (ctx.sessions.resources(`${username}@${ctx.domain}`).length > 0) hashes.set(username, photoHash(vcard));
    },
  };
}
