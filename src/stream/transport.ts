// The edge between a transport (TCP, WebSocket, BOSH) and the transport-agnostic c2s stream.
import type { StreamError } from '../errors.js';
import type { TransportKind } from '../sessions/types.js';
import type { Element } from '../xml/element.js';
import type { ParserLimits } from '../xml/parser.js';
import type { ChannelBinding } from './sasl/types.js';

export interface StreamTransport {
  readonly kind: TransportKind;
  readonly remoteAddress: string;
  /** TLS is in place, a trusted proxy says the client used TLS, or a direct loopback client (transports/client-origin.ts). */
  readonly secure: boolean;
  /** STARTTLS can be offered now (TCP without TLS yet). */
  readonly canStartTls: boolean;
  /** The TLS channel this server terminated, for SCRAM-*-PLUS; undefined without one (no TLS, or a proxy's). */
  channelBinding?(): ChannelBinding | undefined;
  /** Writes the stream header: <stream:stream> on TCP, <open/> on WebSocket, the session creation response on BOSH. */
  openStream(attrs: Record<string, string>): void;
  send(stanza: Element): void;
  /** Sends a serialised stanza that declares its own namespace (PreparedStanza). */
  sendText(stanza: string): void;
  /** Ends the stream (optionally after a stream error) and closes the connection once the peer has closed or a grace period passed. */
  closeStream(error?: StreamError): void;
  /** After <proceed/>: upgrade to TLS; the next thing the client sends is a new stream header. */
  startTls(): void;
  /** After SASL success: the client opens a new stream on the same connection. */
  restartStream(): void;
  setLimits(limits: Partial<ParserLimits>): void;
  /** Stops reading the client's input for `ms` (limits.stanza_rate); transports that cannot, ignore it. */
  holdReading?(ms: number): void;
  /** Bytes accepted for the client and not yet sent (write buffer, BOSH queue), for the metrics. */
  queuedBytes?(): number;
  /** Drops the connection at once. */
  destroy(): void;
}

/** A stanza a transport took but could not hand to its client: as sent, or serialised (sendText). */
export type Undelivered = Element | string;

/** What a transport tells its stream. */
export interface StreamEvents {
  onStreamStart(attrs: Record<string, string>, name: string): void;
  /** `bytes`: the element's size as received, for the backlog cap (limits.max_backlog_bytes). */
  onElement(element: Element, bytes?: number): void;
  onStreamEnd(): void;
  /** A framing or parse error: the stream answers with this error and closes. */
  onStreamError(error: StreamError): void;
  /**
   * The connection is gone (closed by either side, or dropped). `undelivered`: stanzas the transport
   * accepted but never wrote to the client (a BOSH queue no request came to collect, writes after the
   * connection stopped taking them); the stream routes them again (undelivered.ts).
   */
  onDisconnect(undelivered?: readonly Undelivered[]): void;
}
