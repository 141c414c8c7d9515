// The HTTP port: WebSocket upgrade at /xmpp-websocket, health at /healthz, the landing page at /.
// Routes are a Map from path to handler; later issues add BOSH, host-meta and metrics here.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import type { Logger } from '../observability/log.js';
import { rememberProxyHeader } from './client-origin.js';
import { readProxyHeader } from './proxy-protocol.js';
import type { WebSocketEndpoint } from './websocket.js';

export type HttpHandler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

export interface HttpServerOptions {
  host: string;
  port: number;
  log: Logger;
  websocket: WebSocketEndpoint;
  /**
   * http.proxy_protocol_from: peers whose connections must start with a PROXY header (proxy-protocol.ts);
   * it names the client for every request on the connection (client-origin.ts). A bad or missing one
   * closes the connection. From anyone else a PROXY header is an HTTP request that cannot be parsed: 400.
   */
  proxyProtocolFrom?: (address: string) => boolean;
  /** Paths served by modules (ModuleContext.addHttpRoute), looked up after the server's own routes. */
  moduleRoutes?: ModuleHttpRoutes;
}

/**
 * Handlers of every path under a prefix, added and removed while the server runs: what modules serve on
 * the HTTP port (ctx.addHttpRoute). Also tells them the port the listener bound, once it has.
 */
export class ModuleHttpRoutes {
  private readonly entries: [string, HttpHandler][] = [];
  /** The HTTP listener's port; undefined before it listens, or when it is disabled. */
  boundPort: number | undefined;

  add(prefix: string, handler: HttpHandler): () => void {
    if (!/^\/[^?#]*\/$/.test(prefix) || prefix === '/') throw new Error(`an HTTP route prefix starts and ends with '/' and is not '/' alone, got "${prefix}"`);
    const taken = this.entries.find(([other]) => other.startsWith(prefix) || prefix.startsWith(other));
    if (taken) throw new Error(`HTTP route prefix ${prefix} overlaps ${taken[0]}`);
    const entry: [string, HttpHandler] = [prefix, handler];
    this.entries.push(entry);
    return () => {
      const index = this.entries.indexOf(entry);
      if (index !== -1) this.entries.splice(index, 1);
    };
  }

  find(path: string): HttpHandler | undefined {
    return this.entries.find(([prefix]) => path.startsWith(prefix))?.[1];
  }
}

export const WEBSOCKET_PATH = '/xmpp-websocket';

export class HttpServer {
  private readonly routes = new Map<string, HttpHandler>();
  private readonly prefixRoutes: [string, HttpHandler][] = [];
  readonly server: http.Server;
  /** With proxyProtocolFrom: the listening socket, which reads PROXY headers before handing connections to `server`. */
  private readonly front: net.Server | undefined;

  constructor(private readonly options: HttpServerOptions) {
    const fromProxy = options.proxyProtocolFrom;
    this.front = fromProxy && net.createServer((socket) => this.acceptProxied(socket, fromProxy));
    this.server = http.createServer({ requestTimeout: 120_000, headersTimeout: 20_000, keepAliveTimeout: 65_000 }, (req, res) => this.dispatch(req, res));
    this.server.on('upgrade', (req, socket, head) => {
      socket.on('error', () => undefined);
      if (pathOf(req) === WEBSOCKET_PATH) return options.websocket.handleUpgrade(req, socket, head);
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    });
    this.server.on('clientError', (err, socket) => {
      options.log.debug({ err }, 'bad HTTP request');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
  }

  route(path: string, handler: HttpHandler): void {
    this.routes.set(path, handler);
  }

  /** Serves every path under prefix (which ends in '/') that has no exact route. */
  routePrefix(prefix: string, handler: HttpHandler): void {
    this.prefixRoutes.push([prefix, handler]);
  }

  async listen(): Promise<number> {
    const listener = this.front ?? this.server;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen({ host: this.options.host, port: this.options.port }, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    const address = listener.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  async close(): Promise<void> {
    this.options.websocket.close();
    this.server.closeAllConnections();
    const front = this.front;
    if (front) await new Promise<void>((resolve) => front.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private acceptProxied(socket: net.Socket, fromProxy: (address: string) => boolean): void {
    socket.on('error', () => undefined);
    if (!fromProxy(socket.remoteAddress ?? '')) return void this.server.emit('connection', socket);
    readProxyHeader(socket).then(
      (header) => {
        rememberProxyHeader(socket, socket.remoteAddress, header);
        this.server.emit('connection', socket);
      },
      (err: unknown) => {
        this.options.log.info({ err, proxy: socket.remoteAddress }, 'HTTP connection from a PROXY protocol peer without a valid header; closed');
        socket.destroy();
      },
    );
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    const path = pathOf(req);
    if (path === WEBSOCKET_PATH) return sendText(res, 426, 'This endpoint speaks XMPP over WebSocket (RFC 7395).\n', { Upgrade: 'websocket' });
    const handler = this.routes.get(path) ?? this.prefixRoutes.find(([prefix]) => path.startsWith(prefix))?.[1] ?? this.options.moduleRoutes?.find(path);
    if (!handler) return sendText(res, 404, 'Not found\n');
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((err: unknown) => {
        this.options.log.error({ err, path }, 'HTTP handler failed');
        if (!res.headersSent) sendText(res, 500, 'Internal server error\n');
        else res.destroy();
      });
  }
}

export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export function sendText(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}
