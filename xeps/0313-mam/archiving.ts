// What goes into the archives (XEP-0313 §8.1, XEP-0359): a user's chat and normal messages with a body
// (or an encrypted payload), sent or received, unless a hint says not to (XEP-0334); a room's groupchat
// messages. The copy delivered to an archiving recipient, and every room message, carries
// <stanza-id by=archive id=…/>; stanza-ids a client wrote claiming one of our archives are removed.
import { Jid } from '../../src/jid.js';
import { Element, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { idTime, newArchiveId } from './ids.js';
import type { ArchivedMessage } from './store/types.js';

const ARCHIVED_TYPES = new Set(['chat', 'normal']);

/** §8.1: a message worth keeping in a user's archive. */
export function archivable(stanza: Element): boolean {
  if (stanza.name !== 'message' || !ARCHIVED_TYPES.has(stanza.attrs.type ?? 'normal')) return false;
  if (stanza.getChild('no-store', NS.hints) !== undefined || stanza.getChild('no-permanent-store', NS.hints) !== undefined) return false;
  if (stanza.getChild('store', NS.hints) !== undefined) return true;
  return (
    stanza.getChild('body') !== undefined ||
    stanza.getChild('encrypted', NS.omemo) !== undefined ||
    stanza.getChild('encrypted', NS.omemo2) !== undefined ||
    stanza.getChild('x', NS.legacyEncrypted) !== undefined
  );
}

/** The stanza-id a given archive stamped, if any. */
export function stanzaIdBy(stanza: Element, by: string): string | undefined {
  return stanza.getChildren('stanza-id', NS.sid).find((el) => el.attrs.by === by)?.attrs.id;
}

/** Removes stanza-ids whose `by` is `archive` or satisfies `ours` (XEP-0359 §5: only the archive may claim an id it gave). */
export function stripStanzaIds(stanza: Element, ours: (by: string) => boolean): void {
  if (!stanza.children.some((c) => c instanceof Element && c.name === 'stanza-id')) return;
  stanza.children = stanza.children.filter((c) => !(c instanceof Element && c.name === 'stanza-id' && c.attrs.xmlns === NS.sid && ours(c.attrs.by ?? '')));
}

export function stamp(stanza: Element, by: string, id: string): void {
  stanza.cnode(xml('stanza-id', { xmlns: NS.sid, by, id }));
}

/** The message as stored: in jabber:client (it is forwarded inside another namespace), without archive ids. */
export function storedForm(stanza: Element): string {
  const copy = new Element('message', { ...stanza.attrs, xmlns: 'jabber:client' });
  copy.children = stanza.children.filter((c) => !(c instanceof Element && c.name === 'stanza-id' && c.attrs.xmlns === NS.sid));
  return copy.toString();
}

export function record(owner: string, peer: Jid, stanza: Element, id = newArchiveId()): ArchivedMessage {
  return { owner, id, with: peer.bareString(), peer: peer.toString(), timestamp: idTime(id), stanza: storedForm(stanza) };
}
