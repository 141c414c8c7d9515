// The web client at `/`: Converse.js (the npm package converse.js, served from its dist/ folder) set up
// for this server. The page names only relative URLs and lets the browser work out the WebSocket
// (RFC 7395) and BOSH (XEP-0206) endpoints from its own location, so it works unchanged behind a
// proxy; `/?transport=bosh` sets up BOSH alone, for networks that break WebSockets.
// Nothing is fetched from other hosts: assets come from /converse/, and a Content-Security-Policy
// keeps it that way.
import { randomBytes } from 'node:crypto';
import { createReadStream, readFileSync, realpathSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import type { Logger } from '../observability/log.js';

export const WEB_CLIENT_PATH = '/';
export const ASSETS_PREFIX = '/converse/';

export type WebTransport = 'websocket' | 'bosh';

export interface WebClientOptions {
  domain: string;
  /**
   * Whether a stream this browser opens over `transport` would be offered in-band registration (the XEP-0077 §4
   * stream feature), so Converse shows its sign-up form only when the server would take it.
   */
  registrationOffered(request: IncomingMessage, transport: WebTransport): Promise<boolean>;
  log: Logger;
  /** Converse's dist/ folder; found in node_modules when not given. */
  distDir?: string;
}

export interface WebClient {
  /** The Converse.js version served; also the cache-busting segment of asset URLs. */
  readonly version: string;
  page(request: IncomingMessage, response: ServerResponse): Promise<void>;
  assets(request: IncomingMessage, response: ServerResponse): Promise<void>;
}

/** Reads where Converse is installed (once, at start-up); undefined when the package is missing. */
export function createWebClient(options: WebClientOptions): WebClient | undefined {
  let distDir: string;
  let version: string;
  let realRoot: string;
  try {
    distDir = options.distDir ?? dirname(createRequire(import.meta.url).resolve('converse.js/dist/converse.min.js'));
    const pkg: unknown = JSON.parse(readFileSync(join(distDir, '..', 'package.json'), 'utf8'));
    if (!pkg || typeof pkg !== 'object' || !('version' in pkg) || typeof pkg.version !== 'string' || !/^[0-9A-Za-z.+-]+$/.test(pkg.version)) {
      throw new Error('converse.js/package.json has no usable version');
    }
    version = pkg.version;
    realRoot = realpathSync(distDir);
  } catch (err) {
    options.log.warn({ err }, 'web client: the converse.js package is not installed; `/` serves a plain text page');
    return undefined;
  }
  const root = resolve(distDir);

  return {
    version,
    async page(request, response) {
      const method = request.method ?? 'GET';
      if (method !== 'GET' && method !== 'HEAD') return plain(response, 405, 'Method not allowed\n', { Allow: 'GET, HEAD' });
      const transport = requestedTransport(request.url ?? '/');
      if (transport === undefined) return plain(response, 400, 'Bad request: transport must be "websocket" or "bosh"\n');
      const nonce = randomBytes(16).toString('base64');
      const allowRegistration = await options.registrationOffered(request, transport);
      const body = renderPage({ domain: options.domain, allowRegistration, transport, version, nonce });
      response.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': 'no-cache',
        'Content-Security-Policy': contentSecurityPolicy(nonce),
        'Referrer-Policy': 'no-referrer',
        'X-Content-Type-Options': 'nosniff',
      });
      response.end(method === 'HEAD' ? undefined : body);
    },
    async assets(request, response) {
      const method = request.method ?? 'GET';
      if (method !== 'GET' && method !== 'HEAD') return plain(response, 405, 'Method not allowed\n', { Allow: 'GET, HEAD' });
      const asset = locateAsset(root, request.url ?? '/', version);
      if (!asset) return notFound(response);
      let file: string;
      let size: number;
      let modified: Date;
      try {
        // realpath as well as resolve: a symbolic link inside dist/ must not lead out of it either.
        file = await realpath(asset.file);
        if (!file.startsWith(realRoot + sep)) return notFound(response);
        const info = await stat(file);
        if (!info.isFile()) return notFound(response);
        size = info.size;
        modified = info.mtime;
      } catch {
        return notFound(response);
      }
      const etag = `"${size.toString(16)}-${Math.floor(modified.getTime()).toString(16)}"`;
      const headers: Record<string, string | number> = {
        'Content-Type': contentType(file),
        // Versioned URLs change whenever the package does, so their content never changes.
        'Cache-Control': asset.versioned ? 'public, max-age=31536000, immutable' : 'no-cache',
        ETag: etag,
        'Last-Modified': modified.toUTCString(),
        'X-Content-Type-Options': 'nosniff',
      };
      if (request.headers['if-none-match'] === etag) {
        response.writeHead(304, headers);
        response.end();
        return;
      }
      response.writeHead(200, { ...headers, 'Content-Length': size });
      if (method === 'HEAD') {
        response.end();
        return;
      }
      const stream = createReadStream(file);
      stream.on('error', (err) => {
        options.log.warn({ err, file }, 'web client: reading an asset failed');
        response.destroy();
      });
      stream.pipe(response);
    },
  };
}

/** `?transport=` of the page URL: websocket when absent, undefined when it names something else. */
export function requestedTransport(url: string): WebTransport | undefined {
  const query = url.indexOf('?');
  const value = query === -1 ? null : new URLSearchParams(url.slice(query + 1)).get('transport');
  if (value === null || value === '' || value === 'websocket') return 'websocket';
  return value === 'bosh' ? 'bosh' : undefined;
}

/**
 * Maps /converse/<path> or /converse/<version>/<path> onto a file path inside root, or undefined when
 * the path is malformed or would leave root.
 */
export function locateAsset(root: string, url: string, version: string): { file: string; versioned: boolean } | undefined {
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  if (!path.startsWith(ASSETS_PREFIX)) return undefined;
  let relative: string;
  try {
    relative = decodeURIComponent(path.slice(ASSETS_PREFIX.length));
  } catch {
    return undefined;
  }
  if (relative.includes('\0') || relative.includes('\\')) return undefined;
  let versioned = false;
  if (relative.startsWith(`${version}/`)) {
    versioned = true;
    relative = relative.slice(version.length + 1);
  }
  if (relative === '' || relative.endsWith('/')) return undefined;
  const base = resolve(root);
  const file = resolve(base, relative);
  if (!file.startsWith(base + sep)) return undefined;
  return { file, versioned };
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
};

export function contentType(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'self'",
    // The inline module carries the settings; OMEMO's curve25519 is WebAssembly.
    `script-src 'self' 'nonce-${nonce}' 'wasm-unsafe-eval'`,
    "style-src 'self' 'unsafe-inline'",
    // Avatars arrive as data: URLs; image and media previews of links users send may be anywhere on https.
    "img-src 'self' data: blob: https:",
    "media-src 'self' data: blob: https:",
    "font-src 'self' data:",
    // 'self' covers ws(s):// on this origin; https: and wss: leave room for upload services elsewhere.
    "connect-src 'self' https: wss:",
    "worker-src 'self' blob:",
    "frame-src 'self' https:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'self'",
  ].join('; ');
}

interface PageSettings {
  domain: string;
  allowRegistration: boolean;
  transport: WebTransport;
  version: string;
  nonce: string;
}

/** JSON that is safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function renderPage(settings: PageSettings): string {
  const assets = `converse/${settings.version}/`;
  const server = { domain: settings.domain, allowRegistration: settings.allowRegistration, transport: settings.transport, assets };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chat on ${escapeHtml(settings.domain)}</title>
<link rel="icon" href="${assets}images/favicon.ico">
<link rel="stylesheet" href="${assets}converse.min.css">
<!-- Converse looks for its own <script src> to find the files it loads later (OMEMO's WebAssembly). -->
<script type="module" src="${assets}converse.min.js"></script>
</head>
<body class="converse-fullscreen">
<noscript>This chat client needs JavaScript. Any XMPP client can connect to ${escapeHtml(settings.domain)} instead.</noscript>
<script type="module" nonce="${settings.nonce}">
import converse from ${scriptJson(`./${assets}converse.min.js`)};

const server = ${scriptJson(server)};
// Endpoints relative to this page, so the page works on whatever origin (and path) a proxy gives it.
const here = new URL('.', location.href);
const websocket = new URL('xmpp-websocket', here);
websocket.protocol = here.protocol === 'https:' ? 'wss:' : 'ws:';
const bosh = new URL('http-bind', here);

// Converse's own footer shows sponsor logos from its website; this page loads nothing from elsewhere.
customElements.define('converse-footer', class extends HTMLElement {});

converse.initialize({
  assets_path: new URL(server.assets, here).href,
  authentication: 'login',
  auto_reconnect: true,
  ...(server.transport === 'websocket' ? { websocket_url: websocket.href } : {}),
  bosh_service_url: bosh.href,
  discover_connection_methods: false,
  view_mode: 'fullscreen',
  default_domain: server.domain,
  locked_domain: server.domain,
  allow_registration: server.allowRegistration,
  ...(server.allowRegistration ? { registration_domain: server.domain } : {}),
  use_system_emojis: true,
  xmpp_providers_url: '',
});
</script>
</body>
</html>
`;
}

function plain(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
  response.end(body);
}

function notFound(response: ServerResponse): void {
  plain(response, 404, 'Not found\n');
}
