// The deployment files, checked as far as a machine without Docker allows:
//  - docker/redis/*.conf run for real (service names mapped to 127.0.0.1 and free ports): the three
//    Sentinels find the replica and each other, and promote the replica when the primary is killed;
//  - docker/compose.yaml parses (python3's yaml, when present) and agrees with the other files, and passes
//    `docker-compose config` (Debian's docker-compose 1.29, no engine needed);
//  - Prometheus (docker/prometheus) scrapes every node's /metrics, Grafana's provisioning (docker/grafana) is
//    in its format and wired to what compose mounts, and every metric the dashboard queries is one a real
//    server exports;
//  - docker/haproxy.cfg passes `haproxy -c`, docker/nginx.conf passes `nginx -t`, each with its
//    certificate path pointed at one `ratatosk cert make` wrote (as compose.yaml's certs service does);
//  - loadtest/cluster/start-local-cluster.sh starts two nodes that answer /healthz and stops them
//    all on SIGINT; HAProxy, run with docker/haproxy.cfg pointed at those nodes, passes client TCP
//    (with its PROXY header), WebSocket upgrades and BOSH through, ending TLS for HTTP, and pins a
//    BOSH client to one node with its cookie; an @xmpp/client logs in over wss:// through it on nodes
//    that require TLS, because HAProxy says https (without that header the login is not offered).
// Missing optional tools (python3 yaml, haproxy, nginx and its stream module) skip their test loudly;
// under CI=true they fail instead.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { client } from '@xmpp/client';
import { WebSocket } from 'ws';
import { certMakeCommand } from '../src/admin/cert-command.js';
import { loadConfig } from '../src/config/index.js';
import { createTestSchema, requirePostgres } from '../src/storage/postgres/test-fixture.js';
import { schemaUrl } from './support/backends.js';
import './support/clients.js';
import { parseExposition } from './support/prometheus.js';
import { startRedis } from './support/redis.js';
import { startTestServer } from './support/server.js';
import { startSentinelTopology, type SentinelConfigs, type SentinelLayout } from './support/redis-topologies.js';

const ROOT = resolve(import.meta.dirname, '..');
const DOCKER = join(ROOT, 'docker');
const SCRIPT = join(ROOT, 'loadtest', 'cluster', 'start-local-cluster.sh');

/** A missing tool: a loud skip on a developer's machine, a failure under CI=true (.ci/run installs them). */
function skipLoudly(ctx: Mocha.Context, what: string): never {
  if (process.env.CI === 'true') throw new Error(`${what}, and CI=true: this deployment check must run`);
  console.warn(`\n  !!! ${what}: SKIPPING this deployment check !!!\n`);
  ctx.skip();
}

/** What compose.yaml's certs service does: `ratatosk cert make --out <dir>` for the domain localhost. */
async function makeCertificates(dir: string): Promise<{ dir: string; pem: string; cert: string }> {
  const config = loadConfig({ file: false, env: {}, overrides: { domain: 'localhost' } });
  const result = await certMakeCommand.run({ config, notice: () => undefined }, { args: {}, options: { out: dir } });
  assert.equal(result.exitCode, 0);
  const pem = join(dir, 'localhost.pem');
  return { dir, pem, cert: await readFile(join(dir, 'tls', 'localhost.crt'), 'utf8') };
}

/** docker/haproxy.cfg and docker/nginx.conf name the certificate where compose.yaml mounts the certs volume. */
const HAPROXY_CERTS = '/usr/local/etc/haproxy/certs/';
const NGINX_CERTS = '/etc/nginx/certs/';

function installed(binary: string, versionFlag = '-v'): boolean {
  const probe = spawnSync(binary, [versionFlag], { encoding: 'utf8' });
  return !probe.error && probe.status === 0;
}

/** docker/redis/*.conf with the compose service names and ports replaced by the test's own. */
async function dockerSentinelConfigs(layout: SentinelLayout): Promise<SentinelConfigs> {
  const read = (name: string): Promise<string> => readFile(join(DOCKER, 'redis', name), 'utf8');
  const local = (text: string, port: number, dir: string): string =>
    text
      .replace(/^port \d+$/m, `port ${port}`)
      .replace(/^bind .*$/m, 'bind 127.0.0.1')
      .replace(/^dir .*$/m, `dir ${dir}`)
      .replace(/\bredis-primary 6379\b/g, `127.0.0.1 ${layout.primary.port}`)
      .replace(/^replica-announce-ip redis-(primary|replica)$/m, 'replica-announce-ip 127.0.0.1')
      .replace(/^sentinel announce-ip sentinel-\d$/m, 'sentinel announce-ip 127.0.0.1')
      .replace(/^sentinel announce-port \d+$/m, `sentinel announce-port ${port}`);
  const configs = {
    primary: local(await read('primary.conf'), layout.primary.port, layout.primary.dir),
    replica: local(await read('replica.conf'), layout.replica.port, layout.replica.dir),
    sentinels: await Promise.all(layout.sentinels.map(async ({ port, dir }, i) => local(await read(`sentinel-${i + 1}.conf`), port, dir))),
  };
  // Every name the compose network would resolve must have been mapped, or the check proves nothing.
  for (const text of [configs.primary, configs.replica, ...configs.sentinels]) {
    const leftover = /\bredis-(primary|replica)\b|announce-ip sentinel-\d/.exec(text.replace(/^#.*$/gm, ''));
    assert.equal(leftover, null, `a compose service name is left in a Redis config: ${leftover?.[0] ?? ''}`);
  }
  const monitor = /^sentinel monitor (\S+) /m.exec(configs.sentinels[0] ?? '');
  assert.ok(monitor?.[1], 'sentinel-1.conf monitors a master');
  return { masterName: monitor[1], ...configs };
}

async function freeBlock(size: number): Promise<number> {
  const free = (port: number): Promise<boolean> =>
    new Promise((done) => {
      const probe = net.createServer();
      probe.once('error', () => done(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => done(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let ok = true;
    for (let port = base - 1; port < base + size && ok; port++) ok = await free(port);
    if (ok) return base;
  }
  throw new Error('no block of free loopback ports');
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function healthOf(port: number): Promise<{ status: string; node: string } | undefined> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
  if (!response.ok) return undefined;
  const body: unknown = await response.json();
  if (typeof body !== 'object' || body === null || !('status' in body) || !('node' in body)) return undefined;
  return { status: String(body.status), node: String(body.node) };
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

/** The first bytes a TCP peer gets back after opening an XMPP stream (over direct TLS, XEP-0368, when asked). */
function tcpStreamReply(port: number, directTls = false): Promise<string> {
  return new Promise((done, fail) => {
    // The local nodes make their own self-signed certificates.
    const socket = directTls ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['xmpp-client'] }) : net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      fail(new Error(`no stream features through port ${port}: ${text}`));
    }, 5000);
    socket.on(directTls ? 'secureConnect' : 'connect', () => socket.write(`<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('</stream:features>')) {
        clearTimeout(timer);
        socket.destroy();
        done(text);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
  });
}

/** Opens an RFC 7395 stream and returns the first two frames (<open/> and the features). */
function websocketOpen(url: string, ca?: string): Promise<string[]> {
  return new Promise((done, fail) => {
    const ws = new WebSocket(url, ['xmpp'], ca === undefined ? {} : { ca });
    const frames: string[] = [];
    const timer = setTimeout(() => {
      ws.terminate();
      fail(new Error(`no WebSocket stream through ${url}`));
    }, 5000);
    ws.on('open', () => ws.send(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"/>`));
    ws.on('message', (data: Buffer) => {
      frames.push(data.toString());
      if (frames.length === 2) {
        clearTimeout(timer);
        ws.close();
        done(frames);
      }
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
  });
}

/** A GET over HTTPS, verified against the test's own certificate; the JSON body or undefined. */
function httpsJson(port: number, path: string, ca: string): Promise<{ status: string; node: string } | undefined> {
  return new Promise((done, fail) => {
    const request = https.get({ host: '127.0.0.1', port, path, ca, agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        if (res.statusCode !== 200) return done(undefined);
        const parsed = JSON.parse(body) as { status?: unknown; node?: unknown };
        done({ status: String(parsed.status), node: String(parsed.node) });
      });
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', fail);
  });
}

/** A POST over HTTPS (BOSH), verified against the test's certificate. */
function httpsPost(port: number, path: string, body: string, ca: string, cookie?: string): Promise<{ status: number; body: string; cookie: string | undefined }> {
  return new Promise((done, fail) => {
    const headers: Record<string, string> = { 'Content-Type': 'text/xml; charset=utf-8', ...(cookie ? { Cookie: cookie } : {}) };
    const request = https.request({ host: '127.0.0.1', port, path, method: 'POST', ca, agent: false, headers, timeout: 10_000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: text, cookie: res.headers['set-cookie']?.[0] }));
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', fail);
    request.end(body);
  });
}

describe('deployment files', function () {
  this.timeout(90_000);

  describe('docker/redis (run with the compose service names mapped to loopback)', () => {
    it('three Sentinels find the primary, the replica and each other, and promote the replica when the primary dies', async function () {
      const topology = await startSentinelTopology(this, dockerSentinelConfigs);
      try {
        assert.equal(await topology.currentPrimary(), topology.primary.address);
        // down-after-milliseconds is 5000 in these files: +switch-master comes a few seconds later.
        const event = await topology.killPrimary(45_000);
        assert.equal(event.to, topology.replica.address);
        assert.equal(await topology.currentPrimary(), topology.replica.address);
      } finally {
        await topology.stop();
      }
    });
  });

  describe('docker/compose.yaml', () => {
    it('parses, and its nodes, Sentinels, HAProxy and config files agree with each other', async function () {
      const parsed = spawnSync('python3', ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', join(DOCKER, 'compose.yaml')], { encoding: 'utf8' });
      if (parsed.error || parsed.status !== 0) skipLoudly(this, `python3 with the yaml module is not available (${parsed.stderr.trim().split('\n').pop() ?? 'no python3'})`);
      const compose = JSON.parse(parsed.stdout) as { services: Record<string, { image?: string; environment?: Record<string, string>; volumes?: string[]; ports?: string[] }> };
      const services = compose.services;

      const nodes = Object.entries(services).filter(([, s]) => s.environment?.RATATOSK_NODE_ID !== undefined);
      assert.equal(nodes.length, 3, 'three Ratatosk nodes');
      assert.equal(new Set(nodes.map(([, s]) => s.environment?.RATATOSK_NODE_ID)).size, 3, 'distinct node ids');

      const sentinelConf = await readFile(join(DOCKER, 'redis', 'sentinel-1.conf'), 'utf8');
      const monitored = /^sentinel monitor (\S+) (\S+) (\d+) (\d+)$/m.exec(sentinelConf);
      assert.ok(monitored, 'sentinel-1.conf has a monitor line');
      assert.ok(services[monitored[2] ?? ''], `the Sentinels monitor ${monitored[2] ?? ''}, a compose service`);
      for (const [name, node] of nodes) {
        const env = node.environment ?? {};
        assert.match(env.RATATOSK_DATABASE_URL ?? '', /^postgres:\/\/[^@]+@postgres:5432\//, `${name} uses the postgres service`);
        assert.equal(env.RATATOSK_REDIS_SENTINEL_NAME, monitored[1], `${name} asks for the master the Sentinels monitor`);
        const sentinels = (env.RATATOSK_REDIS_SENTINELS ?? '').split(',');
        assert.equal(sentinels.length, 3, `${name} lists three Sentinels`);
        for (const address of sentinels) {
          const [host, port] = address.split(':');
          assert.ok(services[host ?? ''], `${name}: ${host ?? ''} is a compose service`);
          assert.equal(port, '26379');
        }
      }
      assert.match(services.postgres?.image ?? '', /^postgres:15/);
      assert.ok((services.postgres?.volumes ?? []).some((v) => v.endsWith(':/var/lib/postgresql/data')), 'PostgreSQL keeps its data in a volume');

      // Every file mounted from docker/ exists.
      for (const [name, service] of Object.entries(services)) {
        for (const volume of service.volumes ?? []) {
          if (!volume.startsWith('./')) continue;
          assert.ok(existsSync(join(DOCKER, volume.split(':')[0] ?? '')), `${name} mounts ${volume}, which exists`);
        }
      }
      // HAProxy's servers are the compose nodes, and it publishes the client ports.
      const haproxy = await readFile(join(DOCKER, 'haproxy.cfg'), 'utf8');
      const servers = new Set([...haproxy.matchAll(/^\s*server \S+ ([\w-]+):\d+/gm)].map((m) => m[1]));
      assert.deepEqual([...servers].sort(), nodes.map(([name]) => name).sort());
      for (const port of ['5222', '5223', '5443']) assert.ok(services.haproxy?.ports?.includes(`${port}:${port}`), `HAProxy publishes ${port}`);
      // HTTP only with TLS: no plain-HTTP port reaches the outside, so no password crosses it in clear.
      assert.deepEqual(services.haproxy?.ports?.filter((p) => p !== '8404:8404').map((p) => p.split(':')[1]), ['5222', '5223', '5443']);
      assert.match(haproxy, /^\s*bind :5443 ssl crt \/usr\/local\/etc\/haproxy\/certs\//m);
      assert.doesNotMatch(haproxy, /^\s*bind :5280/m);
      assert.match(haproxy, /^\s*http-request set-header X-Forwarded-Proto https$/m);
      const trusted = nodes[0]?.[1].environment?.RATATOSK_TRUSTED_PROXIES;
      assert.ok(trusted && (await readFile(join(DOCKER, 'compose.yaml'), 'utf8')).includes(`ipv4_address: ${trusted}`), 'the trusted proxy is HAProxy\'s fixed address');
      for (const [name, node] of nodes) {
        assert.equal(node.environment?.RATATOSK_TRUSTED_PROXIES, trusted, `${name} trusts HAProxy`);
        assert.equal(node.environment?.RATATOSK_C2S_PROXY_PROTOCOL_FROM, trusted, `${name} takes HAProxy's PROXY headers (send-proxy-v2)`);
        assert.ok(node.volumes?.includes('certs:/certs:ro'), `${name} reads the shared certificate`);
      }
      // The certificate is made at first start by a one-shot service, into the volume HAProxy reads.
      const certs = services.certs as { image?: string; command?: string[]; volumes?: string[] } | undefined;
      assert.equal(certs?.image, 'ratatosk:latest');
      assert.deepEqual(certs?.command, ['cert', 'make', '--out', '/certs']);
      assert.ok(services.haproxy?.volumes?.includes(`certs:${HAPROXY_CERTS.replace(/\/$/, '')}:ro`), 'HAProxy mounts the certs volume where haproxy.cfg reads it');
    });
  });

  describe('metrics: docker-compose config, Prometheus and Grafana (docker/prometheus, docker/grafana)', () => {
    type Service = { image?: string; environment?: Record<string, string>; volumes?: string[]; ports?: string[] };

    const YAML_FILES = ['compose.yaml', 'prometheus/prometheus.yml', 'grafana/provisioning/datasources/prometheus.yaml', 'grafana/provisioning/dashboards/ratatosk.yaml'];
    let parsedYaml: Record<string, unknown> | undefined;

    /** A YAML file under docker/ as JSON through python3's yaml (as the compose check above), all read in one run; skips loudly without it. */
    function readYaml(ctx: Mocha.Context, path: string): unknown {
      if (!parsedYaml) {
        const script = 'import json, sys, yaml; print(json.dumps({p: yaml.safe_load(open(p)) for p in sys.argv[1:]}))';
        const parsed = spawnSync('python3', ['-c', script, ...YAML_FILES], { encoding: 'utf8', cwd: DOCKER });
        if (parsed.error || parsed.status !== 0) skipLoudly(ctx, `python3 with the yaml module is not available (${parsed.stderr.trim().split('\n').pop() ?? 'no python3'})`);
        parsedYaml = JSON.parse(parsed.stdout) as Record<string, unknown>;
      }
      assert.ok(path in parsedYaml, `${path} is read`);
      return parsedYaml[path];
    }

    function servicesOf(ctx: Mocha.Context): Record<string, Service> {
      return (readYaml(ctx, 'compose.yaml') as { services: Record<string, Service> }).services;
    }

    /** Where compose mounts `source` (a path under docker/) in `service`. */
    function mountPoint(service: Service | undefined, source: string): string | undefined {
      const volume = service?.volumes?.find((v) => v.split(':')[0] === source);
      return volume?.split(':')[1];
    }

    interface Dashboard {
      uid?: string;
      title?: string;
      schemaVersion?: number;
      panels?: { id?: number; type?: string; title?: string; gridPos?: Record<string, number>; datasource?: { type?: string; uid?: string }; targets?: { refId?: string; expr?: string; datasource?: { uid?: string } }[] }[];
    }

    async function readDashboard(): Promise<Dashboard> {
      return JSON.parse(await readFile(join(DOCKER, 'grafana', 'dashboards', 'ratatosk.json'), 'utf8')) as Dashboard;
    }

    /** The metric names in PromQL expressions (ours and prom-client's all start so), without histogram suffixes the scrape explains. */
    function unknownMetrics(exprs: readonly string[], types: ReadonlyMap<string, string>): string[] {
      const names = new Set(exprs.flatMap((expr) => [...expr.matchAll(/\b(?:ratatosk|process|nodejs)_[a-zA-Z0-9_:]*/g)].map((m) => m[0])));
      return [...names].filter((name) => {
        if (types.has(name)) return false;
        const suffix = /_(bucket|sum|count)$/.exec(name);
        return !(suffix && types.get(name.slice(0, -suffix[0].length)) === 'histogram');
      });
    }

    it('docker/compose.yaml passes `docker-compose config` (Debian docker-compose 1.29, which needs no engine)', function () {
      // compose 1.29 predates the Compose spec's top-level `name`; everything else is checked as written.
      const text = readFileSync(join(DOCKER, 'compose.yaml'), 'utf8');
      assert.match(text, /^name: ratatosk$/m);
      const dir = mkdtempSync(join(tmpdir(), 'compose-check-'));
      try {
        const copy = join(dir, 'compose.yaml');
        writeFileSync(copy, text.replace(/^name: ratatosk\n/m, ''));
        const check = spawnSync('docker-compose', ['--project-directory', DOCKER, '-f', copy, 'config', '-q'], { encoding: 'utf8' });
        if (check.error) skipLoudly(this, 'docker-compose is not installed (apt-get install docker-compose)');
        assert.equal(check.status, 0, `docker-compose config: ${check.stdout}${check.stderr}`);
        // Positive control: compose 1.29 does refuse a broken file.
        writeFileSync(copy, `${text.replace(/^name: ratatosk\n/m, '')}\n  bogus: 1\n`);
        const broken = spawnSync('docker-compose', ['--project-directory', DOCKER, '-f', copy, 'config', '-q'], { encoding: 'utf8' });
        assert.notEqual(broken.status, 0, 'a broken file fails the check');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('Prometheus scrapes /metrics on every node, and the nodes admit the compose network to it', async function () {
      const services = servicesOf(this);
      const prometheus = services.prometheus;
      assert.match(prometheus?.image ?? '', /^prom\/prometheus:/);
      const configPath = mountPoint(prometheus, './prometheus/prometheus.yml');
      assert.equal(configPath, '/etc/prometheus/prometheus.yml');
      const config = readYaml(this, 'prometheus/prometheus.yml') as { scrape_configs?: { metrics_path?: string; static_configs?: { targets?: string[] }[] }[] };
      const job = config.scrape_configs?.[0];
      assert.equal(job?.metrics_path, '/metrics');
      const targets = (job?.static_configs ?? []).flatMap((c) => c.targets ?? []);
      const nodes = Object.entries(services).filter(([, s]) => s.environment?.RATATOSK_NODE_ID !== undefined);
      assert.deepEqual(targets.sort(), nodes.map(([name]) => `${name}:5280`).sort(), 'every node, on its HTTP port');
      const subnet = (readYaml(this, 'compose.yaml') as { networks: { ratatosk: { ipam: { config: { subnet: string }[] } } } }).networks.ratatosk.ipam.config[0]?.subnet;
      for (const [name, node] of nodes) {
        const allow = (node.environment?.RATATOSK_METRICS_ALLOW ?? '').split(',');
        assert.ok(subnet && allow.includes(subnet), `${name} admits ${subnet ?? '?'} to /metrics`);
        // What the nodes will do with it: the variable loads into [metrics] allow.
        assert.deepEqual(loadConfig({ file: false, env: { RATATOSK_METRICS_ALLOW: node.environment?.RATATOSK_METRICS_ALLOW ?? '' } }).metrics.allow, allow);
      }
    });

    it('Grafana is provisioned: the data source, a provider reading where compose mounts the dashboard, the dashboard on that data source', async function () {
      const services = servicesOf(this);
      const grafana = services.grafana;
      assert.match(grafana?.image ?? '', /^grafana\/grafana:/);
      assert.equal(mountPoint(grafana, './grafana/provisioning'), '/etc/grafana/provisioning');
      const dashboardsDir = mountPoint(grafana, './grafana/dashboards');
      assert.ok(dashboardsDir, 'compose mounts docker/grafana/dashboards into Grafana');

      const datasources = readYaml(this, 'grafana/provisioning/datasources/prometheus.yaml') as { apiVersion?: number; datasources?: { uid?: string; type?: string; url?: string; access?: string }[] };
      assert.equal(datasources.apiVersion, 1);
      const source = datasources.datasources?.[0];
      assert.equal(source?.type, 'prometheus');
      assert.equal(source?.access, 'proxy');
      const url = new URL(source?.url ?? '');
      assert.ok(services[url.hostname], `the data source's host ${url.hostname} is a compose service`);
      assert.equal(url.port, '9090');

      const providers = readYaml(this, 'grafana/provisioning/dashboards/ratatosk.yaml') as { apiVersion?: number; providers?: { name?: string; type?: string; options?: { path?: string } }[] };
      assert.equal(providers.apiVersion, 1);
      assert.equal(providers.providers?.[0]?.type, 'file');
      assert.equal(providers.providers?.[0]?.options?.path, dashboardsDir, 'the provider reads the folder compose mounts the dashboard into');

      const dashboard = await readDashboard();
      assert.ok(dashboard.uid && dashboard.title && typeof dashboard.schemaVersion === 'number', 'uid, title and schemaVersion');
      const panels = dashboard.panels ?? [];
      assert.ok(panels.length >= 10);
      assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'panel ids are distinct');
      for (const panel of panels) {
        assert.ok(panel.title && panel.type && panel.gridPos, `panel ${panel.id ?? '?'} has a title, a type and a place`);
        assert.equal(panel.datasource?.uid, source?.uid, `${panel.title ?? ''} uses the provisioned data source`);
        assert.ok((panel.targets ?? []).length > 0, `${panel.title ?? ''} has queries`);
        for (const target of panel.targets ?? []) {
          assert.ok(target.refId && target.expr, `${panel.title ?? ''}: refId and expr`);
          assert.equal(target.datasource?.uid, source?.uid);
        }
      }
    });

    it('every metric the dashboard queries is one a server on PostgreSQL and Redis exports, and each ratatosk_* family has a panel', async function () {
      await requirePostgres(this);
      const redis = await startRedis(this);
      const { schema, drop } = await createTestSchema();
      const server = await startTestServer({ database: { url: schemaUrl(schema) }, redis: { url: redis.url } });
      try {
        const res = await fetch(`http://127.0.0.1:${server.ports.http}/metrics`);
        assert.equal(res.status, 200);
        const { types } = parseExposition(await res.text());
        const exprs = ((await readDashboard()).panels ?? []).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
        assert.deepEqual(unknownMetrics(exprs, types), [], 'names the dashboard queries that the server does not export');
        // Positive control: a name the server does not export is caught, a histogram's series are not.
        assert.deepEqual(unknownMetrics(['rate(ratatosk_no_such_total[1m])', 'ratatosk_routing_seconds_bucket', 'ratatosk_sessions_bucket'], types), ['ratatosk_no_such_total', 'ratatosk_sessions_bucket']);
        const ours = [...types.keys()].filter((name) => name.startsWith('ratatosk_'));
        assert.ok(ours.length >= 12, `ratatosk_* families: ${ours.join(', ')}`);
        for (const family of ours) assert.ok(exprs.some((expr) => expr.includes(family)), `the dashboard shows ${family}`);
      } finally {
        await server.stop();
        await redis.stop();
        await drop();
      }
    });
  });

  describe('load balancer configurations', () => {
    it('docker/haproxy.cfg passes haproxy -c, with the certificate `ratatosk cert make` writes', async function () {
      if (!installed('haproxy')) skipLoudly(this, 'haproxy is not installed (apt-get install haproxy)');
      const dir = await mkdtemp(join(tmpdir(), 'ratatosk-haproxy-'));
      try {
        const certs = await makeCertificates(join(dir, 'certs'));
        const text = await readFile(join(DOCKER, 'haproxy.cfg'), 'utf8');
        assert.ok(text.includes(HAPROXY_CERTS));
        await writeFile(join(dir, 'haproxy.cfg'), text.replaceAll(HAPROXY_CERTS, `${certs.dir}/`));
        const check = spawnSync('haproxy', ['-c', '-f', join(dir, 'haproxy.cfg')], { encoding: 'utf8' });
        assert.equal(check.status, 0, check.stdout + check.stderr);
        // The only warnings allowed are the compose names that resolve only inside Docker.
        const warnings = (check.stdout + check.stderr).split('\n').filter((line) => line.includes('[WARNING]') && !/could not resolve address 'ratatosk-\d'/.test(line));
        assert.deepEqual(warnings, []);
        // Positive control: without its certificate the file does not pass.
        await writeFile(join(dir, 'haproxy.cfg'), text.replaceAll(HAPROXY_CERTS, `${join(dir, 'none')}/`));
        assert.notEqual(spawnSync('haproxy', ['-c', '-f', join(dir, 'haproxy.cfg')], { encoding: 'utf8' }).status, 0);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('docker/nginx.conf passes nginx -t', async function () {
      if (!installed('nginx')) skipLoudly(this, 'nginx is not installed (apt-get install nginx libnginx-mod-stream)');
      const dir = await mkdtemp(join(tmpdir(), 'ratatosk-nginx-'));
      try {
        // nginx resolves upstream names while it checks: point the compose names at loopback. Debian
        // builds the stream module as a loadable module.
        const module = ['/usr/lib/nginx/modules/ngx_stream_module.so', '/usr/share/nginx/modules/ngx_stream_module.so'].find((m) => existsSync(m));
        const certs = await makeCertificates(join(dir, 'certs'));
        const shipped = await readFile(join(DOCKER, 'nginx.conf'), 'utf8');
        assert.match(shipped, /listen 5443 ssl;/);
        assert.doesNotMatch(shipped, /listen 5280/);
        const text = shipped.replace(/ratatosk-(\d)/g, '127.0.0.$1').replaceAll(NGINX_CERTS, `${certs.dir}/`);
        const head = [module ? `load_module ${module};` : '', `pid ${join(dir, 'nginx.pid')};`, `error_log ${join(dir, 'error.log')};`].join('\n');
        await writeFile(join(dir, 'nginx.conf'), `${head}\n${text}`);
        const check = spawnSync('nginx', ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
        if (!module && /unknown directive "stream"/.test(check.stderr)) skipLoudly(this, 'nginx has no stream module (apt-get install libnginx-mod-stream)');
        assert.equal(check.status, 0, check.stderr);
        assert.match(check.stderr, /test is successful/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('loadtest/cluster/start-local-cluster.sh', () => {
    let script: ChildProcess | undefined;
    let output = '';
    let base = 0;
    let dir = '';

    before(async function () {
      if (!installed('redis-server', '--version')) skipLoudly(this, 'redis-server is not installed');
      this.timeout(120_000);
      base = await freeBlock(20);
      dir = await mkdtemp(join(tmpdir(), 'ratatosk-local-cluster-test-'));
      // As behind compose.yaml's HAProxy: TLS required, PROXY headers from the balancer (on loopback here)
      // on the client ports; loopback is a trusted proxy by default, so its X-Forwarded-* are believed.
      const env = { ...process.env, RATATOSK_REQUIRE_TLS: 'true', RATATOSK_C2S_PROXY_PROTOCOL_FROM: '127.0.0.1' };
      script = spawn('bash', [SCRIPT, '-n', '2', '--base-port', String(base), '--users', '2', '--dir', join(dir, 'cluster'), '--log-level', 'warn'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      script.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      script.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      // The output is read when the wait ends, not when it begins.
      await until('the script to print "ready"', 110_000, async () => {
        if (script?.exitCode !== null) throw new Error(`the script exited (${String(script?.exitCode)}):\n${output}`);
        return output.includes('ready; press Ctrl-C') ? true : undefined;
      }).catch((err: unknown) => {
        throw new Error(`${err instanceof Error ? err.message : String(err)} (output so far:\n${output})`);
      });
    });

    after(async () => {
      if (script && script.exitCode === null) script.kill('SIGKILL');
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('prints the endpoints of two nodes with distinct ids, and each answers /healthz', async () => {
      for (const [i, http] of [
        [1, base + 2],
        [2, base + 12],
      ] as const) {
        assert.ok(output.includes(`ws://127.0.0.1:${http}/xmpp-websocket`), `the endpoints of node-${i} are printed:\n${output}`);
        assert.deepEqual(await healthOf(http), { status: 'ok', node: `node-${i}` });
      }
    });

    /** docker/haproxy.cfg with the compose names pointed at the local nodes, listeners on free ports, the test certificate. */
    async function localHaproxyConfig(front: number, certDir: string): Promise<string> {
      const nodePort = (n: number, port: number): number => base + 10 * (n - 1) + { 5222: 0, 5223: 1, 5280: 2 }[port as 5222 | 5223 | 5280];
      const config = (await readFile(join(DOCKER, 'haproxy.cfg'), 'utf8'))
        .replace(/ratatosk-([12]):(\d+)((?: send-proxy-v2)?)( check port 5280)?/g, (_m, n: string, port: string, proxy: string, check: string | undefined) =>
          `127.0.0.1:${nodePort(Number(n), Number(port))}${proxy}${check ? ` check port ${nodePort(Number(n), 5280)}` : ''}`,
        )
        .replace(/^\s*server ratatosk-3 .*$/gm, '')
        // The file's maxconn needs the container's raised open-files limit (compose.yaml's ulimits).
        .replace(/^(\s*)maxconn \d+$/m, '$1maxconn 2000')
        .replace(/ resolvers docker/, '')
        .replace(/^resolvers docker[\s\S]*?(?=\n\S|\n#)/m, '')
        .replace(/^(\s*)bind :5222$/m, `$1bind 127.0.0.1:${front}`)
        .replace(/^(\s*)bind :5223$/m, `$1bind 127.0.0.1:${front + 1}`)
        .replace(/^(\s*)bind :5443 /m, `$1bind 127.0.0.1:${front + 2} `)
        .replace(/^(\s*)bind :8404$/m, `$1bind 127.0.0.1:${front + 3}`)
        .replaceAll(HAPROXY_CERTS, `${certDir}/`);
      const unmapped = /ratatosk-\d:|bind :|check port 5280/.exec(config.replace(/^\s*#.*$/gm, ''));
      assert.equal(unmapped, null, `every server and listener was mapped: ${unmapped?.[0] ?? ''}`);
      return config;
    }

    /** Runs haproxy on `config` until stop(); its output goes into errors thrown meanwhile. */
    async function runHaproxy(config: string, name: string, front: number): Promise<{ log(): string; stop(): Promise<void> }> {
      const cfgPath = join(dir, name);
      await writeFile(cfgPath, config);
      let proxyLog = '';
      const proxy = spawn('haproxy', ['-db', '-f', cfgPath], { stdio: ['ignore', 'pipe', 'pipe'] });
      proxy.stdout.on('data', (c: Buffer) => (proxyLog += c.toString()));
      proxy.stderr.on('data', (c: Buffer) => (proxyLog += c.toString()));
      const stop = async (): Promise<void> => {
        proxy.kill('SIGTERM');
        await new Promise((done) => (proxy.exitCode !== null ? done(undefined) : proxy.once('exit', done)));
      };
      try {
        await until(`HAProxy to listen (${proxyLog})`, 10_000, async () => ((await portAnswers(front + 2)) ? true : undefined));
        // Health checks mark the servers up within a few check intervals.
        await until('both nodes to answer through HAProxy', 30_000, async () => {
          const nodes = new Set<string>();
          for (let i = 0; i < 6; i++) nodes.add((await httpsJson(front + 2, '/healthz', certs.cert))?.node ?? '');
          return nodes.has('node-1') && nodes.has('node-2') ? nodes : undefined;
        });
      } catch (err) {
        await stop();
        throw new Error(`${err instanceof Error ? err.message : String(err)}\nHAProxy said:\n${proxyLog}`, { cause: err });
      }
      return { log: () => proxyLog, stop };
    }

    let certs: { dir: string; pem: string; cert: string };

    it('HAProxy with docker/haproxy.cfg ends TLS for HTTP and passes client TCP (with PROXY headers), wss:// and BOSH to the nodes, and keeps a BOSH client on one node', async function () {
      if (!installed('haproxy')) skipLoudly(this, 'haproxy is not installed (apt-get install haproxy)');
      certs = await makeCertificates(join(dir, 'certs'));
      const front = await freeBlock(4);
      const proxy = await runHaproxy(await localHaproxyConfig(front, certs.dir), 'haproxy.cfg', front);
      try {
        // 5222 and 5223 pass through with a PROXY v2 header first (the nodes demand it from 127.0.0.1).
        assert.match(await tcpStreamReply(front), /<stream:features/, 'a client stream on 5222 reaches a node');
        assert.match(await tcpStreamReply(front + 1, true), /<stream:features/, 'a direct-TLS stream on 5223 reaches a node, its TLS ended by the node');
        // No plain HTTP on the HTTP port: it speaks TLS only.
        await assert.rejects(fetch(`http://127.0.0.1:${front + 2}/healthz`, { signal: AbortSignal.timeout(3000) }));
        const frames = await websocketOpen(`wss://127.0.0.1:${front + 2}/xmpp-websocket`, certs.cert);
        assert.match(frames[0] ?? '', /^<open /, `the WebSocket upgrade passes HAProxy: ${frames.join(' | ')}`);
        assert.match(frames[1] ?? '', /<mechanism>/, 'the node offers a login: HAProxy said https');

        // BOSH: the first response sets the node cookie; a request carrying it lands on that node, so
        // the session answers; sent with the other node's cookie it reaches a node without the session.
        const bosh = (body: string, cookie?: string) => httpsPost(front + 2, '/http-bind', body, certs.cert, cookie);
        const BOSH_NS = "xmlns='http://jabber.org/protocol/httpbind'";
        const first = await bosh(`<body rid='1000' to='localhost' xml:lang='en' wait='2' hold='1' ver='1.6' ${BOSH_NS} xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'/>`);
        assert.equal(first.status, 200);
        const pinned = /^RATATOSK_NODE=(ratatosk-[12]);/.exec(first.cookie ?? '');
        assert.ok(pinned?.[1], `HAProxy pins the BOSH client with a cookie: ${first.cookie ?? 'none'}`);
        assert.match(first.cookie ?? '', /;\s*Secure/i, 'the cookie is marked Secure');
        assert.match(first.body, /<mechanism>/, 'BOSH through HAProxy is secure too');
        const sid = /sid=['"]([^'"]+)['"]/.exec(first.body)?.[1];
        assert.ok(sid, 'the session was created');
        const other = pinned[1] === 'ratatosk-1' ? 'ratatosk-2' : 'ratatosk-1';
        const wrongNode = (await bosh(`<body rid='1001' sid='${sid}' ${BOSH_NS}/>`, `RATATOSK_NODE=${other}`)).body;
        assert.match(wrongNode, /type=['"]terminate['"]/, `the other node does not know the session: ${wrongNode}`);
        const sameNode = (await bosh(`<body rid='1001' sid='${sid}' ${BOSH_NS}/>`, `RATATOSK_NODE=${pinned[1]}`)).body;
        assert.doesNotMatch(sameNode, /terminate/, `the pinned node holds the session: ${sameNode}`);
      } catch (err) {
        throw new Error(`${err instanceof Error ? err.message : String(err)}\nHAProxy said:\n${proxy.log()}`, { cause: err });
      } finally {
        await proxy.stop();
      }
    });

    it('an @xmpp/client logs in over wss:// through HAProxy on nodes that require TLS, because HAProxy says https', async function () {
      if (!installed('haproxy')) skipLoudly(this, 'haproxy is not installed (apt-get install haproxy)');
      certs ??= await makeCertificates(join(dir, 'certs'));
      const front = await freeBlock(4);
      const shipped = await localHaproxyConfig(front, certs.dir);
      const proxy = await runHaproxy(shipped, 'haproxy-login.cfg', front);
      try {
        const xmpp = client({ service: `wss://127.0.0.1:${front + 2}/xmpp-websocket`, domain: 'localhost', username: 'user1', password: 'secret' });
        xmpp.reconnect.stop();
        xmpp.on('error', () => undefined);
        const jid = await xmpp.start();
        assert.match(jid.toString(), /^user1@localhost\//);
        await xmpp.stop();
      } catch (err) {
        throw new Error(`${err instanceof Error ? err.message : String(err)}\nHAProxy said:\n${proxy.log()}`, { cause: err });
      } finally {
        await proxy.stop();
      }
      // Control: the same file without its X-Forwarded-Proto line. TLS still ends at HAProxy, but the
      // nodes are not told, so they do not offer a login: it was HAProxy's word that made it secure.
      const line = /^\s*http-request set-header X-Forwarded-Proto https\n/m;
      assert.match(shipped, line);
      const silent = await runHaproxy(shipped.replace(line, ''), 'haproxy-silent.cfg', front);
      try {
        const frames = await websocketOpen(`wss://127.0.0.1:${front + 2}/xmpp-websocket`, certs.cert);
        assert.match(frames[1] ?? '', /<stream:features/);
        assert.doesNotMatch(frames[1] ?? '', /<mechanism>/, frames.join(' | '));
      } finally {
        await silent.stop();
      }
    });

    it('stops every node and its redis-server on SIGINT, and removes nothing it did not create', async () => {
      const running = script;
      assert.ok(running);
      const exited = new Promise<number | null>((done) => running.once('exit', (code) => done(code)));
      running.kill('SIGINT');
      const code = await exited;
      assert.equal(code, 130, output);
      assert.match(output, /stopped/);
      for (const port of [base - 1, base, base + 2, base + 10, base + 12]) assert.equal(await portAnswers(port), false, `port ${port} is closed`);
      // --dir was given, so the script keeps it and says so.
      assert.ok(existsSync(join(dir, 'cluster', 'node-1')));
      assert.match(output, /kept in/);
    });
  });
});
