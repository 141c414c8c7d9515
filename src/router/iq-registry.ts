// IQ handlers by key "<type>/<target>/<namespace>:<name>" (Prosody's event names, typed):
// dispatch is a Map lookup, never a scan of predicates.
import { Jid } from '../jid.js';
import type { BoundSession } from '../sessions/types.js';
import type { Element } from '../xml/element.js';

export type IqType = 'get' | 'set';

/** Any domain served here other than the server's own (a DomainIqTarget's `domain`). */
export const ANY_DOMAIN = '*';

/**
 * An iq to another domain this server serves (the MUC service, ...), handed to the IQ handlers by that
 * domain's handler (ModuleContext.dispatchIq): to the domain itself ('service'), to a bare JID at it (a
 * room) or to a full JID (an occupant). `domain` may be ANY_DOMAIN: asked when the domain has no handler
 * of its own for the payload.
 */
export interface DomainIqTarget {
  readonly domain: string;
  readonly to: 'service' | 'bare' | 'full';
}

/**
 * The server's own domain: host: to the domain; self: to the sender's own bare JID or no 'to'; bare: to
 * another local user's bare JID. Other domains served here: a DomainIqTarget.
 */
export type IqTarget = 'host' | 'self' | 'bare' | DomainIqTarget;

export interface IqRequest {
  readonly stanza: Element;
  /** The single child element of the request. */
  readonly payload: Element;
  readonly from: Jid;
  /** The addressee, with 'self' resolved to the sender's bare JID. */
  readonly to: Jid;
  /** The sender's session when it is bound on this node. */
  readonly session?: BoundSession;
}

/** Returns the child of the result (or nothing for an empty result); throws StanzaError to refuse. */
export type IqHandler = (request: IqRequest) => Element | undefined | void | Promise<Element | undefined | void>;

/** Lookups come with a domain taken from a parsed Jid (already normalised); registrations are normalised here. */
function targetKey(target: IqTarget): string {
  return typeof target === 'string' ? target : `${target.to}@${target.domain}`;
}

function normalised(target: IqTarget): IqTarget {
  if (typeof target === 'string' || target.domain === ANY_DOMAIN) return target;
  return { domain: Jid.normaliseDomain(target.domain), to: target.to };
}

export function iqKey(type: IqType, target: IqTarget, ns: string, name: string): string {
  return `${type}/${targetKey(target)}/${ns}:${name}`;
}

export class IqRegistry {
  private readonly handlers = new Map<string, IqHandler>();

  register(type: IqType, target: IqTarget, ns: string, name: string, handler: IqHandler): () => void {
    const key = iqKey(type, normalised(target), ns, name);
    if (this.handlers.has(key)) throw new Error(`two handlers for ${key}`);
    this.handlers.set(key, handler);
    return () => {
      if (this.handlers.get(key) === handler) this.handlers.delete(key);
    };
  }

  lookup(type: IqType, target: IqTarget, ns: string, name: string): IqHandler | undefined {
    const handler = this.handlers.get(iqKey(type, target, ns, name));
    if (handler) return handler;
    // An iq to one's own bare JID falls back to the handler for any user's bare JID (vCard, PEP...).
    if (target === 'self') return this.handlers.get(iqKey(type, 'bare', ns, name));
    // Another domain falls back to what every served domain answers (disco).
    if (typeof target !== 'string' && target.domain !== ANY_DOMAIN) return this.handlers.get(iqKey(type, { domain: ANY_DOMAIN, to: target.to }, ns, name));
    return undefined;
  }
}
