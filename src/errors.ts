// Typed protocol errors (RFC 6120 §4.9 stream errors, §8.3 stanza errors, §6.5 SASL failures)
// and coded operator errors. Handlers throw them; the layer that owns the reply renders them.
import { Element, xml } from './xml/element.js';
import { NS } from './xml/ns.js';

export type StreamErrorCondition =
  | 'bad-format' | 'bad-namespace-prefix' | 'conflict' | 'connection-timeout' | 'host-gone' | 'host-unknown'
  | 'improper-addressing' | 'internal-server-error' | 'invalid-from' | 'invalid-namespace' | 'invalid-xml'
  | 'not-authorized' | 'not-well-formed' | 'policy-violation' | 'remote-connection-failed' | 'reset'
  | 'resource-constraint' | 'restricted-xml' | 'see-other-host' | 'system-shutdown' | 'undefined-condition'
  | 'unsupported-encoding' | 'unsupported-feature' | 'unsupported-stanza-type' | 'unsupported-version';

export class StreamError extends Error {
  /** `appCondition`: an application-specific condition element (RFC 6120 §4.9.4), such as XEP-0198's handled-count-too-high. */
  constructor(readonly condition: StreamErrorCondition, readonly text?: string, readonly seeOtherHost?: string, readonly appCondition?: Element) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'StreamError';
  }

  /** The <stream:error/> child; `prefixed` is false for RFC 7395 framing, where it is <error xmlns=stream>. */
  toElement(prefixed = true): Element {
    const el = prefixed ? xml('stream:error') : xml('stream:error', { 'xmlns:stream': NS.stream });
    const cond = xml(this.condition, { xmlns: NS.streams });
    if (this.seeOtherHost) cond.t(this.seeOtherHost);
    el.cnode(cond);
    if (this.text) el.cnode(xml('text', { xmlns: NS.streams, 'xml:lang': 'en' }, this.text));
    if (this.appCondition) el.cnode(this.appCondition);
    return el;
  }
}

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';
export type StanzaErrorCondition =
  | 'bad-request' | 'conflict' | 'feature-not-implemented' | 'forbidden' | 'gone' | 'internal-server-error'
  | 'item-not-found' | 'jid-malformed' | 'not-acceptable' | 'not-allowed' | 'not-authorized' | 'policy-violation'
  | 'recipient-unavailable' | 'redirect' | 'registration-required' | 'remote-server-not-found'
  | 'remote-server-timeout' | 'resource-constraint' | 'service-unavailable' | 'subscription-required'
  | 'undefined-condition' | 'unexpected-request';

/** The type RFC 6120 §8.3.3 gives each condition, used when a thrower does not say. */
const DEFAULT_TYPE: Record<StanzaErrorCondition, StanzaErrorType> = {
  'bad-request': 'modify', conflict: 'cancel', 'feature-not-implemented': 'cancel', forbidden: 'auth',
  gone: 'cancel', 'internal-server-error': 'cancel', 'item-not-found': 'cancel', 'jid-malformed': 'modify',
  'not-acceptable': 'modify', 'not-allowed': 'cancel', 'not-authorized': 'auth', 'policy-violation': 'modify',
  'recipient-unavailable': 'wait', redirect: 'modify', 'registration-required': 'auth',
  'remote-server-not-found': 'cancel', 'remote-server-timeout': 'wait', 'resource-constraint': 'wait',
  'service-unavailable': 'cancel', 'subscription-required': 'auth', 'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
};

export class StanzaError extends Error {
  readonly type: StanzaErrorType;
  constructor(readonly condition: StanzaErrorCondition, readonly text?: string, type?: StanzaErrorType, readonly appCondition?: Element) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'StanzaError';
    this.type = type ?? DEFAULT_TYPE[condition];
  }

  toElement(by?: string): Element {
    const el = xml('error', { type: this.type, by });
    el.cnode(xml(this.condition, { xmlns: NS.stanzas }));
    if (this.text) el.cnode(xml('text', { xmlns: NS.stanzas, 'xml:lang': 'en' }, this.text));
    if (this.appCondition) el.cnode(this.appCondition);
    return el;
  }

  /** Reads the condition out of an <error/> child of a bounced stanza. */
  static fromStanza(stanza: Element): StanzaError | undefined {
    const err = stanza.getChild('error');
    if (!err) return undefined;
    const cond = err.children.find((c): c is Element => typeof c !== 'string' && c.attrs.xmlns === NS.stanzas && c.name !== 'text');
    const condition = (cond?.name ?? 'undefined-condition') as StanzaErrorCondition;
    const type = (err.attrs.type ?? DEFAULT_TYPE[condition]) as StanzaErrorType;
    return new StanzaError(condition, err.getChildText('text', NS.stanzas) ?? undefined, type);
  }
}

export type SaslFailureCondition =
  | 'aborted' | 'account-disabled' | 'credentials-expired' | 'encryption-required' | 'incorrect-encoding'
  | 'invalid-authzid' | 'invalid-mechanism' | 'malformed-request' | 'mechanism-too-weak' | 'not-authorized'
  | 'temporary-auth-failure';

export class SaslError extends Error {
  constructor(readonly condition: SaslFailureCondition, readonly text?: string) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'SaslError';
  }

  toElement(): Element {
    const el = xml('failure', { xmlns: NS.sasl }, xml(this.condition));
    if (this.text) el.cnode(xml('text', { 'xml:lang': 'en' }, this.text));
    return el;
  }
}

/** An operator-facing error with a stable code, e.g. CONFIG_UNKNOWN_KEY. */
const SERVER_ERROR = Symbol.for('ratatosk.ServerError');

export class ServerError extends Error {
  readonly [SERVER_ERROR] = true;

  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'ServerError';
  }

  /**
   * `instanceof ServerError` by brand: the CLI imports the composition root (and so the modules and their
   * commands) on demand, and a test runner that loads the core as CommonJS gets a second copy of this
   * module from that import; errors of both copies must be recognised. Subclasses keep the usual check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== ServerError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && SERVER_ERROR in value;
  }
}

/** Turns a stanza into its error bounce (RFC 6120 §8.3.1): swapped addresses, original children kept. */
export function bounce(stanza: Element, error: StanzaError, serverDomain?: string): Element {
  const reply = new Element(stanza.name, { ...stanza.attrs, type: 'error' });
  if (stanza.attrs.from) reply.attrs.to = stanza.attrs.from; else delete reply.attrs.to;
  const from = stanza.attrs.to ?? serverDomain;
  if (from) reply.attrs.from = from; else delete reply.attrs.from;
  if (stanza.name !== 'iq') for (const child of stanza.children) reply.cnode(child as Element);
  reply.cnode(error.toElement());
  return reply;
}
