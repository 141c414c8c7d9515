// Stanzas that were on their way to a client when its session ended: a BOSH session's queue at its
// inactivity timeout or termination (XEP-0124 §10, §13), writes a closing TCP or WebSocket connection
// could no longer take, and stanzas handed to a session in the moment it was being taken out of routing.
//
// Without stream management (XEP-0198) nobody knows what a client read of what was sent, but what never
// left the server must not vanish. RFC 6121 §8.5.3.2 says what becomes of stanzas for a resource that is
// gone, and XEP-0198 §5 asks for that same treatment of stanzas a client did not acknowledge, so they are
// routed again now that the session is out of the registry:
//   - message of type chat or normal: to the account's other resources, else offline storage (XEP-0160),
//     else an error to the sender, as the router does for any full JID that is no longer bound;
//     a message sent to the bare JID is left alone when another resource of at least the same priority
//     is online here, since RFC 6121 §8.5.2.1.1 gave that resource its own copy;
//   - iq get or set: answered with service-unavailable by the router (RFC 6121 §8.5.3.2.2), unless the
//     client came back on the same resource in between;
//   - the rest is dropped, as RFC 6121 §8.5.3.2 drops it for an unavailable resource: presence, iq results
//     and errors, headline and error messages, and groupchat (the room already saw the occupant leave);
//     so are messages from the account's own bare JID, which the server made for this session alone
//     (XEP-0280 carbon copies: the other resources had their own, and offline storage must not keep them).
import { Jid } from '../jid.js';
import type { Logger } from '../observability/log.js';
import type { Router } from '../router/router.js';
import type { LocalSessionRegistry } from '../sessions/local-registry.js';
import { Element, parseElement } from '../xml/element.js';
import type { Undelivered } from './transport.js';

/** What is known of the session the stanzas were for. */
export interface EndedSession {
  readonly id: string;
  readonly jid: Jid;
  readonly priority: number;
}

export interface RerouteDeps {
  router: Pick<Router, 'route' | 'serverJid'>;
  sessions: Pick<LocalSessionRegistry, 'resources'>;
  log: Logger;
}

const REROUTED_MESSAGE_TYPES = new Set(['chat', 'normal']);

/** Whether a stanza goes back into routing (see the header); decided without parsing for fan-out copies. */
export function worthRerouting(stanza: Element): boolean {
  if (stanza.name === 'message') return REROUTED_MESSAGE_TYPES.has(stanza.attrs.type ?? 'normal');
  if (stanza.name === 'iq') return stanza.attrs.type === 'get' || stanza.attrs.type === 'set';
  return false;
}

/** Serialised copies (PreparedStanza fan-outs) are parsed back only when they could be worth it. */
function toElement(item: Undelivered): Element | undefined {
  if (typeof item !== 'string') return item;
  if (!item.startsWith('<message') && !item.startsWith('<iq')) return undefined;
  try {
    return parseElement(item);
  } catch {
    return undefined;
  }
}

/** Routes the worthwhile stanzas again; returns how many went back into routing. */
export function reroute(items: readonly Undelivered[], ended: EndedSession, deps: RerouteDeps): number {
  let rerouted = 0;
  for (const item of items) {
    const stanza = toElement(item);
    if (!stanza || !worthRerouting(stanza) || (stanza.name === 'message' && stanza.attrs.from === ended.jid.bareString())) continue;
    let routed = stanza;
    if (stanza.attrs.to === undefined) {
      // Addressed by the stream itself; the copy names the resource it was for.
      routed = new Element(stanza.name, { ...stanza.attrs, to: ended.jid.toString() });
      routed.children = stanza.children;
    } else if (stanza.name === 'message' && Jid.tryParse(stanza.attrs.to)?.isBare === true && anotherCopyDelivered(ended, deps)) continue;
    rerouted++;
    void deps.router.route(routed, Jid.tryParse(routed.attrs.from) ?? deps.router.serverJid);
  }
  if (items.length > 0) deps.log.debug({ session: ended.id, undelivered: items.length, rerouted }, 'stanzas left undelivered at session end');
  return rerouted;
}

/** RFC 6121 §8.5.2.1.1: a bare-JID message went to every available resource of the top priority. */
function anotherCopyDelivered(ended: EndedSession, deps: RerouteDeps): boolean {
  return deps.sessions.resources(ended.jid.bareString()).some((s) => s.id !== ended.id && s.presence.available && s.presence.priority >= ended.priority);
}
