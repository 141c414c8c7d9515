// GET /metrics on the HTTP port: the Prometheus text exposition, for operators only. The client address is
// the one the origin rule believes (client-origin.ts: a trusted proxy's X-Forwarded-For counts), and it
// must be in the allow list (loopback unless [metrics] allow says more); anyone else gets 403.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientOrigin } from '../transports/client-origin.js';
import type { ServerMetrics } from './metrics.js';

export interface MetricsEndpointOptions {
  metrics: ServerMetrics;
  originOf: (request: IncomingMessage) => ClientOrigin;
  allowed: (address: string) => boolean;
}

export function metricsEndpoint(options: MetricsEndpointOptions): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  return async (request, response) => {
    const reply = (status: number, body: string, headers: Record<string, string>): void => {
      response.writeHead(status, { 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...headers });
      response.end(body);
    };
    const text = { 'Content-Type': 'text/plain; charset=utf-8' };
    if (!options.allowed(options.originOf(request).remoteAddress)) return reply(403, 'Forbidden: /metrics is open to the addresses in [metrics] allow\n', text);
    if (request.method !== 'GET' && request.method !== 'HEAD') return reply(405, 'Method not allowed\n', { ...text, Allow: 'GET, HEAD' });
    const { contentType, body } = await options.metrics.exposition();
    // Node sends no body in answer to HEAD, with the headers of the GET.
    reply(200, body, { 'Content-Type': contentType });
  };
}
