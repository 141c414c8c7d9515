// IQ handlers by key "<type>/<target>/<namespace>:<name>" (Prosody's event names, typed):
// dispatch is a Map lookup, never a scan of predicates.
import type { Jid } from '../jid.js';
import type { BoundSession } from '../sessions/types.js';
import type { Element } from '../xml/element.js';

export type IqType = 'get' | 'set';
/** host: to the server's domain; self: to the sender's own bare JID or no 'to'; bare: to another local user's bare JID. */
export type IqTarget = 'host' | 'self' | 'bare';

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

export function iqKey(type: IqType, target: IqTarget, ns: string, name: string): string {
  return `${type}/${target}/${ns}:${name}`;
}

export class IqRegistry {
  private readonly handlers = new Map<string, IqHandler>();

  register(type: IqType, target: IqTarget, ns: string, name: string, handler: IqHandler): () => void {
    const key = iqKey(type, target, ns, name);
    if (this.handlers.has(key)) throw new Error(`two handlers for ${key}`);
    this.handlers.set(key, handler);
    return () => {
      if (this.handlers.get(key) === handler) this.handlers.delete(key);
    };
  }

  lookup(type: IqType, target: IqTarget, ns: string, name: string): IqHandler | undefined {
    const handler = this.handlers.get(iqKey(type, target, ns, name));
    // An iq to one's own bare JID falls back to the handler for any user's bare JID (vCard, PEP...).
    if (!handler && target === 'self') return this.handlers.get(iqKey(type, 'bare', ns, name));
    return handler;
  }
}
