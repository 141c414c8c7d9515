// XMPP over WebSocket (RFC 7395): subprotocol "xmpp", one complete element per text frame,
// <open/> and <close/> in urn:ietf:params:xml:ns:xmpp-framing instead of the stream root.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { StreamError } from '../errors.js';
import type { Logger } from '../observability/log.js';
import { ReadShaper, slowReaderError, UNSHAPED, type ConnectionShaping } from '../stream/limits.js';
import type { StreamEvents, StreamTransport, Undelivered } from '../stream/transport.js';
import { Element, xml } from '../xml/element.js';
import { parseFrame } from '../xml/framed-parser.js';
import { NS } from '../xml/ns.js';
import { decodeUtf8 } from '../xml/utf8.js';
import type { ParserLimits } from '../xml/parser.js';
import { serialize } from '../xml/serialize.js';
import type { ClientOrigin } from './client-origin.js';
import { keepUndelivered } from './tcp.js';
import { flushAtTurnEnd, type TurnWriter } from './turn-writes.js';
import { encodeTextFrames } from './websocket-frames.js';

const CLOSE_GRACE_MS = 3000;

export interface WebSocketOptions {
  log: Logger;
  limits: ParserLimits;
  maxFrameBytes: number;
  keepaliveSeconds: number;
  /** [limits]: bytes per second read, and the unread output after which a client is cut off. */
  shaping?: ConnectionShaping;
  /** Who the client is and whether its path is secure (client-origin.ts: TLS, or a trusted proxy saying https). */
  originOf(request: IncomingMessage): ClientOrigin;
}

export class WebSocketTransport implements StreamTransport, TurnWriter {
  readonly kind = 'websocket' as const;
  readonly canStartTls = false;
  readonly remoteAddress: string;
  readonly secure: boolean;
  private limits: ParserLimits;
  private events: StreamEvents | undefined;
  private closing = false;
  /** A frame or a pong arrived since the keepalive timer last ran. */
  private heard = true;
  /** A ping went out at the last tick and nothing has been heard since. */
  private pinged = false;
  private readonly undelivered: Undelivered[] = [];
  private readonly pinger: NodeJS.Timeout;
  /** Frames written this turn; they leave together when it ends (turn-writes.ts). */
  private queued: string[] = [];
  /** Cut off for not reading (limits.max_output_bytes): nothing more is written. */
  private cutOff = false;
  private readonly shaper: ReadShaper;
  private readonly maxOutput: number;

  /** `socket`: the upgraded connection under `ws`, written to directly for this transport's own frames. */
  constructor(
    private readonly ws: WebSocket,
    private readonly socket: Duplex,
    request: IncomingMessage,
    private readonly options: WebSocketOptions,
  ) {
    const origin = options.originOf(request);
    this.remoteAddress = origin.remoteAddress;
    this.secure = origin.secure;
    this.limits = { ...options.limits };
    // A client that sent something since the last tick is there: only a silent one is pinged (RFC 6455 §5.5.2),
    // and one silent through a whole period after its ping is gone.
    this.pinger = setInterval(() => {
      if (this.heard) {
        this.heard = false;
        this.pinged = false;
        return;
      }
      if (this.pinged) return ws.terminate();
      this.pinged = true;
      ws.ping();
    }, options.keepaliveSeconds * 1000);
    this.pinger.unref();
    // limits.read_rate*: over the rate, ws stops reading the socket until the tokens are back.
    const shaping = options.shaping ?? UNSHAPED;
    this.shaper = new ReadShaper(shaping.read, { pause: () => ws.pause(), resume: () => ws.resume() });
    this.maxOutput = shaping.maxOutputBytes;
  }

  attach(events: StreamEvents): void {
    this.events = events;
    this.ws.on('pong', () => (this.heard = true));
    this.ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    this.ws.on('close', () => {
      clearInterval(this.pinger);
      this.shaper.stop();
      events.onDisconnect(this.undelivered.splice(0));
    });
    this.ws.on('error', (err) => this.options.log.debug({ err, remote: this.remoteAddress }, 'websocket error'));
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    this.heard = true;
    const events = this.events;
    if (!events || this.closing) return;
    if (isBinary) return events.onStreamError(new StreamError('not-well-formed', 'XMPP frames must be text (RFC 7395 §3.2)'));
    const bytes = rawToBuffer(data);
    this.shaper.consumed(bytes.length);
    let element: Element;
    try {
      element = parseFrame(decodeUtf8(bytes), this.limits);
    } catch (err) {
      if (err instanceof StreamError) return events.onStreamError(err);
      throw err;
    }
    if (element.attrs.xmlns === NS.framing) {
      if (element.name === 'open') return events.onStreamStart(element.attrs, 'open');
      if (element.name === 'close') return events.onStreamEnd();
    }
    events.onElement(element, bytes.length);
  }

  openStream(attrs: Record<string, string>): void {
    this.write(xml('open', { xmlns: NS.framing, ...attrs }).toString());
  }

  send(stanza: Element): void {
    if (!this.accepts(stanza)) return;
    // Each frame stands alone (RFC 7395 §3.3.3), so the stream prefix must be declared in it.
    if (stanza.name === 'stream:features') stanza.attrs['xmlns:stream'] = NS.stream;
    // So must the stanza namespace the TCP stream header would imply; a shallow copy leaves a
    // stanza shared with other recipients as it is.
    if (stanza.attrs.xmlns === undefined && !stanza.name.includes(':')) {
      const framed = new Element(stanza.name, { ...stanza.attrs, xmlns: NS.client });
      framed.children = stanza.children;
      return this.write(serialize(framed));
    }
    this.write(serialize(stanza));
  }

  sendText(stanza: string): void {
    if (this.accepts(stanza)) this.write(stanza);
  }

  /**
   * False when the WebSocket cannot carry the stanza any more (closing, closed, or cut off for not
   * reading): it is kept for the stream to route again once the socket reports its close.
   */
  private accepts(stanza: Undelivered): boolean {
    if (this.ws.readyState === this.ws.OPEN && !this.cutOff) {
      if (this.ws.bufferedAmount <= this.maxOutput) return true;
      this.cutOffSlowReader();
    }
    keepUndelivered(this.undelivered, stanza);
    return false;
  }

  /**
   * limits.max_output_bytes: the client does not read what it is sent. It gets policy-violation and <close/>
   * if it ever reads again and is dropped after the grace period; this turn's unwritten frames are routed again.
   */
  private cutOffSlowReader(): void {
    this.cutOff = true;
    this.closing = true;
    this.options.log.warn({ remote: this.remoteAddress }, 'websocket client is not reading its output; disconnecting with policy-violation');
    for (const text of this.queued) keepUndelivered(this.undelivered, text);
    this.queued = [];
    this.shaper.stop();
    if (this.socket.writable) this.socket.write(encodeTextFrames([slowReaderError().toElement(false).toString(), xml('close', { xmlns: NS.framing }).toString()]));
    this.ws.close(1008);
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  closeStream(error?: StreamError): void {
    if (this.closing) return;
    this.closing = true;
    if (error) this.write(error.toElement(false).toString());
    const close = xml('close', { xmlns: NS.framing });
    if (error?.condition === 'see-other-host' && error.seeOtherHost) close.attrs['see-other-uri'] = error.seeOtherHost;
    this.write(close.toString());
    // Before ws's own close frame, which it writes at once.
    this.flushTurn();
    // The client answers <close/> (RFC 7395 §3.6); the server then closes the WebSocket.
    this.ws.close(1000);
    setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  startTls(): void {
    throw new Error('STARTTLS is not available over WebSocket');
  }

  queuedBytes(): number {
    return this.ws.bufferedAmount;
  }

  destroy(): void {
    this.ws.terminate();
  }

  restartStream(): void {
    // Each <open/> is a frame of its own: nothing to reset.
  }

  /** Called once authenticated (larger stanzas): the read rate becomes limits.read_rate too. */
  setLimits(limits: Partial<ParserLimits>): void {
    this.limits = { ...this.limits, ...limits };
    this.shaper.authenticated();
  }

  holdReading(ms: number): void {
    this.shaper.hold(ms);
  }

  private write(data: string): void {
    if (this.ws.readyState !== this.ws.OPEN || this.cutOff) return;
    if (this.queued.length === 0) flushAtTurnEnd(this);
    this.queued.push(data);
  }

  /**
   * Writes the turn's frames in one buffer, straight to the socket: ws would allocate a header and make a
   * write (a syscall, uncorked) per message. ws's own frames (ping, pong, close) keep their way.
   */
  flushTurn(): void {
    const frames = this.queued;
    if (frames.length === 0) return;
    this.queued = [];
    if (this.ws.readyState !== this.ws.OPEN || !this.socket.writable) return;
    this.socket.write(encodeTextFrames(frames));
  }
}

function rawToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export interface WebSocketEndpoint {
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

export function createWebSocketEndpoint(options: WebSocketOptions, onConnection: (transport: WebSocketTransport) => void): WebSocketEndpoint {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxFrameBytes,
    perMessageDeflate: false,
    // Text frames are checked in onFrame, so that invalid UTF-8 gets the stream error not-well-formed
    // (RFC 6120 §11.6) rather than ws's bare close 1007.
    skipUTF8Validation: true,
    clientTracking: true,
    // RFC 7395 §3.1: the "xmpp" subprotocol. Clients that offer none are accepted, as ejabberd does.
    handleProtocols: (protocols) => (protocols.has('xmpp') ? 'xmpp' : false),
  });
  return {
    handleUpgrade(request, socket, head) {
      const offered = request.headers['sec-websocket-protocol'];
      if (offered !== undefined && !offered.split(',').some((p) => p.trim() === 'xmpp')) {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\nThe WebSocket subprotocol must be "xmpp" (RFC 7395).\n');
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => {
        if (ws.readyState !== ws.OPEN) return;
        onConnection(new WebSocketTransport(ws, socket, request, options));
      });
    },
    close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
    },
  };
}
