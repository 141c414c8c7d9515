// XEP-0156 v1.4.0 §2 "HTTP Lookup Method" (numbered §3 before 1.4.0 dropped the DNS method), on
// RFC 6415 Web Host Metadata: /.well-known/host-meta is the XRD document (RFC 6415 §3, required) and
// /.well-known/host-meta.json its JRD form (RFC 6415 Appendix A). Each lists where clients reach this
// server with the link relations urn:xmpp:alt-connections:websocket (RFC 7395) and
// urn:xmpp:alt-connections:xbosh (XEP-0206), with CORS headers so web clients on other origins can
// read them (XEP-0156 §2.3).
//
// Which URLs to list is a question for an injectable EndpointProvider: a single node derives them from
// the request or the configured public URLs; a cluster can answer with the least-loaded live node.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../observability/log.js';
import { xml } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import type { ClientOrigin, RequestView } from './client-origin.js';

export type { RequestView } from './client-origin.js';

export const HOST_META_PATH = '/.well-known/host-meta';
export const HOST_META_JSON_PATH = '/.well-known/host-meta.json';

/** Absolute URLs of the connection methods to advertise; an absent one is left out of the documents. */
export interface ConnectionEndpoints {
  websocket?: string;
  bosh?: string;
}

export type EndpointProvider = (request: RequestView) => ConnectionEndpoints | Promise<ConnectionEndpoints>;

/** The request does not say which host it was sent to (no usable Host header); answered with 400. */
export class UnknownHostError extends Error {}

export interface RequestOrigin {
  secure: boolean;
  /** host[:port] as the client used it, lower-cased, default port dropped. */
  host: string;
}

/**
 * Where the client thinks it is talking to. `originOf` is the transports' rule (client-origin.ts), so
 * host-meta names wss:// and https:// exactly when WebSocket and BOSH count the path as secure, except
 * for a direct loopback client on plain HTTP (secure, yet only ws:// and http:// reach this port).
 * X-Forwarded-Host counts only when that rule believed the request's forwarding headers (a trusted
 * proxy sent them): anyone else could make us advertise their server.
 */
export function requestOrigin(request: RequestView, originOf: (request: RequestView) => ClientOrigin): RequestOrigin | undefined {
  const origin = originOf(request);
  const secure = origin.https;
  const forwardedHost = origin.forwardedHeadersTrusted ? firstValue(request.headers['x-forwarded-host']) : undefined;
  const host = (forwardedHost !== undefined ? normaliseHost(forwardedHost, secure) : undefined) ?? normaliseHost(request.headers.host ?? '', secure);
  return host === undefined ? undefined : { secure, host };
}

export interface RequestEndpointOptions {
  websocketPath: string;
  boshPath: string;
  /** The transports' rule: ClientOriginRule.ofRequest. */
  originOf: (request: RequestView) => ClientOrigin;
  /** Configured public URLs win over what the request suggests. */
  publicWebsocketUrl?: string;
  publicBoshUrl?: string;
}

/** The single-node provider: configured public URLs, else this server's paths on the host the request names. */
export function endpointsFromRequest(options: RequestEndpointOptions): EndpointProvider {
  return (request) => {
    const { publicWebsocketUrl, publicBoshUrl } = options;
    if (publicWebsocketUrl !== undefined && publicBoshUrl !== undefined) return { websocket: publicWebsocketUrl, bosh: publicBoshUrl };
    const origin = requestOrigin(request, options.originOf);
    if (!origin) throw new UnknownHostError('the request has no usable Host header');
    return {
      websocket: publicWebsocketUrl ?? `${origin.secure ? 'wss' : 'ws'}://${origin.host}${options.websocketPath}`,
      bosh: publicBoshUrl ?? `${origin.secure ? 'https' : 'http'}://${origin.host}${options.boshPath}`,
    };
  };
}

/** What host-meta reads of a cluster node's record (NodeInfo in src/cluster/node-registry.ts has it). */
export interface AdvertisedNode {
  websocketUrl?: string;
  boshUrl?: string;
}

/**
 * A cluster's provider: the URLs the least-loaded live node advertises. When the registry names no node
 * with URLs, or cannot be read, this node is still alive and answering, so `fallback` (its own URLs) serves.
 */
export function endpointsFromLeastLoaded(leastLoadedNode: () => Promise<AdvertisedNode | undefined>, fallback: EndpointProvider): EndpointProvider {
  return async (request) => {
    const node = await leastLoadedNode().catch(() => undefined);
    if (!node || (node.websocketUrl === undefined && node.boshUrl === undefined)) return fallback(request);
    const endpoints: ConnectionEndpoints = {};
    if (node.websocketUrl !== undefined) endpoints.websocket = node.websocketUrl;
    if (node.boshUrl !== undefined) endpoints.bosh = node.boshUrl;
    return endpoints;
  };
}

type Link = { rel: string; href: string };

function links(endpoints: ConnectionEndpoints): Link[] {
  const out: Link[] = [];
  if (endpoints.bosh !== undefined) out.push({ rel: NS.altConnectionsXbosh, href: endpoints.bosh });
  if (endpoints.websocket !== undefined) out.push({ rel: NS.altConnectionsWebsocket, href: endpoints.websocket });
  return out;
}

export function renderXrd(endpoints: ConnectionEndpoints): string {
  const document = xml('XRD', { xmlns: NS.xrd }, ...links(endpoints).map((link) => xml('Link', link)));
  return `<?xml version='1.0' encoding='utf-8'?>\n${document.toString()}\n`;
}

export function renderJrd(endpoints: ConnectionEndpoints): string {
  return `${JSON.stringify({ links: links(endpoints) }, null, 2)}\n`;
}

export interface HostMetaOptions {
  endpointsFor: EndpointProvider;
  log: Logger;
}

export interface HostMetaHandlers {
  xrd(request: IncomingMessage, response: ServerResponse): Promise<void>;
  jrd(request: IncomingMessage, response: ServerResponse): Promise<void>;
}

const ALLOWED_METHODS = 'GET, HEAD, OPTIONS';

export function createHostMeta(options: HostMetaOptions): HostMetaHandlers {
  const serve = async (request: IncomingMessage, response: ServerResponse, type: string, render: (e: ConnectionEndpoints) => string): Promise<void> => {
    const cors = { 'Access-Control-Allow-Origin': '*' };
    const method = request.method ?? 'GET';
    if (method === 'OPTIONS') {
      const requested = request.headers['access-control-request-headers'];
      response.writeHead(204, {
        ...cors,
        'Access-Control-Allow-Methods': ALLOWED_METHODS,
        ...(typeof requested === 'string' ? { 'Access-Control-Allow-Headers': requested } : {}),
        'Access-Control-Max-Age': '86400',
        'Content-Length': 0,
      });
      response.end();
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') return plain(response, 405, 'Method not allowed\n', { ...cors, Allow: ALLOWED_METHODS });
    let endpoints: ConnectionEndpoints;
    try {
      endpoints = await options.endpointsFor(request);
    } catch (err) {
      if (err instanceof UnknownHostError) return plain(response, 400, 'Bad request: send a Host header naming this server\n', cors);
      options.log.warn({ err }, 'host-meta: no connection endpoints to advertise');
      return plain(response, 503, 'No connection endpoint is available\n', { ...cors, 'Retry-After': '5' });
    }
    const body = render(endpoints);
    response.writeHead(200, {
      ...cors,
      'Content-Type': type,
      'Content-Length': Buffer.byteLength(body),
      // The answer depends on the Host header and, in a cluster, on the nodes' load at this moment.
      'Cache-Control': 'no-cache',
      Vary: 'Host, X-Forwarded-Host, X-Forwarded-Proto, X-Forwarded-For, Forwarded',
      'X-Content-Type-Options': 'nosniff',
    });
    response.end(method === 'HEAD' ? undefined : body);
  };
  return {
    xrd: (request, response) => serve(request, response, 'application/xrd+xml; charset=utf-8', renderXrd),
    jrd: (request, response) => serve(request, response, 'application/json; charset=utf-8', renderJrd),
  };
}

function plain(response: ServerResponse, status: number, body: string, headers: Record<string, string>): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
  response.end(body);
}

function firstValue(header: string | string[] | undefined): string | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  const first = raw?.split(',')[0]?.trim();
  return first ? first : undefined;
}

/** host or host:port (IPv6 in brackets), nothing else: no user info, path or spaces. */
const HOST_SYNTAX = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

function normaliseHost(value: string, secure: boolean): string | undefined {
  if (!HOST_SYNTAX.test(value)) return undefined;
  try {
    return new URL(`${secure ? 'https' : 'http'}://${value}/`).host || undefined;
  } catch {
    return undefined;
  }
}
