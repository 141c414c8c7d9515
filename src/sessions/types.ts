// What the router and modules know of a bound client session, whatever its transport.
import type { StreamError } from '../errors.js';
import type { Jid } from '../jid.js';
import type { Element } from '../xml/element.js';

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
  send(stanza: Element): void;
  /** Sends a stanza already serialised (a fan-out copy from PreparedStanza). */
  sendText(stanza: string): void;
  /** Ends the session with a stream error (conflict, system-shutdown...) or a clean close. */
  close(error?: StreamError): void;
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
