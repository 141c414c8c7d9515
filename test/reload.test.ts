// Reloading the configuration of a running `ratatosk serve` (a real child process) with SIGHUP and with
// `ratatosk reload`: the log level reaches loggers made at start, limits reach new connections, the in-band
// registration switch, the admin list and the TLS certificate (direct TLS, STARTTLS and tls-server-end-point)
// change, the idle-memory mode turns off, other keys are reported as needing a restart, a bad file changes
// nothing, and a logged-in session keeps sending and receiving throughout.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { xml } from '@xmpp/client';
import { generate } from 'selfsigned';
import { connect, type TestClient } from './support/clients.js';
import { runCliProcess, type CliResult } from './support/cli.js';
import { rawConnect, STREAM_OPEN } from './support/raw.js';
import { ScramConnection } from './support/scram-client.js';
import { until } from './support/until.js';
import { deriveCredentials } from '../src/auth/credentials.js';
import { loadConfig } from '../src/config/index.js';
import { MODULE_CONFIGS, MODULE_STORES } from '../src/main.js';
import { openStores } from '../src/storage/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const COMMANDS = 'http://jabber.org/protocol/commands';
const ADMIN = 'http://jabber.org/protocol/admin';
const REGISTER_FEATURE = /<register xmlns=["']http:\/\/jabber\.org\/features\/iq-register["']\/>/;

interface Settings {
  logLevel: string;
  maxConnections: number;
  c2sPort: number;
  c2sHost: string;
  allowRegistration: boolean;
  admins: string[];
}

async function makeCertificate(): Promise<{ cert: string; key: string; fingerprint: string }> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'rsa', keySize: 2048, algorithm: 'sha256' });
  return { cert: pems.cert, key: pems.private, fingerprint: new X509Certificate(pems.cert).fingerprint256 };
}

/** The fingerprint of the certificate a new direct-TLS connection is served. */
async function servedFingerprint(port: number): Promise<string> {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
  socket.destroy();
  return fingerprint;
}

/** The fingerprint of the certificate STARTTLS on the c2s port is served. */
async function startTlsFingerprint(port: number): Promise<string> {
  const connection = await ScramConnection.open(port, 'starttls');
  try {
    return connection.tlsSocket?.getPeerX509Certificate()?.fingerprint256 ?? '';
  } finally {
    connection.destroy();
  }
}

describe('reload: SIGHUP and `ratatosk reload` on a running `ratatosk serve`', function () {
  this.timeout(120_000);
  let dir: string;
  let dataDir: string;
  let configFile: string;
  let certFile: string;
  let keyFile: string;
  let child: ChildProcessWithoutNullStreams;
  let stderr = '';
  const ports = { c2s: 0, c2sTls: 0, http: 0 };
  let alice: TestClient;
  let bob: TestClient;
  let settings: Settings = { logLevel: 'info', maxConnections: 10, c2sPort: 0, c2sHost: '127.0.0.1', allowRegistration: false, admins: ['alice@localhost'] };

  const writeConfig = (changes: Partial<Settings>, extra = ''): Promise<void> => {
    settings = { ...settings, ...changes };
    const text = [
      `log_level = "${settings.logLevel}"`,
      `data_dir = ${JSON.stringify(dataDir)}`,
      `admins = ${JSON.stringify(settings.admins)}`,
      extra,
      '[c2s]',
      `host = "${settings.c2sHost}"`,
      `port = ${settings.c2sPort}`,
      'tls_port = 0',
      'require_tls = false',
      '[http]',
      'host = "127.0.0.1"',
      'port = 0',
      '[admin]',
      'port = 0',
      '[tls]',
      `cert = ${JSON.stringify(certFile)}`,
      `key = ${JSON.stringify(keyFile)}`,
      '[limits]',
      `max_connections_per_address = ${settings.maxConnections}`,
      'max_pre_auth_per_address = 2',
      '[registration]',
      `allow = ${settings.allowRegistration}`,
      '',
    ].join('\n');
    return writeFile(configFile, text);
  };

  const ratatosk = (...args: string[]): Promise<CliResult> => runCliProcess(configFile, dataDir, args);

  /** Resolves with the first log line at or after `from` (an offset in stderr) that matches. */
  const logLine = (from: number, match: (line: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        for (const text of stderr.slice(from).split('\n')) {
          if (!text.startsWith('{')) continue;
          const line = JSON.parse(text) as Record<string, unknown>;
          if (match(line)) {
            child.stderr.off('data', check);
            clearTimeout(timer);
            resolve(line);
            return true;
          }
        }
        return false;
      };
      const timer = setTimeout(() => {
        child.stderr.off('data', check);
        reject(new Error(`no such log line; stderr since:\n${stderr.slice(from).slice(-3000)}`));
      }, timeoutMs);
      if (!check()) child.stderr.on('data', check);
    });

  /** SIGHUP, and the log line that says how the reload went. */
  const hangUp = async (): Promise<Record<string, unknown>> => {
    const from = stderr.length;
    child.kill('SIGHUP');
    return logLine(from, (l) => typeof l.msg === 'string' && /^configuration (not )?reloaded/.test(l.msg));
  };

  /** alice and bob still exchange messages over the connections they opened before. */
  const sessionsAlive = async (text: string): Promise<void> => {
    alice.xmpp.send(xml('message', { to: bob.jid, type: 'chat', id: `${text}-1` }, xml('body', {}, text)));
    const got = await bob.next((s) => s.is('message') && s.getChildText('body') === text);
    assert.equal(got.attrs.from, alice.jid);
    bob.xmpp.send(xml('message', { to: alice.jid, type: 'chat', id: `${text}-2` }, xml('body', {}, `re: ${text}`)));
    await alice.next((s) => s.is('message') && s.getChildText('body') === `re: ${text}`);
  };

  /** Whether a new plain stream is admitted (features arrive) or refused with policy-violation. */
  const newStream = async (): Promise<string> => {
    const peer = await rawConnect(ports.c2s);
    try {
      peer.write(STREAM_OPEN());
      const answer = await peer.waitFor(/<stream:features>[\s\S]*<\/stream:features>|<policy-violation[\s\S]*<\/stream:error>/);
      return answer[0];
    } finally {
      peer.destroy();
    }
  };

  /** An iq from a client, and the answer to it. */
  const ask = async (client: TestClient, id: string, payload: ReturnType<typeof xml>, to?: string): Promise<ReturnType<typeof xml>> => {
    client.xmpp.send(xml('iq', { type: 'set', id, ...(to === undefined ? {} : { to }) }, payload));
    return client.next((s) => s.is('iq') && s.attrs.id === id);
  };

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'ratatosk-reload-'));
    dataDir = join(dir, 'data');
    configFile = join(dir, 'ratatosk.toml');
    certFile = join(dir, 'server.crt');
    keyFile = join(dir, 'server.key');
    const first = await makeCertificate();
    await writeFile(certFile, first.cert);
    await writeFile(keyFile, first.key);
    await writeConfig({});
    // The accounts, in the store the server is about to open (fewer CLI processes on a busy machine).
    const config = loadConfig({ file: configFile, env: {}, modules: MODULE_CONFIGS });
    const stores = await openStores(config, { modules: MODULE_STORES });
    try {
      for (const [user, password] of [['alice', 'wonderland'], ['bob', 'builder']] as const) {
        assert.ok(await stores.accounts.create(user, await deriveCredentials(password, config.auth.scramIterations, config.auth.scramHashes)));
      }
    } finally {
      await stores.close();
    }
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('RATATOSK_')) env[key] = value;
    // The environment wins over the file at start and at each reload.
    env.RATATOSK_C2S_HOST = '127.0.0.1';
    child = spawn(process.execPath, ['--import', 'tsx', 'loadtest/tsung/ratatosk-cli.ts', '--config', configFile, 'serve'], { cwd: ROOT, env });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ready = await logLine(0, (l) => l.msg === 'Ratatosk is ready', 60_000);
    Object.assign(ports, { c2s: ready.c2s, c2sTls: ready.c2sTls, http: ready.http });
    const target = { ports, domain: 'localhost' };
    alice = await connect(target, { transport: 'tcp', username: 'alice', password: 'wonderland', resource: 'a' });
    bob = await connect(target, { transport: 'tcp', username: 'bob', password: 'builder', resource: 'b' });
  });

  after(async function () {
    await alice?.stop();
    await bob?.stop();
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('SIGHUP: debug lines from a logger made at start, a lower connection cap for new connections; the session goes on', async function () {
    // At info, a module's logger (made when the modules started) writes no debug line for a push registration.
    const before = stderr.length;
    const enabled = await ask(alice, 'push1', xml('enable', { xmlns: 'urn:xmpp:push:0', jid: 'push.example.org', node: 'n1' }));
    assert.equal(enabled.attrs.type, 'result', enabled.toString());
    assert.doesNotMatch(stderr.slice(before), /push enabled/);
    assert.match(await newStream(), /<stream:features>/);

    await writeConfig({ logLevel: 'debug', maxConnections: 2 });
    const reloaded = await hangUp();
    assert.equal(reloaded.msg, 'configuration reloaded', JSON.stringify(reloaded));
    assert.deepEqual(reloaded.applied, ['limits.max_connections_per_address', 'log_level']);
    assert.deepEqual(reloaded.needsRestart, []);

    const after = stderr.length;
    const again = await ask(alice, 'push2', xml('enable', { xmlns: 'urn:xmpp:push:0', jid: 'push.example.org', node: 'n2' }));
    assert.equal(again.attrs.type, 'result', again.toString());
    const line = await logLine(after, (l) => l.msg === 'push enabled');
    assert.equal(line.module, 'push');
    assert.equal(line.level, 20);

    // alice and bob hold two connections from 127.0.0.1: a third is refused.
    const refused = await newStream();
    assert.match(refused, /<policy-violation/);
    assert.match(refused, /too many connections from your address \(limit 2\)/);
    await sessionsAlive('after SIGHUP');
  });

  it('`ratatosk reload`: prints the keys applied and those that need a restart; the environment still wins', async function () {
    // c2s.host is set by RATATOSK_C2S_HOST: its change in the file is no change at all.
    await writeConfig({ maxConnections: 10, c2sPort: 15222, c2sHost: '0.0.0.0' });
    const result = await ratatosk('reload');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'applied: limits.max_connections_per_address\nneeds a restart: c2s.port (the old values stay in force until then)\n');
    assert.match(await newStream(), /<stream:features>/);
    await sessionsAlive('after ratatosk reload');
  });

  it('a file that does not load changes nothing: the CLI says why (exit 1), SIGHUP logs it; the server and the session go on', async function () {
    // The CLI reads the file too (for the data directory): it names the mistake before asking the server.
    await writeConfig({ maxConnections: 2 }, 'registration_typo = true');
    try {
      await badFiles();
    } finally {
      await writeConfig({ maxConnections: 10 });
    }
  });

  /** What the test above does with its bad files. */
  const badFiles = async (): Promise<void> => {
    const typo = await ratatosk('reload');
    assert.equal(typo.code, 1, typo.stdout);
    assert.match(typo.stderr, /configuration not reloaded \(a running server keeps its settings\): unknown key "registration_typo"/);

    // What only the server checks: the certificate pair (here a key that is not the certificate's).
    const stray = await makeCertificate();
    await writeFile(join(dir, 'stray.key'), stray.key);
    await writeFile(configFile, (await readFile(configFile, 'utf8')).replace('registration_typo = true', '').replace(keyFile, join(dir, 'stray.key')));
    const mismatch = await ratatosk('reload');
    assert.equal(mismatch.code, 1, mismatch.stdout);
    assert.match(mismatch.stderr, /configuration not reloaded \(the server keeps running with its settings\): the private key .*stray\.key does not match the certificate/);

    await writeFile(configFile, 'log_level = "info"\n[limits\nmax_connections_per_address = 2\n');
    const logged = await hangUp();
    assert.equal(logged.msg, 'configuration not reloaded: the running server keeps its settings');
    assert.match(String(logged.reason), /ratatosk\.toml:2:/);
    assert.equal(child.exitCode, null);

    // Neither the cap of 2 (alice's and bob's connections) nor log_level = "info" came into force.
    assert.match(await newStream(), /<stream:features>/);
    const after = stderr.length;
    await ask(alice, 'push3', xml('enable', { xmlns: 'urn:xmpp:push:0', jid: 'push.example.org', node: 'n3' }));
    await logLine(after, (l) => l.msg === 'push enabled');
    await sessionsAlive('after a bad file');
  };

  it('registration.allow: new streams offer in-band registration after a reload, and stop offering it after the next', async function () {
    assert.doesNotMatch(await newStream(), REGISTER_FEATURE);
    await writeConfig({ allowRegistration: true });
    const on = await hangUp();
    assert.deepEqual(on.applied, ['registration.allow']);
    assert.match(await newStream(), REGISTER_FEATURE);

    await writeConfig({ allowRegistration: false });
    const off = await hangUp();
    assert.deepEqual(off.applied, ['registration.allow']);
    assert.doesNotMatch(await newStream(), REGISTER_FEATURE);
  });

  it('admins: a user added to the list may run a XEP-0133 command after a reload', async function () {
    const command = (): ReturnType<typeof xml> => xml('command', { xmlns: COMMANDS, node: `${ADMIN}#get-online-users-num`, action: 'execute' });
    const refused = await ask(bob, 'adm1', command(), 'localhost');
    assert.equal(refused.attrs.type, 'error');
    assert.ok(refused.getChild('error')?.getChild('forbidden'), refused.toString());

    await writeConfig({ admins: ['alice@localhost', 'bob@localhost'] });
    const reloaded = await hangUp();
    assert.deepEqual(reloaded.applied, ['admins']);
    const allowed = await ask(bob, 'adm2', command(), 'localhost');
    assert.equal(allowed.attrs.type, 'result', allowed.toString());
    assert.equal(allowed.getChild('command', COMMANDS)?.attrs.status, 'completed');
  });

  it('TLS: new files at the same paths are served to new direct-TLS and STARTTLS connections, and bound by tls-server-end-point', async function () {
    const old = new X509Certificate(await readFile(certFile));
    assert.equal(await servedFingerprint(ports.c2sTls), old.fingerprint256);
    const next = await makeCertificate();
    await writeFile(certFile, next.cert);
    await writeFile(keyFile, next.key);

    const result = await ratatosk('reload');
    assert.equal(result.code, 0, result.stderr);
    // Only the files changed: no key is applied (c2s.port, changed by an earlier test, still needs a restart).
    assert.equal(result.stdout.split('\n').slice(0, 2).join('\n'), `applied: nothing\nTLS certificate: now ${next.fingerprint}`);
    assert.equal(await servedFingerprint(ports.c2sTls), next.fingerprint);
    assert.equal(await startTlsFingerprint(ports.c2s), next.fingerprint);

    // SCRAM-*-PLUS with tls-server-end-point: the server binds to the certificate it now serves, not the old one.
    const bound = await ScramConnection.open(ports.c2sTls, 'direct');
    try {
      const outcome = await bound.scram({ mechanism: 'SCRAM-SHA-256-PLUS', username: 'alice', password: 'wonderland', flag: 'tls-server-end-point' });
      assert.equal(outcome.result, 'success');
    } finally {
      bound.destroy();
    }
    const stale = await ScramConnection.open(ports.c2sTls, 'direct');
    try {
      const oldBinding = createHash('sha256').update(old.raw).digest();
      const outcome = await stale.scram({ mechanism: 'SCRAM-SHA-256-PLUS', username: 'alice', password: 'wonderland', flag: 'tls-server-end-point', bindingData: oldBinding });
      assert.notEqual(outcome.result, 'success');
    } finally {
      stale.destroy();
    }
    await sessionsAlive('after a new certificate');
  });

  it('memory.favour_when_idle: an idle `serve` favours memory (/metrics), a reload turns that off; the session goes on', async function () {
    const favoured = async (): Promise<number | undefined> => {
      const res = await fetch(`http://127.0.0.1:${ports.http}/metrics`);
      assert.equal(res.status, 200);
      const line = (await res.text()).split('\n').find((l) => l.startsWith('ratatosk_memory_favoured '));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    };
    // The mode looks at the loop every 5 s and switches after one idle interval.
    await until(async () => (await favoured()) === 1, 'memory favoured once the server is idle', 15_000, 250);

    await writeConfig({}, '[memory]\nfavour_when_idle = false');
    const reloaded = await hangUp();
    assert.equal(reloaded.msg, 'configuration reloaded', JSON.stringify(reloaded));
    assert.deepEqual(reloaded.applied, ['memory.favour_when_idle']);
    await until(async () => (await favoured()) === 0, 'speed again after the reload', 8_000, 250);
    await sessionsAlive('after memory.favour_when_idle = false');
  });
});

