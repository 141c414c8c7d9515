// XEP-0352 §3.2 leaves it to the server what it does while a client is inactive; this is our rule of what
// may wait (README "What waits"): presence updates (only the latest per sender) and messages without
// content a person reads (chat states, receipts, markers, PEP events, groupchat that does not mention the
// user). Everything else is urgent and goes out at once, after what was held.
import { Jid } from '../../src/jid.js';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

export type Verdict =
  /** Goes out now (after what is held). */
  | { readonly kind: 'urgent' }
  /** An availability change: replaces a held presence of the same sender (full JID). */
  | { readonly kind: 'presence'; readonly from: string }
  /** Waits in order. */
  | { readonly kind: 'hold' };

const URGENT: Verdict = { kind: 'urgent' };
const HOLD: Verdict = { kind: 'hold' };

/** Payloads a person is waiting for although the message has no <body/>: encrypted messages, call invitations. */
const URGENT_PAYLOADS: ReadonlySet<string> = new Set([NS.omemo, NS.omemo2, NS.openpgp, NS.legacyEncrypted, NS.jingleMessage]);

/** The user's own nickname in a room (from the room's self-presence), or undefined when not known. */
export type NickLookup = (roomJid: string) => string | undefined;

export function classify(stanza: Element, nickIn: NickLookup): Verdict {
  if (stanza.name === 'presence') return classifyPresence(stanza);
  if (stanza.name === 'message') return classifyMessage(stanza, nickIn);
  // iq requests and answers, and anything unexpected.
  return URGENT;
}

function classifyPresence(presence: Element): Verdict {
  const type = presence.attrs.type;
  // Subscription requests and answers, errors: the user has to see or act on them.
  if (type !== undefined && type !== 'unavailable') return URGENT;
  // A room's answer to the user's own join, nick change or exit (XEP-0045 status 110).
  if (selfPresence(presence)) return URGENT;
  return { kind: 'presence', from: presence.attrs.from ?? '' };
}

function classifyMessage(message: Element, nickIn: NickLookup): Verdict {
  const type = message.attrs.type;
  if (type === 'error') return URGENT;
  if (type === 'groupchat') return classifyGroupchat(message, nickIn);
  if (readable(message)) return URGENT;
  // XEP-0280 carbon copies: as urgent as the message they carry.
  for (const wrapper of message.children) {
    if (typeof wrapper === 'string' || wrapper.attrs.xmlns !== NS.carbons) continue;
    const copied = wrapper.getChild('forwarded', NS.forward)?.getChild('message');
    if (copied && readable(copied)) return URGENT;
  }
  return HOLD;
}

/** Groupchat waits unless it names the user's nickname (a mention), changes the subject, or is encrypted. */
function classifyGroupchat(message: Element, nickIn: NickLookup): Verdict {
  if (message.getChild('subject') || hasUrgentPayload(message)) return URGENT;
  const body = message.getChildText('body');
  if (body === null) return HOLD;
  const from = Jid.tryParse(message.attrs.from);
  if (!from) return URGENT;
  const nick = nickIn(from.bareString());
  // A room whose self-presence this stage did not see: every message with a body may be a mention.
  if (nick === undefined) return URGENT;
  if (from.resource === nick) return HOLD;
  return mentions(body, nick) ? URGENT : HOLD;
}

function readable(message: Element): boolean {
  return message.getChild('body') !== undefined || message.getChild('subject') !== undefined || hasUrgentPayload(message);
}

function hasUrgentPayload(message: Element): boolean {
  return message.children.some((child) => typeof child !== 'string' && child.attrs.xmlns !== undefined && URGENT_PAYLOADS.has(child.attrs.xmlns));
}

/** The XEP-0045 status codes of a presence from a room, or none. */
function statusCodes(presence: Element): string[] {
  const x = presence.getChild('x', NS.mucUser);
  return x ? x.getChildren('status').map((s) => s.attrs.code ?? '') : [];
}

export function selfPresence(presence: Element): boolean {
  return statusCodes(presence).includes('110');
}

/**
 * What a self-presence (status 110) says of the user's nickname in its room: the nickname now in use,
 * or undefined when the user left. A nick change (303) is an unavailable presence naming the new one.
 */
export function nickFromSelfPresence(presence: Element): { room: string; nick: string | undefined } | undefined {
  const from = Jid.tryParse(presence.attrs.from);
  if (!from || from.resource === '') return undefined;
  const room = from.bareString();
  if (presence.attrs.type !== 'unavailable') return { room, nick: from.resource };
  if (statusCodes(presence).includes('303')) {
    const nick = presence.getChild('x', NS.mucUser)?.getChild('item')?.attrs.nick;
    if (nick) return { room, nick };
  }
  return { room, nick: undefined };
}

/** The nickname as a word of the body, whatever the case ("Juliet:", "@juliet", "hi juliet!"; not "juliets"). */
export function mentions(body: string, nick: string): boolean {
  const text = body.toLowerCase();
  const name = nick.toLowerCase();
  if (name === '') return false;
  for (let at = text.indexOf(name); at !== -1; at = text.indexOf(name, at + 1)) {
    if (!wordChar(text.charAt(at - 1)) && !wordChar(text.charAt(at + name.length))) return true;
  }
  return false;
}

const WORD = /[\p{L}\p{N}_]/u;
function wordChar(char: string): boolean {
  return char !== '' && WORD.test(char);
}
