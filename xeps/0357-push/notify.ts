// XEP-0357 §7: which stanzas are worth a notification (§8 leaves it to the server; README), and the publish
// to the app server's node with the summary and the client's publish-options.
import { Element, parseElement, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { notification, type Summary } from './form.js';
import type { PushRegistration } from './store/types.js';

const NOTIFIED_TYPES = new Set(['normal', 'chat']);
/** Payloads that stand for a body a client shows: end-to-end encrypted messages and call invitations. */
const CONTENT_PAYLOADS: ReadonlyArray<readonly [string, string]> = [
  ['encrypted', NS.omemo],
  ['encrypted', NS.omemo2],
  ['openpgp', NS.openpgp],
  ['x', NS.legacyEncrypted],
  ['propose', NS.jingleMessage],
];

/**
 * A message a person would want to be woken for: chat or normal, with a body or an encrypted payload or a call
 * invitation. Not errors, headlines, groupchat, nor what only carries a chat state, receipt or carbon copy.
 */
export function isNotifiable(stanza: Element): boolean {
  if (stanza.name !== 'message' || !NOTIFIED_TYPES.has(stanza.attrs.type ?? 'normal')) return false;
  if ((stanza.getChildText('body') ?? '') !== '') return true;
  return CONTENT_PAYLOADS.some(([name, ns]) => stanza.getChild(name, ns) !== undefined);
}

/** A stanza as a session's output has it: serialised fan-out copies are parsed only when they may be a message. */
export function asElement(stanza: Element | string): Element | undefined {
  if (typeof stanza !== 'string') return stanza;
  if (!stanza.startsWith('<message')) return undefined;
  try {
    return parseElement(stanza);
  } catch {
    return undefined;
  }
}

/** The summary of `stanza` for a registration whose count is now `count`; the body only when allowed (§9). */
export function summaryOf(stanza: Element, count: number, withBody: boolean): Summary {
  const sender = stanza.attrs.from;
  const body = withBody ? stanza.getChildText('body') ?? undefined : undefined;
  return { count, ...(sender ? { sender } : {}), ...(body ? { body } : {}) };
}

/** §7 Example 6: the publish to the registration's node from the account, with the client's form as publish-options. */
export function publishIq(account: string, registration: PushRegistration, summary: Summary): Element {
  const pubsub = xml('pubsub', { xmlns: NS.pubsub }, xml('publish', { node: registration.node }, xml('item', {}, notification(summary))));
  // The stored form was parsed from the client's stanza and serialised by the server (form.ts).
  if (registration.options !== undefined) pubsub.cnode(xml('publish-options', {}, parseElement(registration.options)));
  return xml('iq', { type: 'set', from: account, to: registration.jid }, pubsub);
}
