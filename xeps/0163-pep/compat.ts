// Bridges between PEP and older storage, through hooks the other modules declare:
// - XEP-0411 (v0.2.0) §4-§5: bookmarks kept in XEP-0048 form in private storage (XEP-0049, 'private:read' and
//   'private:stored') and XEP-0402 (v1.1.0) items on urn:xmpp:bookmarks:1 are one list, whichever a client uses.
// - XEP-0398 (v0.2.1) §4: a vCard PHOTO publishes XEP-0084 avatar data and metadata; an avatar published on PEP
//   becomes the vCard PHOTO ('vcard:stored', 'vcard:set-photo').
import { createHash } from 'node:crypto';
import type { ModuleContext } from '../../src/modules/api.js';
import { Jid } from '../../src/jid.js';
import { Element, parseElement, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { PepService } from './service.js';
import type { PepSettings } from './settings.js';
import type { PepStore } from './store/types.js';

const LEGACY_BOOKMARKS_KEY = `storage ${NS.bookmarksLegacy}`;

const isTrue = (value: string | undefined): boolean => value === 'true' || value === '1';

/** XEP-0402 §3 item payload -> XEP-0048 §3.2 <conference jid=…/>. */
function legacyConference(id: string, conference: Element): Element {
  const legacy = xml('conference', { jid: id, name: conference.attrs.name, autojoin: isTrue(conference.attrs.autojoin) ? 'true' : undefined });
  for (const child of ['nick', 'password']) {
    const text = conference.getChildText(child);
    if (text !== null) legacy.cnode(xml(child, {}, text));
  }
  return legacy;
}

/** XEP-0048 <conference jid=…/> -> the XEP-0402 item id and payload; undefined without a valid room JID. */
function nativeConference(legacy: Element): { id: string; payload: Element } | undefined {
  const jid = Jid.tryParse(legacy.attrs.jid);
  if (jid === undefined || jid.local === '' || !jid.isBare) return undefined;
  const payload = xml('conference', { xmlns: NS.bookmarks, name: legacy.attrs.name, autojoin: isTrue(legacy.attrs.autojoin) ? 'true' : undefined });
  for (const child of ['nick', 'password']) {
    const text = legacy.getChildText(child);
    if (text !== null) payload.cnode(xml(child, {}, text));
  }
  return { id: jid.toString(), payload };
}

export function setupCompat(ctx: ModuleContext<PepSettings, PepStore>, service: PepService): void {
  const store = ctx.store;
  /** Accounts whose avatar is being published from their vCard: that publish must not write the vCard back. */
  const fromVcard = new Set<string>();

  // XEP-0411 §5: what a XEP-0048 client reads is the XEP-0402 list (and whatever else it stored beside conferences).
  ctx.hook('private:read', async (username, key, stored) => {
    if (key !== LEGACY_BOOKMARKS_KEY || (await store.node(username, NS.bookmarks)) === undefined) return undefined;
    const storage = xml('storage', { xmlns: NS.bookmarksLegacy });
    for (const child of stored?.getChildElements() ?? []) if (child.name !== 'conference') storage.cnode(child);
    for (const item of await store.items(username, NS.bookmarks)) {
      const conference = parseElement(item.payload);
      if (conference.is('conference', NS.bookmarks)) storage.cnode(legacyConference(item.id, conference));
    }
    return storage;
  });

  // XEP-0411 §4: what a XEP-0048 client stores becomes the XEP-0402 items: changed ones published, gone ones retracted.
  ctx.hook('private:stored', async (username, key, element) => {
    if (key !== LEGACY_BOOKMARKS_KEY) return;
    const wanted = new Map<string, Element>();
    for (const child of element.getChildren('conference')) {
      const converted = nativeConference(child);
      if (converted) wanted.set(converted.id, converted.payload);
    }
    const current = new Map((await store.items(username, NS.bookmarks)).map((i) => [i.id, i.payload]));
    for (const [id, payload] of wanted) {
      if (current.get(id) !== payload.toString()) await service.publish(username, NS.bookmarks, id, payload, undefined);
    }
    for (const id of current.keys()) if (!wanted.has(id)) await service.retract(username, NS.bookmarks, id, undefined);
  });

  // XEP-0398 §4.1: a vCard photo published as the PEP avatar (data, then metadata), unless it is the current one.
  ctx.hook('vcard:stored', async (username, vcard) => {
    const photo = vcard.getChild('PHOTO');
    const base64 = photo?.getChildText('BINVAL')?.replace(/\s+/g, '');
    const [metadata] = await store.items(username, NS.avatarMetadata, 1);
    const currentId = metadata === undefined ? undefined : parseElement(metadata.payload).getChild('info')?.attrs.id;
    if (base64 === undefined || base64 === '') {
      if (currentId === undefined) return;
      fromVcard.add(username);
      try {
        await service.publish(username, NS.avatarMetadata, 'current', xml('metadata', { xmlns: NS.avatarMetadata }), undefined);
      } finally {
        fromVcard.delete(username);
      }
      return;
    }
    const bytes = Buffer.from(base64, 'base64');
    const id = createHash('sha1').update(bytes).digest('hex');
    if (id === currentId) return;
    const type = photo?.getChildText('TYPE') ?? 'image/png';
    fromVcard.add(username);
    try {
      await service.publish(username, NS.avatarData, id, xml('data', { xmlns: NS.avatarData }, bytes.toString('base64')), undefined);
      await service.publish(username, NS.avatarMetadata, id, xml('metadata', { xmlns: NS.avatarMetadata }, xml('info', { id, bytes: bytes.length, type })), undefined);
    } finally {
      fromVcard.delete(username);
    }
  });

  // XEP-0398 §4.2: an avatar published on PEP (its metadata pointing at data stored here) becomes the vCard photo.
  ctx.hook('pep:published', async (username, node, _id, payload) => {
    if (node !== NS.avatarMetadata || fromVcard.has(username)) return;
    const info = payload.getChildren('info').find((i) => i.attrs.url === undefined);
    if (info === undefined) {
      // Example 6 of XEP-0084 §4.2: an empty <metadata/> disables the avatar.
      if (payload.getChildren('info').length === 0) await ctx.fire('vcard:set-photo', username, undefined);
      return;
    }
    const [data] = await store.itemsById(username, NS.avatarData, [String(info.attrs.id)]);
    if (data === undefined) return;
    const base64 = parseElement(data.payload).text().replace(/\s+/g, '');
    await ctx.fire('vcard:set-photo', username, { type: String(info.attrs.type ?? 'image/png'), base64 });
  });
}
