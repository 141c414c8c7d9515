// What this node does with a message from another node's publish: end a session another node
// took over, route a stanza for a full JID held here, or hand a stanza to listed local sessions
// through the same incoming filters as every other stanza (privacy lists, blocking); with `fallback`,
// route again what finds its targets gone (README.md, "Channels and messages").
import { StreamError, type StanzaError } from '../errors.js';
import { Jid } from '../jid.js';
import type { Logger } from '../observability/log.js';
import type { LocalSessionRegistry } from '../sessions/local-registry.js';
import type { BoundSession } from '../sessions/types.js';
import { readdressed, type Element } from '../xml/element.js';
import { PreparedStanza } from '../xml/prepared.js';
import type { CloseMessage, StanzaMessage } from './bus.js';

/** The router's side of it. */
export interface InboundRouter {
  routeForwarded(stanza: Element, from: Jid, hops: number): Promise<void>;
  /** Bounces a stanza that could not be delivered to its sender with `error`. */
  refuse(stanza: Element, from: Jid, error: StanzaError): void;
  deliver(session: BoundSession, stanza: Element): boolean;
  deliverPrepared(session: BoundSession, stanza: PreparedStanza): boolean;
}

export interface InboundDeps {
  sessions: LocalSessionRegistry;
  router: InboundRouter;
  log: Logger;
  /** A message from this node arrived: it is alive. */
  heardFrom(node: string): void;
}

export function handleBusMessage(message: StanzaMessage | CloseMessage, deps: InboundDeps): void {
  deps.heardFrom(message.origin);
  if (message.kind === 'close') {
    const session = deps.sessions.get(message.jid);
    if (session?.id === message.sid) {
      deps.log.info({ jid: message.jid, by: message.origin }, 'resource conflict: the JID was bound on another node; closing the older session');
      session.close(new StreamError('conflict', 'replaced by a new connection with the same resource'));
    }
    return;
  }
  const from = Jid.tryParse(message.from);
  if (!from) {
    deps.log.error({ from: message.from, origin: message.origin }, 'cluster message with an invalid sender; dropped');
    return;
  }
  if (message.mode === 'route') {
    void deps.router.routeForwarded(message.stanza, from, message.hops);
    return;
  }
  if (deliverHere(message, from, deps) === 0 && message.fallback && !message.readdress) void deps.router.routeForwarded(message.stanza, from, message.hops);
}

/**
 * Hands the stanza to the targets still bound here; returns how many of them are. Readdressed copies (a MUC
 * or presence fan-out) are serialised once for all of them. A readdressed fan-out with `fallback` routes the
 * copy of each target not bound here again, addressed to it: a session handed over to another node (XEP-0198
 * resumption there) is found where the directory now names (the router's hop bound stops a loop).
 */
function deliverHere(message: StanzaMessage, from: Jid, deps: InboundDeps): number {
  let present = 0;
  let prepared: PreparedStanza | undefined;
  for (const target of message.targets) {
    const session = deps.sessions.get(target);
    if (!session) {
      if (message.readdress && message.fallback) void deps.router.routeForwarded(readdressed(message.stanza, target), from, message.hops);
      continue;
    }
    present++;
    if (message.flag !== undefined && !session.flags.has(message.flag)) continue;
    if (message.readdress) deps.router.deliverPrepared(session, (prepared ??= new PreparedStanza(message.stanza)));
    else deps.router.deliver(session, message.stanza);
  }
  return present;
}
