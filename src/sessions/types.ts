// What the router and modules know of a bound client session, whatever its transport.
import type { StreamError } from '../errors.js';
import type { Jid } from '../jid.js';
import type { Element } from '../xml/element.js';
import type { SessionState } from './handover.js';
import type { Outbound, OutputPipeline } from './output.js';

export type TransportKind = 'tcp' | 'websocket' | 'bosh';

export interface SessionPresence {
  available: boolean;
  priority: number;
  /** The last broadcast presence, as the client sent it with `from` stamped. */
  stanza?: Element;
}

export interface BoundSession {
  readonly id: string;
  readonly jid: Jid;
  readonly transport: TransportKind;
  readonly remoteAddress: string;
  readonly startedAt: number;
  readonly presence: SessionPresence;
  /** Last time anything arrived from the client (ms since epoch). */
  readonly lastActivity: number;
  /** Per-session flags modules may set (e.g. roster requested, interested in pushes). */
  readonly flags: Set<string>;
  /** False while the session is kept bound without a connection (waiting for XEP-0198 resumption); absent: always connected. */
  readonly connected?: boolean;
  send(stanza: Element): void;
  /** Sends a stanza already serialised (a fan-out copy from PreparedStanza). */
  sendText(stanza: string): void;
  /** Ends the session with a stream error (conflict, system-shutdown...) or a clean close. */
  close(error?: StreamError): void;
}

/**
 * A client session as stream-level protocols see it (XEP-0198 stream management, XEP-0352 client state
 * indication): its output pipeline, the count of stanzas handled from the client, and whether it outlives
 * a connection that drops.
 */
export interface StreamSession extends BoundSession {
  readonly connected: boolean;
  /** Every stanza the session sends passes these stages (output.ts). */
  readonly output: OutputPipeline;
  /** Stanzas received from the client and handled (routed, or answered by the stream) since bind, mod 2^32. */
  readonly handledCount: number;
  /**
   * When true and an output stage keeps what it sent until acknowledged, a connection that drops without a
   * closing handshake leaves the session bound, presence unchanged, until it is resumed on a new stream or
   * closed (close() then ends it for real; what the stages hold is routed again as undelivered).
   */
  keepOnDrop: boolean;
  /** Writes a stream-level element (not a stanza: not counted, not filtered) on the current connection; nothing without one. */
  sendStreamElement(element: Element): void;
  /**
   * Hands the session over to another node (src/cluster/README.md, "Session hand-over"). Closes its connection
   * if it still has one (`conflict`) and waits for the stanzas being handled; then, in one step, `exportStages`
   * takes what a module's stages hold and removes them (returning undefined declines: the session is kept as
   * it was), the other stages' held stanzas go into the state, and from then on everything given to the session
   * goes to `forward`. The state carries what modules keep of the session (src/sessions/handover-parts.ts).
   * The session stays in the local registry, forwarding, until close(), which removes it without
   * 'session:closed' (it lives on elsewhere) and fires 'session:handed-over' with `to`, the taking node.
   * Undefined when the session ended or was taken meanwhile, or `exportStages` declined.
   */
  handOver<T>(to: string, forward: (stanza: Outbound) => void, exportStages: () => T | undefined): Promise<{ state: SessionState; exported: T } | undefined>;
}

/**
 * Where a bound resource lives in the cluster, as the session directory records it: the owning node,
 * that node's session id, and what the router needs of its presence (RFC 6121 §8.5.2 picks by these).
 */
export interface SessionRecord {
  /** The full JID. */
  readonly jid: Jid;
  readonly node: string;
  readonly sid: string;
  readonly available: boolean;
  readonly priority: number;
}
