// The web client's HTTP side, over raw HTTP against a real server: the page's settings, the transport
// switch, asset content types and caching, HEAD and conditional GET, and paths that try to leave
// Converse's dist/ folder. The browser itself is in test/web-client.test.ts.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../observability/log.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { contentType, createWebClient, locateAsset, requestedTransport, type WebClient } from './web-client.js';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Sends the path byte for byte (fetch would resolve the dot segments away). */
function request(port: number, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The settings object the page hands to its script. */
function pageSettings(html: string): Record<string, unknown> {
  const match = /const server = (\{.*\});/.exec(html);
  assert.ok(match?.[1], 'the page carries its settings');
  return JSON.parse(match[1]) as Record<string, unknown>;
}

describe('web client (HTTP)', function () {
  describe('on a running server', function () {
    let server: TestServer;
    let port: number;
    let version: string;

    before(async function () {
      server = await startTestServer({ domain: 'chat.example.org', registration: { allow: true } });
      port = server.ports.http;
      const client = createWebClient({ domain: 'x', registrationOffered: async () => false, log: createLogger('silent') });
      assert.ok(client, 'converse.js is installed');
      version = client.version;
    });

    after(async function () {
      await server?.stop();
    });

    it('GET / is the Converse page set up for this domain, registration and WebSocket, loading nothing from elsewhere', async function () {
      const res = await request(port, '/');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(res.headers['cache-control'], 'no-cache');
      const html = res.body.toString('utf8');
      assert.deepEqual(pageSettings(html), { domain: 'chat.example.org', allowRegistration: true, transport: 'websocket', assets: `converse/${version}/` });
      assert.match(html, new RegExp(`<script type="module" src="converse/${version.replace(/\./g, '\\.')}/converse\\.min\\.js">`));
      for (const setting of ["view_mode: 'fullscreen'", "authentication: 'login'", 'auto_reconnect: true', 'discover_connection_methods: false', 'locked_domain: server.domain', 'default_domain: server.domain']) {
        assert.ok(html.includes(setting), `the page sets ${setting}`);
      }
      assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'no asset from another host');
      const csp = String(res.headers['content-security-policy']);
      assert.match(csp, /default-src 'self'/);
      const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
      assert.ok(nonce && html.includes(`nonce="${nonce}"`), 'the inline script carries the policy nonce');
    });

    it('offers the sign-up form only where a stream from that browser would be offered registration (the XEP-0077 §4 feature)', async function () {
      const offered = async (headers: Record<string, string> = {}): Promise<unknown> => pageSettings((await request(port, '/', { headers })).body.toString('utf8')).allowRegistration;
      assert.equal(await offered(), true, 'a loopback browser counts as secure: the feature is offered (control)');
      // Through the trusted (loopback) proxy over plain http: not secure, and c2s.require_tls holds the feature back.
      assert.equal(await offered({ 'X-Forwarded-Proto': 'http', 'X-Forwarded-For': '192.0.2.7' }), false);
      const closed = await startTestServer({ domain: 'chat.example.org' });
      try {
        const res = await request(closed.ports.http, '/');
        assert.equal(pageSettings(res.body.toString('utf8')).allowRegistration, false, 'registration.allow = false: no form');
      } finally {
        await closed.stop();
      }
    });

    it('each page gets a fresh nonce', async function () {
      const a = String((await request(port, '/')).headers['content-security-policy']);
      const b = String((await request(port, '/')).headers['content-security-policy']);
      assert.notEqual(a, b);
    });

    it('/?transport=bosh sets up BOSH only; an unknown transport is 400', async function () {
      const res = await request(port, '/?transport=bosh');
      assert.equal(res.status, 200);
      assert.equal(pageSettings(res.body.toString('utf8')).transport, 'bosh');
      assert.equal((await request(port, '/?transport=carrier-pigeon')).status, 400);
    });

    it('HEAD / has the headers without a body; POST / is 405', async function () {
      const head = await request(port, '/', { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.ok(Number(head.headers['content-length']) > 0);
      assert.equal(head.body.length, 0);
      const post = await request(port, '/', { method: 'POST' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.allow, 'GET, HEAD');
    });

    it('serves converse.min.js under its version as immutable JavaScript, and answers If-None-Match with 304', async function () {
      const res = await request(port, `/converse/${version}/converse.min.js`);
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8');
      assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(Number(res.headers['content-length']), res.body.length);
      assert.ok(res.body.length > 100_000);
      const etag = String(res.headers.etag);
      const again = await request(port, `/converse/${version}/converse.min.js`, { headers: { 'If-None-Match': etag } });
      assert.equal(again.status, 304);
      assert.equal(again.body.length, 0);
    });

    it('serves the same files without the version segment, to be revalidated', async function () {
      const res = await request(port, '/converse/converse.min.css');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'text/css; charset=utf-8');
      assert.equal(res.headers['cache-control'], 'no-cache');
    });

    it('gives the lazily loaded files their types: locales, emojis, sounds, fonts, WebAssembly', async function () {
      const cases: [string, string][] = [
        [`/converse/${version}/chunkjs/locales/de-LC_MESSAGES-converse-po.js`, 'text/javascript; charset=utf-8'],
        [`/converse/${version}/emoji.json`, 'application/json; charset=utf-8'],
        [`/converse/${version}/sounds/msg_received.ogg`, 'audio/ogg'],
        [`/converse/${version}/webfonts/muli.ttf`, 'font/ttf'],
        [`/converse/${version}/curve25519_compiled.wasm`, 'application/wasm'],
        [`/converse/${version}/images/favicon.ico`, 'image/x-icon'],
      ];
      for (const [path, type] of cases) {
        const res = await request(port, path, { method: 'HEAD' });
        assert.equal(res.status, 200, path);
        assert.equal(res.headers['content-type'], type, path);
      }
    });

    it('never leaves dist/: dot segments, encoded ones, backslashes, NUL, directories and missing files are 404', async function () {
      const paths = [
        '/converse/../package.json',
        `/converse/${version}/../package.json`,
        `/converse/${version}/../../package.json`,
        '/converse/%2e%2e/package.json',
        '/converse/%2E%2E%2Fpackage.json',
        '/converse/..%2f..%2f..%2fpackage.json',
        '/converse/..%5cpackage.json',
        '/converse/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
        '/converse/converse.min.js%00.png',
        '/converse/%',
        '/converse/',
        '/converse/chunkjs',
        '/converse/chunkjs/',
        '/converse/no-such-file.js',
      ];
      for (const path of paths) {
        const res = await request(port, path);
        assert.equal(res.status, 404, path);
        assert.ok(!res.body.toString('utf8').includes('"name"'), `${path} leaked a file`);
      }
    });

    it('assets are GET and HEAD only', async function () {
      const res = await request(port, `/converse/${version}/converse.min.js`, { method: 'DELETE' });
      assert.equal(res.status, 405);
      assert.equal(res.headers.allow, 'GET, HEAD');
    });
  });

  describe('with a dist folder of our own', function () {
    let dir: string;
    let client: WebClient;
    let httpServer: http.Server;
    let port: number;

    before(async function () {
      dir = mkdtempSync(join(tmpdir(), 'ratatosk-web-'));
      mkdirSync(join(dir, 'pkg', 'dist'), { recursive: true });
      writeFileSync(join(dir, 'pkg', 'package.json'), JSON.stringify({ name: 'converse.js', version: '9.9.9' }));
      writeFileSync(join(dir, 'pkg', 'dist', 'converse.min.js'), 'export default {};\n');
      writeFileSync(join(dir, 'secret.txt'), 'not for the web\n');
      symlinkSync(join(dir, 'secret.txt'), join(dir, 'pkg', 'dist', 'link.txt'));
      const created = createWebClient({ domain: 'localhost', registrationOffered: async () => false, log: createLogger('silent'), distDir: join(dir, 'pkg', 'dist') });
      assert.ok(created);
      client = created;
      httpServer = http.createServer((req, res) => void (req.url?.startsWith('/converse/') ? client.assets(req, res) : client.page(req, res)));
      await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
      const address = httpServer.address();
      port = typeof address === 'object' && address ? address.port : 0;
    });

    after(async function () {
      httpServer?.closeAllConnections();
      await new Promise((resolve) => httpServer?.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    });

    it('takes the version from the package', async function () {
      assert.equal(client.version, '9.9.9');
      assert.equal((await request(port, '/converse/9.9.9/converse.min.js')).status, 200);
    });

    it('a symbolic link inside dist/ pointing outside it is 404', async function () {
      const res = await request(port, '/converse/9.9.9/link.txt');
      assert.equal(res.status, 404);
      assert.doesNotMatch(res.body.toString('utf8'), /not for the web/);
    });

    it('without the package there is no web client (main.ts then serves a text page)', function () {
      assert.equal(createWebClient({ domain: 'localhost', registrationOffered: async () => false, log: createLogger('silent'), distDir: join(dir, 'missing') }), undefined);
    });
  });

  describe('helpers', function () {
    it('requestedTransport: websocket by default, bosh on request, undefined for anything else', function () {
      assert.equal(requestedTransport('/'), 'websocket');
      assert.equal(requestedTransport('/?transport=websocket'), 'websocket');
      assert.equal(requestedTransport('/?lang=de&transport=bosh'), 'bosh');
      assert.equal(requestedTransport('/?transport=BOSH'), undefined);
    });

    it('locateAsset strips the version and refuses to leave the root', function () {
      assert.deepEqual(locateAsset('/srv/dist', '/converse/1.0.0/a/b.js?x=1', '1.0.0'), { file: '/srv/dist/a/b.js', versioned: true });
      assert.deepEqual(locateAsset('/srv/dist', '/converse/a.js', '1.0.0'), { file: '/srv/dist/a.js', versioned: false });
      assert.equal(locateAsset('/srv/dist', '/converse/1.0.0/../../x', '1.0.0'), undefined);
      assert.equal(locateAsset('/srv/dist', '/converse/%2e%2e/dist2/x', '1.0.0'), undefined);
      assert.equal(locateAsset('/srv/dist', '/elsewhere/a.js', '1.0.0'), undefined);
    });

    it('contentType falls back to octet-stream', function () {
      assert.equal(contentType('/x/y.map'), 'application/json; charset=utf-8');
      assert.equal(contentType('/x/README'), 'application/octet-stream');
    });
  });
});
