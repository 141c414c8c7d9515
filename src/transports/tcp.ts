// XMPP over TCP (RFC 6120 §3, §4): port 5222 with STARTTLS (§5) and direct TLS on 5223 (XEP-0368).
import net from 'node:net';
import tls from 'node:tls';
import type { StreamError } from '../errors.js';
import type { Logger } from '../observability/log.js';
import { ReadShaper, slowReaderError, UNSHAPED, type ConnectionShaping } from '../stream/limits.js';
import { streamCloseText, streamHeaderText } from '../stream/stream-header.js';
import type { StreamEvents, StreamTransport, Undelivered } from '../stream/transport.js';
import type { Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { XmlStreamParser, type ParserLimits } from '../xml/parser.js';
import { serialize } from '../xml/serialize.js';
import type { ChannelBinding } from '../stream/sasl/types.js';
import { tlsChannelBinding } from './channel-binding.js';
import { connectionOrigin } from './client-origin.js';
import { readProxyHeader, type ProxyHeader } from './proxy-protocol.js';
import type { ServingCertificate } from './serving-certificate.js';
import { flushAtTurnEnd, type TurnWriter } from './turn-writes.js';

/** How long to wait for the peer's </stream:stream> after ours before dropping the connection. */
const CLOSE_GRACE_MS = 3000;
/** Stanzas kept for rerouting once the connection stops taking writes, until it reports its close. */
export const MAX_UNDELIVERED = 1000;

/** What an XML stream over TCP needs, whatever it carries (client streams here, XEP-0114 components). */
export interface TcpStreamOptions {
  log: Logger;
  limits: ParserLimits;
  keepaliveSeconds: number;
  /** [limits]: bytes per second read, and the unread output after which a client is cut off. */
  shaping?: ConnectionShaping;
  /** The header's namespace declarations, in this order; default: jabber:client, then the stream: prefix. */
  headerNamespaces?: Readonly<Record<string, string>>;
  /** For STARTTLS; without it none is offered. */
  secureContext?: tls.SecureContext;
}

export interface TcpOptions extends TcpStreamOptions {
  secureContext: tls.SecureContext;
  /** The same certificate as PEM, for the direct-TLS listener. */
  certificate: { cert: string; key: string };
  /** When given, the certificate in force (replaced by a reload) instead of `secureContext` and `certificate`. */
  serving?: ServingCertificate;
}

const CLIENT_NAMESPACES = { xmlns: NS.client, 'xmlns:stream': NS.stream } as const;

export class TcpTransport implements StreamTransport, TurnWriter {
  readonly kind = 'tcp' as const;
  readonly remoteAddress: string;
  private socket: net.Socket;
  private tlsActive: boolean;
  private closing = false;
  private disconnected = false;
  /** The peer closed its side: nothing written now would be read (Node answers writes after FIN with EPIPE). */
  private peerEnded = false;
  private readonly undelivered: Undelivered[] = [];
  /** Text written this turn; it leaves in one write when the turn ends (turn-writes.ts). */
  private queued: string[] = [];
  /** Cut off for not reading (limits.max_output_bytes): nothing more is written. */
  private cutOff = false;
  private readonly parser: XmlStreamParser;
  private readonly shaper: ReadShaper;
  private readonly maxOutput: number;
  private events: StreamEvents | undefined;
  private readonly onData = (chunk: Buffer): void => {
    this.parser.write(chunk);
    this.shaper.consumed(chunk.length);
  };

  /** `origin`: the client a PROXY header named, and whether the proxy received it over TLS (client-origin.ts). */
  constructor(socket: net.Socket, private readonly options: TcpStreamOptions & Partial<TcpOptions>, directTls: boolean, origin?: { remoteAddress: string; secure: boolean }) {
    this.socket = socket;
    this.tlsActive = directTls || (origin?.secure ?? false);
    this.remoteAddress = origin?.remoteAddress ?? normaliseAddress(socket.remoteAddress);
    this.parser = new XmlStreamParser(
      {
        onStreamStart: (name, attrs) => this.events?.onStreamStart(attrs, name),
        onElement: (el, size) => this.events?.onElement(el, size),
        onStreamEnd: () => this.events?.onStreamEnd(),
        onError: (err) => this.events?.onStreamError(err),
      },
      options.limits,
    );
    // limits.read_rate*: reading pauses while the client is over its rate (the socket in use, TLS or not).
    const shaping = options.shaping ?? UNSHAPED;
    this.shaper = new ReadShaper(shaping.read, { pause: () => this.socket.pause(), resume: () => this.socket.resume() });
    this.maxOutput = shaping.maxOutputBytes;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, options.keepaliveSeconds * 1000);
  }

  /** Starts reading once the stream is ready to receive. */
  attach(events: StreamEvents): void {
    this.events = events;
    this.listen(this.socket);
  }

  get secure(): boolean {
    return this.tlsActive;
  }

  get canStartTls(): boolean {
    return !this.tlsActive && (this.options.serving !== undefined || this.options.secureContext !== undefined);
  }

  channelBinding(): ChannelBinding | undefined {
    return this.socket instanceof tls.TLSSocket ? tlsChannelBinding(this.socket) : undefined;
  }

  openStream(attrs: Record<string, string>): void {
    this.write(streamHeaderText({ ...(this.options.headerNamespaces ?? CLIENT_NAMESPACES), ...attrs }));
  }

  send(stanza: Element): void {
    if (this.accepts(stanza)) this.write(serialize(stanza));
  }

  sendText(stanza: string): void {
    if (this.accepts(stanza)) this.write(stanza);
  }

  /** False when the connection cannot carry the stanza any more: it is kept for the stream to route again. */
  private accepts(stanza: Undelivered): boolean {
    const socket = this.socket;
    if (!this.cutOff && !socket.destroyed && socket.writable && !this.peerEnded) {
      if (socket.writableLength <= this.maxOutput) return true;
      this.cutOffSlowReader();
    }
    keepUndelivered(this.undelivered, stanza);
    return false;
  }

  /**
   * limits.max_output_bytes: the client does not read what it is sent. It gets policy-violation if it ever
   * reads again and is dropped after the grace period; what this turn had not written yet is routed again.
   */
  private cutOffSlowReader(): void {
    this.cutOff = true;
    this.closing = true;
    this.options.log.warn({ remote: this.remoteAddress }, 'client is not reading its output; disconnecting with policy-violation');
    for (const text of this.queued) keepUndelivered(this.undelivered, text);
    this.queued = [];
    this.shaper.stop();
    const socket = this.socket;
    socket.end(streamCloseText(slowReaderError()));
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  closeStream(error?: StreamError): void {
    if (this.closing) return;
    this.closing = true;
    this.write(streamCloseText(error));
    this.flushTurn();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  startTls(): void {
    const secureContext = this.options.serving?.secureContext ?? this.options.secureContext;
    if (!secureContext) throw new Error('startTls() on a TCP stream without a TLS context (canStartTls is false)');
    const plain = this.socket;
    // <proceed/> must reach the client before the handshake starts on this socket.
    this.flushTurn();
    plain.removeListener('data', this.onData);
    plain.pause();
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext });
    this.socket = secure;
    this.tlsActive = true;
    this.parser.reset();
    this.listen(secure);
  }

  queuedBytes(): number {
    return this.socket.writableLength;
  }

  destroy(): void {
    this.socket.destroy();
  }

  restartStream(): void {
    this.parser.reset();
  }

  /** Called once authenticated (larger stanzas): the read rate becomes limits.read_rate too. */
  setLimits(limits: Partial<ParserLimits>): void {
    this.parser.setLimits(limits);
    this.shaper.authenticated();
  }

  holdReading(ms: number): void {
    this.shaper.hold(ms);
  }

  private listen(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('end', () => {
      this.peerEnded = true;
      this.parser.end();
    });
    socket.on('close', () => {
      this.shaper.stop();
      if (this.disconnected) return;
      this.disconnected = true;
      this.events?.onDisconnect(this.undelivered.splice(0));
    });
    socket.on('error', (err) => this.options.log.debug({ err, remote: this.remoteAddress }, 'socket error'));
  }

  private write(data: string): void {
    if (this.socket.destroyed || this.cutOff) return;
    // Everything written in one turn of the event loop leaves in one write and one syscall (the stream
    // header and its features, a room's history on join, a burst of pushes, a busy room's messages).
    if (this.queued.length === 0) flushAtTurnEnd(this);
    this.queued.push(data);
  }

  /** One string and one write for the turn's stanzas (cheaper than corking the socket around many writes). */
  flushTurn(): void {
    const queued = this.queued;
    if (queued.length === 0) return;
    this.queued = [];
    if (this.socket.destroyed) return;
    this.socket.write(queued.length === 1 ? (queued[0] ?? '') : queued.join(''));
  }
}

/** Keeps a stanza a closing connection could not take, up to MAX_UNDELIVERED (then the rest is dropped). */
export function keepUndelivered(list: Undelivered[], stanza: Undelivered): void {
  if (list.length < MAX_UNDELIVERED) list.push(stanza);
}

export function normaliseAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * An XML stream on a plain TCP connection the caller accepted (a module's own listener, as XEP-0114's):
 * the c2s transport's parser, limits, batched writes, output cap and closing, without STARTTLS.
 */
export function plainTcpStream(socket: net.Socket, options: TcpStreamOptions): StreamTransport & { attach(events: StreamEvents): void } {
  return new TcpTransport(socket, { ...options, secureContext: undefined, serving: undefined }, false);
}

export interface TcpListenerOptions extends TcpOptions {
  host: string;
  port: number;
  directTls: boolean;
  /** c2s.proxy_protocol_from: peers whose connections must start with a PROXY header (proxy-protocol.ts). */
  proxyProtocolFrom?: (address: string) => boolean;
  onConnection(transport: TcpTransport): void;
}

export async function listenTcp(options: TcpListenerOptions): Promise<net.Server> {
  const accept = (socket: net.Socket): void => {
    socket.on('error', () => undefined);
    options.onConnection(new TcpTransport(socket, options, options.directTls));
  };
  const tlsOptions = (): tls.TlsOptions => ({ ...(options.serving?.pem ?? options.certificate), minVersion: 'TLSv1.2', ALPNProtocols: ['xmpp-client'] });
  const proxied = options.proxyProtocolFrom;
  const server = proxied
    ? net.createServer((socket) => acceptProxied(socket, options, proxied, tlsOptions))
    : options.directTls
      ? tls.createServer(tlsOptions(), accept)
      : net.createServer(accept);
  if (server instanceof tls.Server) options.serving?.serve(server);
  if (options.directTls) server.on('tlsClientError', (err) => options.log.debug({ err }, 'direct TLS handshake failed'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/**
 * A listener with c2s.proxy_protocol_from: a listed peer's connection starts with a PROXY header (before
 * the TLS handshake on the direct-TLS port), which names the client; a bad or missing one closes it. Other
 * peers are served as usual, so a PROXY header from them is not-well-formed XML (or a failed handshake).
 */
function acceptProxied(socket: net.Socket, options: TcpListenerOptions, fromProxy: (address: string) => boolean, tlsOptions: () => tls.TlsOptions): void {
  socket.on('error', () => undefined);
  const start = (header?: ProxyHeader): void => {
    const origin = connectionOrigin(socket.remoteAddress, false, header);
    const wire = options.directTls ? new tls.TLSSocket(socket, { isServer: true, ...tlsOptions() }) : socket;
    if (options.directTls) wire.on('error', (err) => options.log.debug({ err, remote: origin.remoteAddress }, 'direct TLS handshake failed'));
    options.onConnection(new TcpTransport(wire, options, options.directTls, origin));
  };
  if (!fromProxy(socket.remoteAddress ?? '')) return start();
  readProxyHeader(socket).then(start, (err: unknown) => {
    options.log.info({ err, proxy: socket.remoteAddress }, 'connection from a PROXY protocol peer without a valid header; closed');
    socket.destroy();
  });
}

export function boundPort(server: net.Server): number {
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}
