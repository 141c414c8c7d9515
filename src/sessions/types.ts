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
  /** Ends the session with a stream error (conflict, system-shutdown...) or a clean close. */
  close(error?: StreamError): void;
}
