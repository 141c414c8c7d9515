// Top-level elements of an authenticated client stream that are not stanzas (RFC 6120 §8 names only
// message, presence and iq): stream-level protocols such as XEP-0198's <enable/>, <r/>, <a/> and <resume/>.
// Modules register a handler per namespace; an element of a namespace nobody handles keeps the stream's
// answer (before bind: not-authorized; after: unsupported-stanza-type).
import type { StreamError } from '../errors.js';
import type { SessionState } from '../sessions/handover.js';
import { SessionHandOverParts } from '../sessions/handover-parts.js';
import type { BoundSession, StreamSession, TransportKind } from '../sessions/types.js';
import type { Element } from '../xml/element.js';

/** What a handler may do with the stream an element arrived on. */
export interface ClientStream {
  /** The stream's id (the first header's). */
  readonly id: string;
  readonly transport: TransportKind;
  /** This node's id in the cluster (what a resumption id can name, so another node finds the session's owner). */
  readonly node: string;
  /** The authenticated account's local part, normalised as in its JIDs. */
  readonly username: string;
  /** The session bound (or resumed) on this stream; undefined before. */
  readonly session: StreamSession | undefined;
  /** Writes a stream-level element: not a stanza, not counted, not filtered. */
  send(element: Element): void;
  /** Ends the stream with a stream error (RFC 6120 §4.9). */
  fail(error: StreamError): void;
  /**
   * Attaches, in place of binding, a session of this account that is kept without a connection or still on
   * another one (that connection is closed with `conflict`). `attached` runs at once after the session is on
   * this stream and before anything else is written to it. False when it cannot: not authenticated and
   * unbound, another account's session, or the session ended.
   */
  resume(session: BoundSession, attached: (session: StreamSession) => void): Promise<boolean>;
  /**
   * Binds on this node a session another node handed over (StreamSession.handOver there), kept without a
   * connection as after a dropped one, under its full JID and session id. At once: it joins the local
   * registry, `prepare` runs (a module restores its stages), the stanzas the other node's stages held are
   * given to it. `registered` resolves once the session directory names this node (the old node is then told
   * to let go: src/cluster/README.md) and 'session:bound' and 'session:hibernating' fired. resume() attaches it.
   */
  adopt(state: SessionState, prepare: (session: StreamSession) => void): { session: StreamSession; registered: Promise<void> };
}

export type StreamElementHandler = (element: Element, stream: ClientStream) => void | Promise<void>;

export class StreamElementRegistry {
  private readonly handlers = new Map<string, StreamElementHandler>();
  /** What modules add to the SASL2 and Bind2 login (below). */
  readonly login = new LoginExtensionRegistry();
  /** What modules move with a session another node takes over (src/sessions/handover-parts.ts). */
  readonly handOver = new SessionHandOverParts();

  /** Registers the handler of a namespace; returns the function that removes it. */
  register(namespace: string, handler: StreamElementHandler): () => void {
    if (this.handlers.has(namespace)) throw new Error(`stream elements in ${namespace} already have a handler`);
    this.handlers.set(namespace, handler);
    return () => {
      if (this.handlers.get(namespace) === handler) this.handlers.delete(namespace);
    };
  }

  lookup(namespace: string | undefined): StreamElementHandler | undefined {
    return namespace === undefined ? undefined : this.handlers.get(namespace);
  }
}

// ---- SASL2 (XEP-0388) and Bind2 (XEP-0386) extensions: what modules add to the inline login ----

/** One <authenticate/> of SASL2 (XEP-0388 §2.3), as extensions see it. */
export interface Sasl2Request {
  readonly authenticate: Element;
  readonly mechanism: string;
  /** <user-agent id=''/> (XEP-0388 §2.3.1): the client installation's stable id, when it gave one. */
  readonly userAgent: { readonly id?: string; readonly software?: string; readonly device?: string };
  readonly transport: TransportKind;
  readonly secure: boolean;
}

/** What a SASL2 mechanism of a module is built from: the account gate of the login throttle. */
export interface Sasl2MechanismGate {
  admit(account: string | undefined): Promise<void>;
}

/** A module's part in SASL2: its <inline/> feature, mechanisms of its own (FAST tokens), its answers in <success/>. */
export interface Sasl2Extension {
  /** The child of <authentication><inline/> that announces it; undefined to announce nothing on this stream. */
  feature?(info: { secure: boolean; transport: TransportKind }): Element | undefined;
  /** A mechanism only this extension offers (announced in its feature), by name, for this request. */
  mechanism?(name: string, request: Sasl2Request, gate: Sasl2MechanismGate): Sasl2Mechanism | undefined;
  /**
   * Runs once the mechanism succeeded, before <success/> is sent, with the authenticated account; what it
   * writes with `stream.send` goes inside <success/>. Runs before the inline bind (XEP-0198 §5 resumption here).
   */
  success?(request: Sasl2Request, stream: ClientStream): void | Promise<void>;
}

/** A SASL mechanism as a challenge/response state machine (src/stream/sasl/types.ts). */
export interface Sasl2Mechanism {
  start(initial: Buffer | null): Promise<Sasl2Step>;
  step(response: Buffer): Promise<Sasl2Step>;
}
export type Sasl2Step = { kind: 'challenge'; data: Buffer } | { kind: 'success'; data: Buffer | null; username: string; authzid?: string };

/** A Bind2 inline feature (XEP-0386 §2.3): gets its element from <bind/>; what it sends goes inside <bound/>. */
export type Bind2Handler = (element: Element, stream: ClientStream) => void | Promise<void>;

export class LoginExtensionRegistry {
  private readonly sasl2 = new Map<string, Sasl2Extension>();
  private readonly bind2 = new Map<string, Bind2Handler>();

  registerSasl2(namespace: string, extension: Sasl2Extension): () => void {
    return register(this.sasl2, namespace, extension, 'SASL2');
  }

  registerBind2(namespace: string, handler: Bind2Handler): () => void {
    return register(this.bind2, namespace, handler, 'Bind2');
  }

  sasl2Extensions(): Iterable<[string, Sasl2Extension]> {
    return this.sasl2.entries();
  }

  bind2Handler(namespace: string | undefined): Bind2Handler | undefined {
    return namespace === undefined ? undefined : this.bind2.get(namespace);
  }

  bind2Namespaces(): string[] {
    return [...this.bind2.keys()];
  }
}

function register<T>(map: Map<string, T>, namespace: string, value: T, what: string): () => void {
  if (map.has(namespace)) throw new Error(`${what} inline ${namespace} already has a handler`);
  map.set(namespace, value);
  return () => {
    if (map.get(namespace) === value) map.delete(namespace);
  };
}
