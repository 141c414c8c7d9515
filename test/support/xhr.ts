// The part of the browser's XMLHttpRequest that Strophe's BOSH transport uses, on node:http, so
// Strophe can speak BOSH in Node (its Node entry only wires in a DOM and WebSocket). Each request
// is a real HTTP POST on a keep-alive agent, as a browser would send it.
import http from 'node:http';
import { DOMParser } from '@xmldom/xmldom';

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

class NodeXMLHttpRequest {
  readyState = 0;
  status = 0;
  responseText = '';
  responseXML: unknown = null;
  withCredentials = false;
  onreadystatechange: (() => void) | null = null;
  private method = 'GET';
  private url = '';
  private readonly headers: Record<string, string> = {};
  private responseHeaders: http.IncomingHttpHeaders = {};
  private request: http.ClientRequest | undefined;
  private aborted = false;

  open(method: string, url: string): void {
    this.method = method;
    this.url = url;
    this.readyState = 1;
    this.changed();
  }

  overrideMimeType(): void {}

  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value;
  }

  send(body?: string | null): void {
    const data = body ?? '';
    const request = http.request(this.url, { method: this.method, agent, headers: { ...this.headers, 'Content-Length': Buffer.byteLength(data) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        if (this.aborted) return;
        this.status = res.statusCode ?? 0;
        this.responseHeaders = res.headers;
        this.responseText = Buffer.concat(chunks).toString('utf8');
        this.responseXML = parseXml(this.responseText);
        this.readyState = 4;
        this.changed();
      });
      res.on('error', () => this.failed());
    });
    request.on('error', () => this.failed());
    this.request = request;
    request.end(data);
  }

  abort(): void {
    this.aborted = true;
    this.request?.destroy();
    this.readyState = 0;
  }

  getAllResponseHeaders(): string {
    return Object.entries(this.responseHeaders).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : (v ?? '')}`).join('\r\n');
  }

  getResponseHeader(name: string): string | null {
    const value = this.responseHeaders[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  }

  private failed(): void {
    if (this.aborted || this.readyState === 4) return;
    this.status = 0;
    this.readyState = 4;
    this.changed();
  }

  private changed(): void {
    this.onreadystatechange?.();
  }
}

function parseXml(text: string): unknown {
  if (text === '') return null;
  try {
    return new DOMParser().parseFromString(text, 'text/xml');
  } catch {
    return null;
  }
}

/** Installs the shim as the global XMLHttpRequest unless the runtime has one. */
export function installXmlHttpRequest(): void {
  const scope = globalThis as { XMLHttpRequest?: unknown };
  scope.XMLHttpRequest ??= NodeXMLHttpRequest;
}
