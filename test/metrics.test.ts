// Prometheus metrics at /metrics on the HTTP port (README "Metrics"): real servers, real clients, a real
// PostgreSQL and Redis. The exposition is checked line by line against the text format.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { createTestSchema, requirePostgres } from '../src/storage/postgres/test-fixture.js';
import { schemaUrl } from './support/backends.js';
import { connect, type TestClient } from './support/clients.js';
import { parseExposition, type Samples } from './support/prometheus.js';
import { startRedis, type RedisInstance } from './support/redis.js';
import { startTestServer, type TestServer } from './support/server.js';

async function scrape(base: string, headers: Record<string, string> = {}): Promise<Samples & { types: Map<string, string> }> {
  const res = await fetch(`${base}/metrics`, { headers });
  assert.equal(res.status, 200, `GET /metrics: ${res.status}`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const { samples, types } = parseExposition(await res.text());
  return Object.assign(samples, { types });
}

/** The value of a sample, 0 when the series does not exist yet. */
function value(samples: Samples, key: string): number {
  return samples.get(key) ?? 0;
}

describe('Prometheus metrics', function () {
  let server: TestServer;
  let base: string;
  const clients: TestClient[] = [];

  before(async function () {
    server = await startTestServer();
    base = `http://127.0.0.1:${server.ports.http}`;
    await server.addUser('alice', 'secret-a');
    await server.addUser('bob', 'secret-b');
    await server.addUser('carol', 'secret-c');
  });

  after(async function () {
    for (const c of clients) await c.stop();
    await server?.stop();
  });

  it('the strict parser refuses what is not the text format (positive control)', function () {
    assert.doesNotThrow(() => parseExposition('# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 2\n'));
    for (const bad of ['a_total 1\n', '# HELP a A.\n# TYPE a gauge\na{x=1} 2\n', '# HELP a A.\n# TYPE a gauge\nb 2\n', '# HELP a A.\n# TYPE a gauge\na 2 x\n', '# HELP a A.\n# TYPE a gauge\na 2']) {
      assert.throws(() => parseExposition(bad), assert.AssertionError, JSON.stringify(bad));
    }
  });

  it('exports prom-client default metrics and ratatosk_* families in the text format', async function () {
    const first = await scrape(base);
    for (const name of ['process_resident_memory_bytes', 'process_open_fds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_active_handles_total', 'ratatosk_event_loop_utilization']) {
      assert.ok(first.has(name), `${name} is exported`);
    }
    assert.equal(first.get('ratatosk_sessions{transport="websocket",node="test"}'), 0);
    // The idle-memory mode is `ratatosk serve`'s (test/reload.test.ts sees it switch); a server in a test process has none.
    assert.equal(first.get('ratatosk_memory_favoured'), 0);
    assert.equal(first.get('ratatosk_event_loop_sample_seconds'), 0.1, 'the loop delay is sampled every 100 ms unless [metrics] says otherwise');
    assert.equal(first.types.get('ratatosk_routing_seconds'), 'histogram');
    assert.equal(first.types.get('ratatosk_stanzas_total'), 'counter');
    const utilisation = first.get('ratatosk_event_loop_utilization') ?? -1;
    assert.ok(utilisation >= 0 && utilisation <= 1, `event-loop utilisation ${utilisation} is a share`);
  });

  it('counts logins by mechanism, stanzas by kind, routing, sessions by transport and store operations', async function () {
    const before = await scrape(base);
    const alice = await connect(server, { transport: 'websocket', username: 'alice', password: 'secret-a', resource: 'web', mechanism: 'SCRAM-SHA-1' });
    clients.push(alice);
    const bob = await connect(server, { transport: 'tcp', username: 'bob', password: 'secret-b', resource: 'desk', mechanism: 'PLAIN' });
    clients.push(bob);
    await alice.xmpp.send(xml('presence'));
    await bob.xmpp.send(xml('presence'));
    for (let i = 0; i < 3; i++) {
      await alice.xmpp.send(xml('message', { to: bob.jid, type: 'chat', id: `m${i}` }, xml('body', {}, `hello ${i}`)));
      await bob.next((s) => s.is('message') && s.attrs.id === `m${i}`);
    }
    // To an account with no session: stored offline (the offline store is timed).
    await alice.xmpp.send(xml('message', { to: `carol@${server.domain}`, type: 'chat', id: 'offline-1' }, xml('body', {}, 'later')));
    // An archive query (the archive store is timed) answered with an iq result.
    await alice.xmpp.send(xml('iq', { type: 'set', id: 'mam-1' }, xml('query', { xmlns: 'urn:xmpp:mam:2' })));
    await alice.next((s) => s.is('iq') && s.attrs.id === 'mam-1');

    const after = await scrape(base);
    const delta = (key: string): number => value(after, key) - value(before, key);
    assert.equal(delta('ratatosk_logins_total{protocol="sasl",mechanism="SCRAM-SHA-1"}'), 1);
    assert.equal(delta('ratatosk_logins_total{protocol="sasl",mechanism="PLAIN"}'), 1);
    assert.ok(delta('ratatosk_stanzas_total{direction="in",kind="message"}') >= 4, 'messages in');
    assert.ok(delta('ratatosk_stanzas_total{direction="out",kind="message"}') >= 3, 'messages out');
    assert.ok(delta('ratatosk_stanzas_total{direction="in",kind="presence"}') >= 2, 'presence in');
    assert.ok(delta('ratatosk_stanzas_total{direction="in",kind="iq"}') >= 1, 'iq in');
    assert.ok(delta('ratatosk_stanzas_total{direction="out",kind="iq"}') >= 1, 'iq out');
    assert.ok(delta('ratatosk_routing_seconds_count') >= 7, `routing observations: ${delta('ratatosk_routing_seconds_count')}`);
    assert.ok(value(after, 'ratatosk_routing_seconds_bucket{le="+Inf"}') === value(after, 'ratatosk_routing_seconds_count'), 'the +Inf bucket holds every observation');
    assert.equal(after.get('ratatosk_sessions{transport="websocket",node="test"}'), 1);
    assert.equal(after.get('ratatosk_sessions{transport="tcp",node="test"}'), 1);
    assert.equal(after.get('ratatosk_sessions{transport="bosh",node="test"}'), 0);
    assert.ok(delta('ratatosk_store_operation_seconds_count{store="offline",operation="push"}') >= 1, 'offline push timed');
    assert.ok(delta('ratatosk_store_operation_seconds_count{store="archive",operation="query"}') >= 1, `archive query timed: ${[...after.keys()].filter((k) => k.includes('store="archive"')).join(', ')}`);
    assert.ok(after.has('ratatosk_outbound_queued_bytes{transport="tcp"}'), 'outbound queue gauge');
    assert.ok(after.has('ratatosk_outbound_queued_bytes_max{transport="websocket"}'), 'outbound queue max gauge');
  });

  it('counts a failed login by mechanism and reason', async function () {
    const key = 'ratatosk_login_failures_total{protocol="sasl",mechanism="PLAIN",reason="not-authorized"}';
    const before = await scrape(base);
    await assert.rejects(connect(server, { transport: 'tcp', username: 'carol', password: 'wrong', mechanism: 'PLAIN' }));
    const after = await scrape(base);
    assert.equal(value(after, key) - value(before, key), 1);
  });

  it('refuses a client behind a trusted proxy that is not in the allow list (403), and HEAD/POST as HTTP says', async function () {
    const outside = await fetch(`${base}/metrics`, { headers: { 'X-Forwarded-For': '203.0.113.7' } });
    assert.equal(outside.status, 403);
    assert.match(await outside.text(), /\[metrics\] allow/);
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const post = await fetch(`${base}/metrics`, { method: 'POST' });
    assert.equal(post.status, 405);
  });
});

describe('Prometheus metrics: [metrics] allow, SASL2', function () {
  let server: TestServer;
  let base: string;
  let client: TestClient | undefined;

  before(async function () {
    server = await startTestServer({ c2s: { sasl2: true }, metrics: { allow: ['10.0.0.0/8'] } });
    base = `http://127.0.0.1:${server.ports.http}`;
    await server.addUser('dave', 'secret-d');
  });

  after(async function () {
    await client?.stop();
    await server?.stop();
  });

  it('an allow list without loopback refuses loopback, and admits its network through a trusted proxy', async function () {
    assert.equal((await fetch(`${base}/metrics`)).status, 403);
    assert.equal((await fetch(`${base}/metrics`, { headers: { 'X-Forwarded-For': '192.0.2.1' } })).status, 403);
    const scraped = await scrape(base, { 'X-Forwarded-For': '10.1.2.3' });
    assert.ok(scraped.has('process_resident_memory_bytes'));
  });

  it('counts a SASL2 login under protocol="sasl2"', async function () {
    const headers = { 'X-Forwarded-For': '10.1.2.3' };
    const before = await scrape(base, headers);
    client = await connect(server, { transport: 'tcp', username: 'dave', password: 'secret-d' });
    const after = await scrape(base, headers);
    const sasl2 = [...after.keys()].filter((k) => k.startsWith('ratatosk_logins_total{protocol="sasl2"'));
    assert.equal(sasl2.length, 1, `one SASL2 series: ${sasl2.join(', ')}`);
    const key = sasl2[0] ?? '';
    assert.equal(value(after, key) - value(before, key), 1);
  });
});

describe('Prometheus metrics: PostgreSQL pool and Redis', function () {
  let server: TestServer | undefined;
  let redis: RedisInstance | undefined;
  let dropSchema: (() => Promise<void>) | undefined;
  let base: string;
  let client: TestClient | undefined;

  before(async function () {
    await requirePostgres(this);
    redis = await startRedis(this);
    const { schema, drop } = await createTestSchema();
    dropSchema = drop;
    server = await startTestServer({ database: { url: schemaUrl(schema) }, redis: { url: redis.url } });
    base = `http://127.0.0.1:${server.ports.http}`;
    await server.addUser('erin', 'secret-e');
  });

  after(async function () {
    await client?.stop();
    await server?.stop();
    await redis?.stop();
    await dropSchema?.();
  });

  it('exports the pool gauges, Redis command latency and reconnections', async function () {
    const live = server;
    assert.ok(live && redis);
    client = await connect(live, { transport: 'tcp', username: 'erin', password: 'secret-e' });
    const first = await scrape(base);
    assert.ok(value(first, 'ratatosk_pg_pool_connections') >= 1, 'the pool holds a connection');
    assert.ok(first.has('ratatosk_pg_pool_idle_connections'));
    assert.equal(first.get('ratatosk_pg_pool_waiting_clients'), 0);
    const redisCommands = [...first.keys()].filter((k) => k.startsWith('ratatosk_redis_command_seconds_count{'));
    assert.ok(redisCommands.length > 0, 'Redis commands were timed');
    assert.ok(redisCommands.reduce((sum, k) => sum + value(first, k), 0) > 0);
    assert.equal(first.get('ratatosk_redis_reconnections_total{connection="cluster"}'), 0);

    // Redis drops the node's connections: ioredis reconnects, and that is counted.
    redis.cli('CLIENT', 'KILL', 'TYPE', 'normal');
    let reconnections = 0;
    for (let i = 0; i < 50 && reconnections === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      reconnections = value(await scrape(base), 'ratatosk_redis_reconnections_total{connection="cluster"}');
    }
    assert.ok(reconnections >= 1, 'the reconnection is counted');
  });
});
