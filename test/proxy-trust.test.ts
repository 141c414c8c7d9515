// Issue 13, items 1 and 2: who counts as secure behind a proxy, and which address is the client's.
// Real servers on loopback, real clients (@xmpp/client, ws, raw sockets) sent through a tiny proxy
// (support/test-proxy.ts) that connects from a chosen loopback address:
//   127.0.0.2  the reverse proxy listed in http.trusted_proxies (adds X-Forwarded-* as a test asks)
//   127.0.0.3  an ordinary client that is no proxy, sending whatever headers it likes
//   127.0.0.4  the load balancer listed in c2s/http.proxy_protocol_from (starts with a PROXY header)
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { client } from '@xmpp/client';
import { WebSocket } from 'ws';
import { boshPost, HTTPBIND, XBOSH } from './support/bosh.js';
import './support/clients.js';
import { connectStrophe } from './support/strophe.js';
import { inet4, sslTlv, v2 } from './support/proxy-header.js';
import { startTestServer, type TestServer } from './support/server.js';
import { startTestProxy, type TestProxy, type TestProxyOptions } from './support/test-proxy.js';

const PROXY = '127.0.0.2';
const STRANGER = '127.0.0.3';
const BALANCER = '127.0.0.4';
const STREAM = `<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;

const proxies: TestProxy[] = [];
async function via(options: TestProxyOptions): Promise<number> {
  const proxy = await startTestProxy(options);
  proxies.push(proxy);
  return proxy.port;
}

/** Logs in with @xmpp/client; resolves with the node's session address, rejects when the login fails. */
async function login(server: TestServer, service: string, timeoutMs = 15000): Promise<string> {
  const xmpp = client({ service, domain: 'localhost', username: 'alice', password: 'secret', resource: `r${Math.random().toString(36).slice(2)}` });
  xmpp.reconnect.stop();
  xmpp.on('error', () => undefined);
  try {
    const jid = await Promise.race([xmpp.start(), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('login timed out')), timeoutMs))]);
    const session = server.server.sessions.get(jid.toString());
    assert.ok(session, 'the node holds the session');
    return session.remoteAddress;
  } finally {
    await xmpp.stop().catch(() => undefined);
  }
}

/** The stream features a WebSocket client gets (RFC 7395). */
function websocketFeatures(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/xmpp-websocket`, ['xmpp']);
    const timer = setTimeout(() => reject(new Error('no features')), 5000);
    ws.on('open', () => ws.send(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"/>`));
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      if (!text.includes('features')) return;
      clearTimeout(timer);
      ws.terminate();
      resolve(text);
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

const offersLogin = (features: string): boolean => /<mechanism>/.test(features);

/** Bytes written from `localAddress`; resolves with what came back once the node closed or went quiet. */
function rawExchange(port: number, localAddress: string, data: Buffer | string, quietMs = 1500): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    let text = '';
    let timer = setTimeout(() => done(false), quietMs);
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed });
    };
    socket.on('connect', () => socket.write(data));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      clearTimeout(timer);
      timer = setTimeout(() => done(false), quietMs);
    });
    socket.on('close', () => done(true));
    socket.on('error', () => undefined);
  });
}

function hostMetaWebsocketUrl(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/.well-known/host-meta.json', headers: { Host: 'chat.example.org' }, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          const links = (JSON.parse(body) as { links: { rel: string; href: string }[] }).links;
          const ws = links.find((l) => l.rel === 'urn:xmpp:alt-connections:websocket');
          if (!ws) return reject(new Error(body));
          resolve(ws.href);
        });
      })
      .on('error', reject);
  });
}

const v1Header = (source: string): Buffer => Buffer.from(`PROXY TCP4 ${source} 192.0.2.1 40000 5222\r\n`, 'latin1');

describe('proxy trust: what counts as secure, and the real client address (issue 13)', function () {
  this.timeout(60_000);
  /** require_tls on: a login needs a secure path. */
  let strict: TestServer;
  /** require_tls off: every login works, so the session shows the address the node believed. */
  let lenient: TestServer;

  before(async function () {
    const proxyConfig = {
      http: { trustedProxies: [PROXY], proxyProtocolFrom: [BALANCER] },
      c2s: { proxyProtocolFrom: [BALANCER] },
    };
    strict = await startTestServer({ ...proxyConfig, c2s: { ...proxyConfig.c2s, requireTls: true } });
    lenient = await startTestServer({ ...proxyConfig, c2s: { ...proxyConfig.c2s, requireTls: false } });
    for (const s of [strict, lenient]) await s.addUser('alice', 'secret');
  });

  afterEach(async function () {
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });

  after(async function () {
    await strict?.stop();
    await lenient?.stop();
  });

  describe('WebSocket and BOSH behind a trusted reverse proxy', function () {
    it('a plaintext WebSocket login through the proxy is refused without X-Forwarded-Proto: https, and works with it', async function () {
      const plain = await via({ targetPort: strict.ports.http, localAddress: PROXY, headers: { 'X-Forwarded-For': '198.51.100.7' } });
      assert.equal(offersLogin(await websocketFeatures(plain)), false, 'no SASL mechanism over a path the proxy did not call https');
      await assert.rejects(login(strict, `ws://127.0.0.1:${plain}/xmpp-websocket`, 3000));
      const saysHttp = await via({ targetPort: strict.ports.http, localAddress: PROXY, headers: { 'X-Forwarded-For': '198.51.100.7', 'X-Forwarded-Proto': 'http' } });
      assert.equal(offersLogin(await websocketFeatures(saysHttp)), false);

      const https = await via({ targetPort: strict.ports.http, localAddress: PROXY, headers: { 'X-Forwarded-For': '198.51.100.7', 'X-Forwarded-Proto': 'https' } });
      assert.equal(offersLogin(await websocketFeatures(https)), true);
      assert.equal(await login(strict, `ws://127.0.0.1:${https}/xmpp-websocket`), '198.51.100.7');
      // RFC 7239's header does the same.
      const forwarded = await via({ targetPort: strict.ports.http, localAddress: PROXY, headers: { Forwarded: 'for="[2001:db8::7]:4711";proto=https' } });
      assert.equal(await login(strict, `ws://127.0.0.1:${forwarded}/xmpp-websocket`), '2001:db8::7');
    });

    it('BOSH follows the same rule: mechanisms only when the proxy says https', async function () {
      const create = `<body rid='1000' to='localhost' xml:lang='en' wait='1' hold='1' ver='1.6' xmlns='${HTTPBIND}' xmlns:xmpp='${XBOSH}' xmpp:version='1.0'/>`;
      const features = async (headers: Record<string, string>): Promise<string> => {
        const port = await via({ targetPort: strict.ports.http, localAddress: PROXY, headers });
        return (await boshPost({ ports: { http: port } } as TestServer, create)).text;
      };
      assert.equal(offersLogin(await features({ 'X-Forwarded-For': '198.51.100.7' })), false);
      assert.equal(offersLogin(await features({ 'X-Forwarded-For': '198.51.100.7', 'X-Forwarded-Proto': 'https' })), true);
    });

    it('a BOSH session (Strophe.js) through the proxy has the client\'s address, and is secure when the proxy says https', async function () {
      const port = await via({ targetPort: strict.ports.http, localAddress: PROXY, headers: { 'X-Forwarded-For': '6.6.6.6, 198.51.100.12', 'X-Forwarded-Proto': 'https' } });
      const bosh = await connectStrophe({ ports: { http: port }, domain: 'localhost' } as TestServer, { transport: 'bosh', username: 'alice', password: 'secret', service: `http://127.0.0.1:${port}/http-bind`, wait: 2 });
      try {
        const session = strict.server.sessions.get(bosh.jid);
        assert.equal(session?.remoteAddress, '198.51.100.12');
        assert.equal(session?.transport, 'bosh');
      } finally {
        await bosh.stop();
      }
    });

    it('X-Forwarded-* from a peer that is no trusted proxy are ignored; a trusted proxy\'s count, right-most untrusted entry first', async function () {
      const stranger = await via({ targetPort: lenient.ports.http, localAddress: STRANGER, headers: { 'X-Forwarded-For': '203.0.113.66', 'X-Forwarded-Proto': 'https' } });
      assert.equal(await login(lenient, `ws://127.0.0.1:${stranger}/xmpp-websocket`), STRANGER, 'the spoofed address is ignored');
      const strangerStrict = await via({ targetPort: strict.ports.http, localAddress: STRANGER, headers: { 'X-Forwarded-Proto': 'https' } });
      assert.equal(offersLogin(await websocketFeatures(strangerStrict)), false, 'its X-Forwarded-Proto is ignored too');

      // The client prepended a spoofed entry; the proxy appended the address it saw.
      const appended = await via({ targetPort: lenient.ports.http, localAddress: PROXY, headers: { 'X-Forwarded-For': `203.0.113.66, 198.51.100.7` } });
      assert.equal(await login(lenient, `ws://127.0.0.1:${appended}/xmpp-websocket`), '198.51.100.7');
      // Another trusted proxy on the way is skipped.
      const chained = await via({ targetPort: lenient.ports.http, localAddress: PROXY, headers: { 'X-Forwarded-For': `203.0.113.66, 198.51.100.8, ${PROXY}` } });
      assert.equal(await login(lenient, `ws://127.0.0.1:${chained}/xmpp-websocket`), '198.51.100.8');
    });

    it('a direct loopback client without forwarding headers is secure; with them it is a proxy and follows the proxy rule', async function () {
      assert.equal(offersLogin(await websocketFeatures(strict.ports.http)), true, 'someone on this machine');
      const local = await via({ targetPort: strict.ports.http, localAddress: STRANGER });
      assert.equal(offersLogin(await websocketFeatures(local)), true, 'any loopback address, no headers');
      const relaying = await via({ targetPort: strict.ports.http, localAddress: STRANGER, headers: { 'X-Forwarded-For': '198.51.100.9' } });
      assert.equal(offersLogin(await websocketFeatures(relaying)), false);
    });
  });

  describe('host-meta and the transports agree', function () {
    it('advertises wss:// exactly when a WebSocket client on the same path is offered a login', async function () {
      const paths: [string, TestProxyOptions | undefined][] = [
        ['direct loopback', undefined],
        ['trusted proxy, no scheme', { targetPort: strict.ports.http, localAddress: PROXY, headers: { 'X-Forwarded-For': '198.51.100.7' } }],
        ['trusted proxy, https', { targetPort: strict.ports.http, localAddress: PROXY, headers: { 'X-Forwarded-For': '198.51.100.7', 'X-Forwarded-Proto': 'https' } }],
        ['trusted proxy, Forwarded proto=https', { targetPort: strict.ports.http, localAddress: PROXY, headers: { Forwarded: 'for=198.51.100.7;proto=https' } }],
        ['trusted proxy, the two headers disagree', { targetPort: strict.ports.http, localAddress: PROXY, headers: { Forwarded: 'for=198.51.100.7;proto=https', 'X-Forwarded-Proto': 'http' } }],
        ['untrusted peer claiming https', { targetPort: strict.ports.http, localAddress: STRANGER, headers: { 'X-Forwarded-Proto': 'https' } }],
        ['PROXY v2 with the TLS flag', { targetPort: strict.ports.http, localAddress: BALANCER, prefix: v2(1, 0x11, inet4('198.51.100.7', '192.0.2.1', 1, 443), [sslTlv(1)]) }],
        ['PROXY v1', { targetPort: strict.ports.http, localAddress: BALANCER, prefix: v1Header('198.51.100.7') }],
      ];
      const seen: string[] = [];
      for (const [what, options] of paths) {
        const port = options ? await via(options) : strict.ports.http;
        const advertised = (await hostMetaWebsocketUrl(port)).startsWith('wss://');
        const offered = offersLogin(await websocketFeatures(port));
        if (what === 'direct loopback') {
          // The one documented difference: secure (nobody can sniff loopback) yet plain HTTP, so ws://.
          assert.deepEqual([advertised, offered], [false, true]);
        } else {
          assert.equal(advertised, offered, `${what}: host-meta says ${advertised ? 'wss' : 'ws'}, the WebSocket ${offered ? 'offers' : 'does not offer'} a login`);
        }
        seen.push(`${what}: ${offered}`);
      }
      // Both outcomes occur, so the agreement is not vacuous.
      assert.deepEqual(seen, [
        'direct loopback: true',
        'trusted proxy, no scheme: false',
        'trusted proxy, https: true',
        'trusted proxy, Forwarded proto=https: true',
        'trusted proxy, the two headers disagree: false',
        'untrusted peer claiming https: false',
        'PROXY v2 with the TLS flag: true',
        'PROXY v1: false',
      ]);
    });
  });

  describe('the PROXY protocol on the TCP listeners', function () {
    it('v1 on 5222 from a listed balancer: the session has the client\'s address', async function () {
      const port = await via({ targetPort: lenient.ports.c2s, localAddress: BALANCER, prefix: v1Header('192.0.2.77') });
      assert.equal(await login(lenient, `xmpp://127.0.0.1:${port}`), '192.0.2.77');
    });

    it('v2 on 5223, before the TLS handshake: the session has the client\'s address', async function () {
      const port = await via({ targetPort: lenient.ports.c2sTls, localAddress: BALANCER, prefix: v2(1, 0x11, inet4('192.0.2.78', '192.0.2.1', 40000, 5223)) });
      assert.equal(await login(lenient, `xmpps://127.0.0.1:${port}`), '192.0.2.78');
    });

    it('v2 with PP2_CLIENT_SSL (the balancer ended TLS, send-proxy-v2-ssl) makes 5222 secure: no STARTTLS, login offered', async function () {
      const header = (tls: boolean): Buffer => v2(1, 0x11, inet4('192.0.2.79', '192.0.2.1', 40000, 5223), tls ? [sslTlv(1)] : []);
      const withFlag = await rawExchange(strict.ports.c2s, BALANCER, Buffer.concat([header(true), Buffer.from(STREAM)]));
      assert.doesNotMatch(withFlag.text, /starttls/, withFlag.text);
      assert.ok(offersLogin(withFlag.text), withFlag.text);
      const without = await rawExchange(strict.ports.c2s, BALANCER, Buffer.concat([header(false), Buffer.from(STREAM)]));
      assert.match(without.text, /<starttls[^>]*><required\/>/, without.text);
      assert.equal(offersLogin(without.text), false, without.text);
      const port = await via({ targetPort: strict.ports.c2s, localAddress: BALANCER, prefix: header(true) });
      assert.equal(await login(strict, `xmpp://127.0.0.1:${port}`), '192.0.2.79');
    });

    it('a listed balancer that sends no valid header is disconnected without a stream', async function () {
      for (const data of [STREAM, 'PROXY TCP4 1.2.3.4\n', Buffer.concat([Buffer.from('\r\n\r\n\0\r\nQUIX\n'), Buffer.from(STREAM)])]) {
        const reply = await rawExchange(lenient.ports.c2s, BALANCER, data);
        assert.deepEqual(reply, { text: '', closed: true }, String(data));
      }
    });

    it('from an address that is not listed, a PROXY header is garbage: a stream error on 5222, a failed handshake on 5223', async function () {
      const v1 = await rawExchange(lenient.ports.c2s, STRANGER, Buffer.concat([v1Header('192.0.2.80'), Buffer.from(STREAM)]));
      assert.match(v1.text, /<stream:error>.*not-well-formed/s, v1.text);
      const binary = await rawExchange(lenient.ports.c2s, STRANGER, Buffer.concat([v2(1, 0x11, inet4('192.0.2.80', '192.0.2.1', 1, 2)), Buffer.from(STREAM)]));
      assert.match(binary.text, /<stream:error>/, binary.text);
      const tls = await rawExchange(lenient.ports.c2sTls, STRANGER, v1Header('192.0.2.80'));
      assert.equal(tls.closed, true);
      assert.doesNotMatch(tls.text, /stream/);
    });
  });

  describe('the PROXY protocol on the HTTP listener', function () {
    it('v2 with the TLS flag: a WebSocket login works on require_tls, with the client\'s address', async function () {
      const port = await via({ targetPort: strict.ports.http, localAddress: BALANCER, prefix: v2(1, 0x11, inet4('192.0.2.81', '192.0.2.1', 40000, 443), [sslTlv(1)]) });
      assert.equal(await login(strict, `ws://127.0.0.1:${port}/xmpp-websocket`), '192.0.2.81');
    });

    it('v1 names the client but says nothing of TLS; X-Forwarded-Proto from that (untrusted) client is not believed', async function () {
      const port = await via({ targetPort: lenient.ports.http, localAddress: BALANCER, prefix: v1Header('192.0.2.82'), headers: { 'X-Forwarded-For': '203.0.113.1' } });
      assert.equal(await login(lenient, `ws://127.0.0.1:${port}/xmpp-websocket`), '192.0.2.82');
      const strictPort = await via({ targetPort: strict.ports.http, localAddress: BALANCER, prefix: v1Header('192.0.2.82'), headers: { 'X-Forwarded-Proto': 'https' } });
      assert.equal(offersLogin(await websocketFeatures(strictPort)), false);
    });

    it('a listed balancer without a valid header is disconnected; from elsewhere a PROXY header is a 400', async function () {
      const request = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
      assert.match((await rawExchange(lenient.ports.http, STRANGER, request)).text, /^HTTP\/1\.1 200/, 'positive control: the request itself is fine');
      assert.deepEqual(await rawExchange(lenient.ports.http, BALANCER, request), { text: '', closed: true });
      assert.match((await rawExchange(lenient.ports.http, BALANCER, Buffer.concat([v1Header('192.0.2.83'), Buffer.from(request)]))).text, /^HTTP\/1\.1 200/);
      for (const header of [v1Header('192.0.2.83'), v2(1, 0x11, inet4('192.0.2.83', '192.0.2.1', 1, 2))]) {
        const reply = await rawExchange(lenient.ports.http, STRANGER, Buffer.concat([header, Buffer.from(request)]));
        assert.match(reply.text, /^HTTP\/1\.1 400/, reply.text);
      }
    });
  });
});
