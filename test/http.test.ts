// The HTTP port: health check, landing page, unknown paths, and the WebSocket endpoint asked
// for with a plain GET.
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from './support/server.js';

describe('HTTP endpoints', function () {
  let server: TestServer;
  let base: string;

  before(async function () {
    server = await startTestServer();
    base = `http://127.0.0.1:${server.ports.http}`;
  });

  after(async function () {
    await server?.stop();
  });

  it('GET /healthz is 200 with a JSON status', async function () {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body: unknown = await res.json();
    assert.ok(body && typeof body === 'object', 'the body is a JSON object');
    assert.equal((body as Record<string, unknown>).status, 'ok');
    assert.equal((body as Record<string, unknown>).node, 'test');
    assert.equal((body as Record<string, unknown>).store, 'embedded');
    assert.equal((body as Record<string, unknown>).sessions, 0);
  });

  it('GET /healthz with a query string is still the health check', async function () {
    const res = await fetch(`${base}/healthz?probe=1`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as Record<string, unknown>).status, 'ok');
  });

  it('GET / is 200 with the web client page (Converse.js, see web-client.test.ts)', async function () {
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const text = await res.text();
    assert.match(text, /<title>Chat on localhost<\/title>/);
    assert.match(text, /'xmpp-websocket'/);
  });

  it('an unknown path is 404', async function () {
    const res = await fetch(`${base}/no/such/thing`);
    assert.equal(res.status, 404);
    assert.equal(await res.text(), 'Not found\n');
  });

  it('GET /xmpp-websocket without an upgrade is 426 Upgrade Required, naming websocket', async function () {
    const res = await fetch(`${base}/xmpp-websocket`);
    assert.equal(res.status, 426);
    assert.equal(res.headers.get('upgrade'), 'websocket');
    assert.match(await res.text(), /RFC 7395/);
  });
});
