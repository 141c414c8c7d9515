// Prometheus metrics at /metrics on the HTTP port (README "Metrics"): a real server, real clients.
import assert from 'node:assert/strict';
import { connect, type TestClient } from './support/clients.js';
import { startTestServer, type TestServer } from './support/server.js';

/** A scrape: sample name with its labels as written -> value. */
type Samples = Map<string, number>;

async function scrape(base: string): Promise<{ text: string; samples: Samples }> {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return { text, samples };
}

describe('Prometheus metrics', function () {
  let server: TestServer;
  let base: string;
  const clients: TestClient[] = [];

  before(async function () {
    server = await startTestServer();
    base = `http://127.0.0.1:${server.ports.http}`;
    await server.addUser('alice', 'secret-a');
  });

  after(async function () {
    for (const c of clients) await c.stop();
    await server?.stop();
  });

  it('exports prom-client default metrics and the sessions gauge by transport', async function () {
    const before = await scrape(base);
    for (const name of ['process_resident_memory_bytes', 'process_open_fds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_active_handles_total']) {
      assert.ok(before.samples.has(name), `${name} is exported`);
    }
    assert.equal(before.samples.get('ratatosk_sessions{transport="websocket",node="test"}'), 0);
    clients.push(await connect(server, { transport: 'websocket', username: 'alice', password: 'secret-a' }));
    const after = await scrape(base);
    assert.equal(after.samples.get('ratatosk_sessions{transport="websocket",node="test"}'), 1);
    assert.equal(after.samples.get('ratatosk_sessions{transport="tcp",node="test"}'), 0);
  });
});
