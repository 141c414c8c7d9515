// Where clients reach this node (published in the registry for discovery and for redirects), and the
// stream error that sends a client elsewhere when the node shuts down: RFC 6120 §4.9.3.19
// see-other-host with host:port on TCP, and on WebSocket the URL that websocket.ts puts in
// <close see-other-uri=.../> (RFC 7395 §3.6.1). BOSH gets system-shutdown: its redirect would be
// XEP-0124's see-other-uri terminate condition, which bosh-session.ts does not send.
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import type { Config } from '../config/types.js';
import { StreamError } from '../errors.js';
import type { TransportKind } from '../sessions/types.js';
import type { NodeEndpoints, NodeInfo } from './node-registry.js';

const WILDCARDS = new Set(['::', '0.0.0.0', '']);

export function nodeEndpoints(config: Config, ports: { c2s: number; c2sTls: number; http: number }): NodeEndpoints {
  const host = config.publicHost ?? (WILDCARDS.has(config.c2s.host) ? hostname() : config.c2s.host);
  const endpoints: NodeEndpoints = { host, c2sPort: ports.c2s, c2sTlsPort: ports.c2sTls, httpPort: ports.http };
  if (ports.http >= 0) {
    const base = `${hostForUrl(host)}:${ports.http}`;
    endpoints.websocketUrl = `ws://${base}/xmpp-websocket`;
    endpoints.boshUrl = `http://${base}/http-bind`;
  }
  return endpoints;
}

/** The stream error that ends a session at shutdown: a redirect to `elsewhere` when it can serve the client. */
export function shutdownError(kind: TransportKind, elsewhere: NodeInfo | undefined): StreamError {
  if (elsewhere) {
    if (kind === 'websocket' && elsewhere.websocketUrl) return new StreamError('see-other-host', 'this node is shutting down', elsewhere.websocketUrl);
    if (kind === 'tcp' && elsewhere.c2sPort > 0) return new StreamError('see-other-host', 'this node is shutting down', `${hostForUrl(elsewhere.host)}:${elsewhere.c2sPort}`);
  }
  return new StreamError('system-shutdown');
}

/** An IPv6 literal in brackets, as in URLs and in see-other-host (RFC 6120 §4.9.3.19). */
function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}
