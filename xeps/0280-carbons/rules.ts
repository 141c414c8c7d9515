// XEP-0280 v1.0.1 §6 (Messages Eligible for Carbons Delivery) and §9 (Avoiding Carbons for a single
// message, with the XEP-0334 <no-copy/> hint): which messages are copied to a user's other resources.
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

/** 'sent': a local user sent it (§8); 'received': it is addressed to a local user (§7). */
export type Direction = 'sent' | 'received';

/** Payloads used in instant messaging that make a message without a body worth copying (§6). */
const IM_PAYLOADS: ReadonlyArray<readonly [name: string | undefined, ns: string]> = [
  [undefined, NS.chatstates],
  ['request', NS.receipts],
  ['received', NS.receipts],
  [undefined, NS.chatMarkers],
  ['x', NS.conference],
];

export function isEligible(message: Element, direction: Direction): boolean {
  if (message.getChild('private', NS.carbons) || message.getChild('no-copy', NS.hints)) return false;
  const type = message.attrs.type ?? 'normal';
  // §6 MUC rules: groupchat never; a private message from an occupant is already sent by the room to every
  // joined client (only a mediated invitation, from the room's bare JID, is copied).
  if (type !== 'chat' && type !== 'normal') return false;
  const mucUser = message.getChild('x', NS.mucUser);
  if (direction === 'received' && mucUser && !mucUser.getChild('invite')) return false;
  if (type === 'chat') return true;
  if (message.getChild('body') || mucUser?.getChild('invite')) return true;
  return message.children.some((child) => typeof child !== 'string' && IM_PAYLOADS.some(([name, ns]) => child.attrs.xmlns === ns && (name === undefined || child.name === name)));
}
