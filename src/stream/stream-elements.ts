// Top-level elements of an authenticated client stream that are not stanzas (RFC 6120 §8 names only
// message, presence and iq): stream-level protocols such as XEP-0198's <enable/>, <r/>, <a/> and <resume/>.
// Modules register a handler per namespace; an element of a namespace nobody handles keeps the stream's
// answer (before bind: not-authorized; after: unsupported-stanza-type).
import type { StreamError } from '../errors.js';
import type { SessionState } from '../sessions/handover.js';
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
