// The deployment files, checked as far as a machine without Docker allows:
//  - docker/redis/*.conf run for real (service names mapped to 127.0.0.1 and free ports): the three
//    Sentinels find the replica and each other, and promote the replica when the primary is killed;
//  - docker/compose.yaml parses (python3's yaml, when present) and agrees with the other files;
//  - docker/haproxy.cfg passes `haproxy -c`, docker/nginx.conf passes `nginx -t` (when installed);
//  - loadtest/cluster/start-local-cluster.sh starts two nodes that answer /healthz and stops them
//    all on SIGINT; HAProxy, run with docker/haproxy.cfg pointed at those nodes, passes client TCP,
//    WebSocket upgrades and BOSH through, and pins a BOSH client to one node with its cookie.
// Missing optional tools (python3 yaml, haproxy, nginx) skip their test loudly.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WebSocket } from 'ws';
import { startSentinelTopology, type SentinelConfigs, type SentinelLayout } from './support/redis-topologies.js';

const ROOT = resolve(import.meta.dirname, '..');
const DOCKER = join(ROOT, 'docker');
const SCRIPT = join(ROOT, 'loadtest', 'cluster', 'start-local-cluster.sh');

function skipLoudly(ctx: Mocha.Context, what: string): never {
  console.warn(`\n  !!! ${what}: SKIPPING this deployment check !!!\n`);
  ctx.skip();
}

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

/** The first bytes a TCP peer gets back after opening an XMPP stream. */
function tcpStreamReply(port: number): Promise<string> {
  return new Promise((done, fail) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      fail(new Error(`no stream features through port ${port}: ${text}`));
    }, 5000);
    socket.on('connect', () => socket.write(`<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`));
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
function websocketOpen(url: string): Promise<string[]> {
  return new Promise((done, fail) => {
    const ws = new WebSocket(url, ['xmpp']);
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
      for (const port of ['5222', '5223', '5280']) assert.ok(services.haproxy?.ports?.includes(`${port}:${port}`), `HAProxy publishes ${port}`);
      const trusted = nodes[0]?.[1].environment?.RATATOSK_TRUSTED_PROXIES;
      assert.ok(trusted && (await readFile(join(DOCKER, 'compose.yaml'), 'utf8')).includes(`ipv4_address: ${trusted}`), 'the trusted proxy is HAProxy\'s fixed address');
    });
  });

  describe('load balancer configurations', () => {
    it('docker/haproxy.cfg passes haproxy -c', function () {
      if (!installed('haproxy')) skipLoudly(this, 'haproxy is not installed (apt-get install haproxy)');
      const check = spawnSync('haproxy', ['-c', '-f', join(DOCKER, 'haproxy.cfg')], { encoding: 'utf8' });
      assert.equal(check.status, 0, check.stdout + check.stderr);
      // The only warnings allowed are the compose names that resolve only inside Docker.
      const warnings = (check.stdout + check.stderr).split('\n').filter((line) => line.includes('[WARNING]') && !/could not resolve address 'ratatosk-\d'/.test(line));
      assert.deepEqual(warnings, []);
    });

    it('docker/nginx.conf passes nginx -t', async function () {
      if (!installed('nginx')) skipLoudly(this, 'nginx is not installed (apt-get install nginx libnginx-mod-stream)');
      const dir = await mkdtemp(join(tmpdir(), 'ratatosk-nginx-'));
      try {
        // nginx resolves upstream names while it checks: point the compose names at loopback. Debian
        // builds the stream module as a loadable module.
        const module = ['/usr/lib/nginx/modules/ngx_stream_module.so', '/usr/share/nginx/modules/ngx_stream_module.so'].find((m) => existsSync(m));
        const text = (await readFile(join(DOCKER, 'nginx.conf'), 'utf8')).replace(/ratatosk-(\d)/g, '127.0.0.$1');
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
      if (!installed('redis-server', '--version')) {
        if (process.env.CI === 'true') throw new Error('redis-server is required under CI=true');
        skipLoudly(this, 'redis-server is not installed');
      }
      this.timeout(120_000);
      base = await freeBlock(20);
      dir = await mkdtemp(join(tmpdir(), 'ratatosk-local-cluster-test-'));
      script = spawn('bash', [SCRIPT, '-n', '2', '--base-port', String(base), '--users', '2', '--dir', join(dir, 'cluster'), '--log-level', 'warn'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      script.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      script.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      await until(`the script to print "ready" (output so far:\n${output})`, 110_000, async () => {
        if (script?.exitCode !== null) throw new Error(`the script exited (${String(script?.exitCode)}):\n${output}`);
        return output.includes('ready; press Ctrl-C') ? true : undefined;
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

    it('HAProxy with docker/haproxy.cfg passes client TCP, WebSocket and BOSH to the nodes, and keeps a BOSH client on one node', async function () {
      if (!installed('haproxy')) skipLoudly(this, 'haproxy is not installed (apt-get install haproxy)');
      const front = await freeBlock(4);
      // The same file, with the compose names pointed at the local nodes and the listeners on free ports.
      const nodePort = (n: number, port: number): number => base + 10 * (n - 1) + { 5222: 0, 5223: 1, 5280: 2 }[port as 5222 | 5223 | 5280];
      const config = (await readFile(join(DOCKER, 'haproxy.cfg'), 'utf8'))
        .replace(/ratatosk-([12]):(\d+)( check port 5280)?/g, (_m, n: string, port: string, check: string | undefined) =>
          `127.0.0.1:${nodePort(Number(n), Number(port))}${check ? ` check port ${nodePort(Number(n), 5280)}` : ''}`,
        )
        .replace(/^\s*server ratatosk-3 .*$/gm, '')
        // The file's maxconn needs the container's raised open-files limit (compose.yaml's ulimits).
        .replace(/^(\s*)maxconn \d+$/m, '$1maxconn 2000')
        .replace(/ resolvers docker/, '')
        .replace(/^resolvers docker[\s\S]*?(?=\n\S|\n#)/m, '')
        .replace(/bind :5222/, `bind 127.0.0.1:${front}`)
        .replace(/bind :5223/, `bind 127.0.0.1:${front + 1}`)
        .replace(/bind :5280/, `bind 127.0.0.1:${front + 2}`)
        .replace(/bind :8404/, `bind 127.0.0.1:${front + 3}`);
      assert.doesNotMatch(config, /ratatosk-\d:|bind :/, 'every server and listener was mapped');
      const cfgPath = join(dir, 'haproxy.cfg');
      await writeFile(cfgPath, config);
      let proxyLog = '';
      const proxy = spawn('haproxy', ['-db', '-f', cfgPath], { stdio: ['ignore', 'pipe', 'pipe'] });
      proxy.stdout.on('data', (c: Buffer) => (proxyLog += c.toString()));
      proxy.stderr.on('data', (c: Buffer) => (proxyLog += c.toString()));
      try {
        await until('HAProxy to listen', 10_000, async () => ((await portAnswers(front + 2)) ? true : undefined));
        // Health checks mark the servers up within a few check intervals.
        const seen = await until('both nodes to answer through HAProxy', 30_000, async () => {
          const nodes = new Set<string>();
          for (let i = 0; i < 6; i++) nodes.add((await healthOf(front + 2))?.node ?? '');
          return nodes.has('node-1') && nodes.has('node-2') ? nodes : undefined;
        });
        assert.ok(seen.has('node-1') && seen.has('node-2'));

        assert.match(await tcpStreamReply(front), /<stream:features/, 'a client stream on 5222 reaches a node');
        const frames = await websocketOpen(`ws://127.0.0.1:${front + 2}/xmpp-websocket`);
        assert.match(frames[0] ?? '', /^<open /, `the WebSocket upgrade passes HAProxy: ${frames.join(' | ')}`);
        assert.match(frames[1] ?? '', /<stream:features/);

        // BOSH: the first response sets the node cookie; a request carrying it lands on that node, so
        // the session answers; sent with the other node's cookie it reaches a node without the session.
        const bosh = (body: string, cookie?: string): Promise<Response> =>
          fetch(`http://127.0.0.1:${front + 2}/http-bind`, {
            method: 'POST',
            headers: { 'Content-Type': 'text/xml; charset=utf-8', ...(cookie ? { Cookie: cookie } : {}) },
            body,
          });
        const BOSH_NS = "xmlns='http://jabber.org/protocol/httpbind'";
        const first = await bosh(`<body rid='1000' to='localhost' xml:lang='en' wait='2' hold='1' ver='1.6' ${BOSH_NS} xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'/>`);
        assert.equal(first.status, 200);
        const pinned = /^RATATOSK_NODE=(ratatosk-[12]);/.exec(first.headers.get('set-cookie') ?? '');
        assert.ok(pinned?.[1], `HAProxy pins the BOSH client with a cookie: ${first.headers.get('set-cookie') ?? 'none'}`);
        const sid = /sid=['"]([^'"]+)['"]/.exec(await first.text())?.[1];
        assert.ok(sid, 'the session was created');
        const other = pinned[1] === 'ratatosk-1' ? 'ratatosk-2' : 'ratatosk-1';
        const wrongNode = await (await bosh(`<body rid='1001' sid='${sid}' ${BOSH_NS}/>`, `RATATOSK_NODE=${other}`)).text();
        assert.match(wrongNode, /type=['"]terminate['"]/, `the other node does not know the session: ${wrongNode}`);
        const sameNode = await (await bosh(`<body rid='1001' sid='${sid}' ${BOSH_NS}/>`, `RATATOSK_NODE=${pinned[1]}`)).text();
        assert.doesNotMatch(sameNode, /terminate/, `the pinned node holds the session: ${sameNode}`);
      } catch (err) {
        throw new Error(`${err instanceof Error ? err.message : String(err)}\nHAProxy said:\n${proxyLog}`, { cause: err });
      } finally {
        proxy.kill('SIGTERM');
        await new Promise((done) => (proxy.exitCode !== null ? done(undefined) : proxy.once('exit', done)));
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
