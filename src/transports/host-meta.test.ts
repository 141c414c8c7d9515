// XEP-0156 v1.4.0 §2 (HTTP lookup method) against a real server over raw HTTP: the XRD and JRD
// documents of §2.3's examples, their CORS headers, the URLs derived from Host and (from trusted
// peers only) X-Forwarded-*, configured public URLs, and an injected provider as a cluster would use.
import assert from 'node:assert/strict';
import http from 'node:http';
import { DOMParser } from '@xmldom/xmldom';
import { createLogger } from '../observability/log.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { NS } from '../xml/ns.js';
import { createHostMeta, endpointsFromLeastLoaded, endpointsFromRequest, renderJrd, renderXrd, requestOrigin, UnknownHostError, type RequestView } from './host-meta.js';
import { ClientOriginRule } from './client-origin.js';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP/1.1 request with exactly the headers given (fetch would not let us set Host). */
function request(port: number, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

interface Link {
  rel: string;
  href: string;
}

/** The <Link/> children of an XRD document, checked to be XRD 1.0 (RFC 6415 §3). */
function xrdLinks(body: string): Link[] {
  const doc = new DOMParser().parseFromString(body, 'text/xml');
  const root = doc.documentElement;
  assert.ok(root, 'the body is an XML document');
  assert.equal(root.localName, 'XRD');
  assert.equal(root.namespaceURI, NS.xrd);
  const links: Link[] = [];
  for (let i = 0; i < root.children.length; i++) {
    const element = root.children.item(i);
    assert.ok(element);
    assert.equal(element.localName, 'Link');
    assert.equal(element.namespaceURI, NS.xrd);
    links.push({ rel: element.getAttribute('rel') ?? '', href: element.getAttribute('href') ?? '' });
  }
  return links;
}

function jrdLinks(body: string): Link[] {
  const parsed: unknown = JSON.parse(body);
  assert.ok(parsed && typeof parsed === 'object' && 'links' in parsed && Array.isArray(parsed.links), 'a JRD object with links');
  return (parsed.links as unknown[]).map((link) => {
    assert.ok(link && typeof link === 'object' && 'rel' in link && 'href' in link);
    return { rel: String(link.rel), href: String(link.href) };
  });
}

const byRel = (links: Link[]): Record<string, string> => Object.fromEntries(links.map((l) => [l.rel, l.href]));

describe('XEP-0156 host-meta', function () {
  describe('on a running server', function () {
    let server: TestServer;
    let port: number;

    before(async function () {
      server = await startTestServer();
      port = server.ports.http;
    });

    after(async function () {
      await server?.stop();
    });

    it('§2.3 Example 1: /.well-known/host-meta is XRD listing the xbosh and websocket links of this server', async function () {
      const res = await request(port, '/.well-known/host-meta');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/xrd+xml; charset=utf-8');
      assert.equal(res.headers['access-control-allow-origin'], '*');
      assert.match(res.body, /^<\?xml version='1.0' encoding='utf-8'\?>\n<XRD /);
      assert.deepEqual(byRel(xrdLinks(res.body)), {
        [NS.altConnectionsXbosh]: `http://127.0.0.1:${port}/http-bind`,
        [NS.altConnectionsWebsocket]: `ws://127.0.0.1:${port}/xmpp-websocket`,
      });
    });

    it('§2.3 Example 2: /.well-known/host-meta.json is the same in JRD (RFC 6415 Appendix A)', async function () {
      const res = await request(port, '/.well-known/host-meta.json');
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(res.headers['access-control-allow-origin'], '*');
      assert.deepEqual(jrdLinks(res.body), [
        { rel: NS.altConnectionsXbosh, href: `http://127.0.0.1:${port}/http-bind` },
        { rel: NS.altConnectionsWebsocket, href: `ws://127.0.0.1:${port}/xmpp-websocket` },
      ]);
    });

    it('the advertised URLs actually serve: BOSH answers at the xbosh href, WebSocket asks for an upgrade at the websocket href', async function () {
      const links = byRel(jrdLinks((await request(port, '/.well-known/host-meta.json')).body));
      const bosh = new URL(links[NS.altConnectionsXbosh] ?? '');
      const websocket = new URL(links[NS.altConnectionsWebsocket] ?? '');
      const boshGet = await request(Number(bosh.port), bosh.pathname);
      assert.notEqual(boshGet.status, 404);
      const wsGet = await request(Number(websocket.port), websocket.pathname);
      assert.equal(wsGet.status, 426);
    });

    it('uses the Host header the client sent, port included', async function () {
      const res = await request(port, '/.well-known/host-meta', { headers: { Host: 'Chat.Example.org:8080' } });
      assert.deepEqual(byRel(xrdLinks(res.body)), {
        [NS.altConnectionsXbosh]: 'http://chat.example.org:8080/http-bind',
        [NS.altConnectionsWebsocket]: 'ws://chat.example.org:8080/xmpp-websocket',
      });
    });

    it('behind a proxy on loopback, X-Forwarded-Proto and X-Forwarded-Host give https and wss URLs', async function () {
      const res = await request(port, '/.well-known/host-meta.json', {
        headers: { Host: '127.0.0.1', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'chat.example.org, inner.example' },
      });
      assert.deepEqual(byRel(jrdLinks(res.body)), {
        [NS.altConnectionsXbosh]: 'https://chat.example.org/http-bind',
        [NS.altConnectionsWebsocket]: 'wss://chat.example.org/xmpp-websocket',
      });
    });

    it('HEAD has the headers and no body', async function () {
      const res = await request(port, '/.well-known/host-meta', { method: 'HEAD' });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/xrd+xml; charset=utf-8');
      assert.ok(Number(res.headers['content-length']) > 0);
      assert.equal(res.body, '');
    });

    it('answers a CORS preflight from a web client on another origin', async function () {
      const res = await request(port, '/.well-known/host-meta.json', {
        method: 'OPTIONS',
        headers: { Origin: 'https://web.example.com', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'accept' },
      });
      assert.equal(res.status, 204);
      assert.equal(res.headers['access-control-allow-origin'], '*');
      assert.match(String(res.headers['access-control-allow-methods']), /GET/);
      assert.equal(res.headers['access-control-allow-headers'], 'accept');
    });

    it('other methods are 405 with Allow', async function () {
      const res = await request(port, '/.well-known/host-meta', { method: 'POST' });
      assert.equal(res.status, 405);
      assert.equal(res.headers.allow, 'GET, HEAD, OPTIONS');
    });

    it('a Host header that is not a host name is 400, never echoed into the document', async function () {
      for (const host of ['evil.example/path', 'user@evil.example', 'a b', 'host:99999', '"><x']) {
        const res = await request(port, '/.well-known/host-meta', { headers: { Host: host } });
        assert.equal(res.status, 400, `Host: ${host}`);
        assert.doesNotMatch(res.body, /evil|<x/);
      }
    });
  });

  describe('with public URLs configured', function () {
    let server: TestServer;

    before(async function () {
      server = await startTestServer({ http: { publicWebsocketUrl: 'wss://xmpp.example.net/ws', publicBoshUrl: 'https://xmpp.example.net/bosh' } });
    });

    after(async function () {
      await server?.stop();
    });

    it('advertises them whatever the request says', async function () {
      const res = await request(server.ports.http, '/.well-known/host-meta', { headers: { Host: 'other.example' } });
      assert.deepEqual(byRel(xrdLinks(res.body)), {
        [NS.altConnectionsXbosh]: 'https://xmpp.example.net/bosh',
        [NS.altConnectionsWebsocket]: 'wss://xmpp.example.net/ws',
      });
    });
  });

  describe('URL derivation', function () {
    const view = (remoteAddress: string, headers: Record<string, string>, encrypted?: boolean): RequestView => ({
      headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
      socket: encrypted === undefined ? { remoteAddress } : { remoteAddress, encrypted },
    });
    // The transports' own rule, with one trusted proxy and no loopback (so '::1' below is just a peer).
    const rule = new ClientOriginRule(['10.0.0.5']);
    const originOf = rule.ofRequest.bind(rule);
    const provider = endpointsFromRequest({ websocketPath: '/xmpp-websocket', boshPath: '/http-bind', originOf });

    it('ignores X-Forwarded-* from a peer that is not a trusted proxy', async function () {
      const endpoints = await provider(view('203.0.113.9', { host: 'xmpp.example.org', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' }));
      assert.deepEqual(endpoints, { websocket: 'ws://xmpp.example.org/xmpp-websocket', bosh: 'http://xmpp.example.org/http-bind' });
    });

    it('honours X-Forwarded-* from a trusted proxy, and drops the scheme default port', async function () {
      const endpoints = await provider(view('10.0.0.5', { host: 'backend:5280', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'xmpp.example.org:443' }));
      assert.deepEqual(endpoints, { websocket: 'wss://xmpp.example.org/xmpp-websocket', bosh: 'https://xmpp.example.org/http-bind' });
    });

    it('falls back to Host when a trusted proxy sends an unusable X-Forwarded-Host', function () {
      assert.deepEqual(requestOrigin(view('10.0.0.5', { host: 'xmpp.example.org', 'x-forwarded-host': 'bad/host' }), originOf), { secure: false, host: 'xmpp.example.org' });
    });

    it('a TLS socket makes the URLs secure; IPv6 hosts keep their brackets', function () {
      assert.deepEqual(requestOrigin(view('2001:db8::9', { host: '[2001:db8::1]:5443' }, true), originOf), { secure: true, host: '[2001:db8::1]:5443' });
    });

    it('no Host header at all is an UnknownHostError, unless both URLs are configured', async function () {
      assert.throws(() => provider(view('203.0.113.9', {})), UnknownHostError);
      const configured = endpointsFromRequest({ websocketPath: '/w', boshPath: '/b', originOf, publicWebsocketUrl: 'wss://a.example/w', publicBoshUrl: 'https://a.example/b' });
      assert.deepEqual(await configured(view('203.0.113.9', {})), { websocket: 'wss://a.example/w', bosh: 'https://a.example/b' });
    });

    it('one configured URL, the other derived', async function () {
      const half = endpointsFromRequest({ websocketPath: '/xmpp-websocket', boshPath: '/http-bind', originOf, publicWebsocketUrl: 'wss://ws.example.org/xmpp' });
      assert.deepEqual(await half(view('203.0.113.9', { host: 'xmpp.example.org' })), { websocket: 'wss://ws.example.org/xmpp', bosh: 'http://xmpp.example.org/http-bind' });
    });

    it('renders only the links it has, escaping attribute values', function () {
      assert.deepEqual(xrdLinks(renderXrd({ websocket: 'wss://a.example/x?a=1&b="2"' })), [{ rel: NS.altConnectionsWebsocket, href: 'wss://a.example/x?a=1&b="2"' }]);
      assert.deepEqual(jrdLinks(renderJrd({})), []);
    });
  });

  describe('with an injected provider (as a cluster plugs in its node registry)', function () {
    let httpServer: http.Server;
    let port: number;
    let answer: () => Promise<{ websocket?: string; bosh?: string }>;

    before(async function () {
      const hostMeta = createHostMeta({ log: createLogger('silent'), endpointsFor: () => answer() });
      httpServer = http.createServer((req, res) => void (req.url === '/.well-known/host-meta' ? hostMeta.xrd(req, res) : hostMeta.jrd(req, res)));
      await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
      const address = httpServer.address();
      port = typeof address === 'object' && address ? address.port : 0;
    });

    after(async function () {
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
    });

    it('lists whatever node the provider names', async function () {
      answer = async () => ({ websocket: 'wss://node-2.example.org/xmpp-websocket', bosh: 'https://node-2.example.org/http-bind' });
      const res = await request(port, '/.well-known/host-meta.json');
      assert.deepEqual(byRel(jrdLinks(res.body)), {
        [NS.altConnectionsXbosh]: 'https://node-2.example.org/http-bind',
        [NS.altConnectionsWebsocket]: 'wss://node-2.example.org/xmpp-websocket',
      });
    });

    it('endpointsFromLeastLoaded names the least-loaded node, and this node when the registry has none or fails', async function () {
      const own = () => ({ websocket: 'ws://self.example/xmpp-websocket', bosh: 'http://self.example/http-bind' });
      let registry: () => Promise<{ websocketUrl?: string; boshUrl?: string } | undefined> = async () => ({ websocketUrl: 'wss://node-3.example/xmpp-websocket', boshUrl: 'https://node-3.example/http-bind' });
      answer = async () => endpointsFromLeastLoaded(() => registry(), own)({ headers: {}, socket: {} });
      assert.deepEqual(byRel(jrdLinks((await request(port, '/.well-known/host-meta.json')).body)), {
        [NS.altConnectionsXbosh]: 'https://node-3.example/http-bind',
        [NS.altConnectionsWebsocket]: 'wss://node-3.example/xmpp-websocket',
      });
      registry = async () => ({ websocketUrl: 'wss://node-4.example/xmpp-websocket' });
      assert.deepEqual(jrdLinks((await request(port, '/.well-known/host-meta.json')).body), [{ rel: NS.altConnectionsWebsocket, href: 'wss://node-4.example/xmpp-websocket' }]);
      for (const broken of [async () => undefined, async () => ({}), async () => Promise.reject(new Error('Redis is down'))]) {
        registry = broken;
        assert.deepEqual(byRel(xrdLinks((await request(port, '/.well-known/host-meta')).body)), {
          [NS.altConnectionsXbosh]: 'http://self.example/http-bind',
          [NS.altConnectionsWebsocket]: 'ws://self.example/xmpp-websocket',
        });
      }
    });

    it('a provider that fails is 503 with Retry-After, not a crash', async function () {
      answer = async () => {
        throw new Error('no live node');
      };
      const res = await request(port, '/.well-known/host-meta');
      assert.equal(res.status, 503);
      assert.equal(res.headers['retry-after'], '5');
      assert.equal(res.headers['access-control-allow-origin'], '*');
    });
  });
});
