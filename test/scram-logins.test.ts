// Real logins over TCP with every SCRAM mechanism (RFC 5802, RFC 7677, SCRAM-SHA-512) and PLAIN, on
// STARTTLS and direct TLS; the -PLUS variants with tls-exporter (RFC 9266), tls-server-end-point and
// tls-unique (RFC 5929) advertised per XEP-0440; GS2 flag and channel-binding failures; XEP-0474 h=;
// the credential upgrade at a PLAIN login; `ratatosk user hashes`.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { deriveCredential } from '../src/auth/credentials.js';
import { openEmbeddedStores } from '../src/storage/embedded/index.js';
import { runCliCaptured } from './support/cli.js';
import { inet4, sslTlv, v2 } from './support/proxy-header.js';
import { rawLogin } from './support/raw-stream.js';
import { ScramConnection, type Security } from './support/scram-client.js';
import { startTestServer, type TestServer } from './support/server.js';

const SCRAM = ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];
const NO_THROTTLE = { failuresBeforeDelay: 1000, addressFailuresBeforeDelay: 1000, lockoutFailures: 0 };

describe('SCRAM logins over TCP', function () {
  this.timeout(60_000);
  let server: TestServer;
  const open: ScramConnection[] = [];

  before(async () => {
    server = await startTestServer({ auth: NO_THROTTLE });
    await server.addUser('juliet', 'r0m30');
  });
  after(async () => {
    await server?.stop();
  });
  afterEach(() => {
    for (const conn of open.splice(0)) conn.destroy();
  });

  async function connect(security: Security, port = security === 'direct' ? server.ports.c2sTls : server.ports.c2s, tlsMax?: 'TLSv1.2'): Promise<ScramConnection> {
    const conn = await ScramConnection.open(port, security, tlsMax);
    open.push(conn);
    return conn;
  }

  for (const security of ['starttls', 'direct'] as const) {
    describe(security === 'starttls' ? 'STARTTLS on the c2s port' : 'direct TLS (XEP-0368)', () => {
      it('offers every mechanism with its -PLUS variant, and the TLS 1.3 channel-binding types (XEP-0440)', async () => {
        const conn = await connect(security);
        assert.equal(conn.tlsSocket?.getProtocol(), 'TLSv1.3');
        assert.deepEqual(conn.offered, {
          mechanisms: ['SCRAM-SHA-512-PLUS', 'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-512', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'],
          channelBindings: ['tls-exporter', 'tls-server-end-point'],
        });
        assert.match(conn.features, /<sasl-channel-binding xmlns="urn:xmpp:sasl-cb:0">/);
      });

      for (const mechanism of SCRAM) {
        it(`logs in with ${mechanism}, the server's signature verified`, async () => {
          const outcome = await (await connect(security)).scram({ mechanism, username: 'juliet', password: 'r0m30' });
          assert.deepEqual([outcome.result, outcome.serverVerified], ['success', true]);
        });

        for (const type of ['tls-exporter', 'tls-server-end-point']) {
          it(`logs in with ${mechanism}-PLUS bound with ${type}`, async () => {
            const outcome = await (await connect(security)).scram({ mechanism: `${mechanism}-PLUS`, username: 'juliet', password: 'r0m30', flag: type });
            assert.deepEqual([outcome.result, outcome.serverVerified], ['success', true]);
          });
        }
      }

      it('logs in with PLAIN', async () => {
        assert.equal(await (await connect(security)).plain('juliet', 'r0m30'), 'success');
      });
    });
  }

  it('binds to tls-unique on TLS 1.2 (no tls-exporter offered there)', async () => {
    const conn = await connect('starttls', server.ports.c2s, 'TLSv1.2');
    assert.equal(conn.tlsSocket?.getProtocol(), 'TLSv1.2');
    assert.deepEqual(conn.offered.channelBindings, ['tls-unique', 'tls-server-end-point']);
    const outcome = await conn.scram({ mechanism: 'SCRAM-SHA-256-PLUS', username: 'juliet', password: 'r0m30', flag: 'tls-unique' });
    assert.deepEqual([outcome.result, outcome.serverVerified], ['success', true]);
  });

  it('fails the data of another channel with not-authorized, the right password notwithstanding', async () => {
    // The client's tls-exporter of a second connection: what a man in the middle's own TLS session would give.
    const other = await connect('direct');
    const conn = await connect('starttls');
    const outcome = await conn.scram({ mechanism: 'SCRAM-SHA-256-PLUS', username: 'juliet', password: 'r0m30', bindingData: other.bindingData('tls-exporter') });
    assert.equal(outcome.result, 'not-authorized');
    const endPoint = await conn.scram({ mechanism: 'SCRAM-SHA-512-PLUS', username: 'juliet', password: 'r0m30', flag: 'tls-server-end-point', bindingData: createHash('sha256').update('another certificate').digest() });
    assert.equal(endPoint.result, 'not-authorized');
    // Control: on the same stream, the right data logs in.
    assert.equal((await conn.scram({ mechanism: 'SCRAM-SHA-256-PLUS', username: 'juliet', password: 'r0m30' })).result, 'success');
  });

  it("fails the 'y' flag where -PLUS is offered (RFC 5802 §6 downgrade detection)", async () => {
    const conn = await connect('starttls');
    assert.equal((await conn.scram({ mechanism: 'SCRAM-SHA-256', username: 'juliet', password: 'r0m30', flag: 'y' })).result, 'not-authorized');
    assert.equal((await conn.scram({ mechanism: 'SCRAM-SHA-256', username: 'juliet', password: 'r0m30', flag: 'n' })).result, 'success');
  });

  it('sends the XEP-0474 h= attribute: the hash of what the features offered', async () => {
    for (const [mechanism, hash] of [['SCRAM-SHA-256-PLUS', 'sha256'], ['SCRAM-SHA-512', 'sha512'], ['SCRAM-SHA-1', 'sha1']] as const) {
      const conn = await connect('starttls');
      const { mechanisms, channelBindings } = conn.offered;
      const text = `${[...mechanisms].sort().join('\u001e')}\u001f${[...channelBindings].sort().join('\u001e')}`;
      const outcome = await conn.scram({ mechanism, username: 'juliet', password: 'r0m30' });
      assert.equal(outcome.result, 'success');
      assert.equal(/,h=([^,]+)/.exec(outcome.serverFirst)?.[1], createHash(hash).update(text).digest('base64'), mechanism);
    }
  });

  describe('without TLS', () => {
    let plainServer: TestServer;
    before(async () => {
      plainServer = await startTestServer({ c2s: { requireTls: false }, auth: NO_THROTTLE });
      await plainServer.addUser('juliet', 'r0m30');
    });
    after(async () => {
      await plainServer?.stop();
    });

    it('offers no -PLUS and no channel-binding types, and refuses -PLUS with encryption-required', async () => {
      const conn = await connect('plain', plainServer.ports.c2s);
      assert.deepEqual(conn.offered, { mechanisms: ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'], channelBindings: [] });
      assert.equal(await conn.rawAuth('SCRAM-SHA-256-PLUS', 'p=tls-exporter,,n=juliet,r=abcdef'), 'encryption-required');
      // A p= flag with a mechanism that is not -PLUS is malformed (RFC 5802 §6).
      assert.equal(await conn.rawAuth('SCRAM-SHA-256', 'p=tls-exporter,,n=juliet,r=abcdef'), 'malformed-request');
      // Control: 'y' is right here (no -PLUS offered), and logs in.
      const outcome = await conn.scram({ mechanism: 'SCRAM-SHA-512', username: 'juliet', password: 'r0m30', flag: 'y' });
      assert.deepEqual([outcome.result, outcome.serverVerified], ['success', true]);
    });
  });
});

describe('SCRAM -PLUS in SASL2 (XEP-0388)', function () {
  this.timeout(30_000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ c2s: { sasl2: true }, auth: NO_THROTTLE });
    await server.addUser('juliet', 'r0m30');
  });
  after(async () => {
    await server?.stop();
  });

  it('offers -PLUS in <authentication/> on TLS, binds, checks the data, and sends h= of the SASL2 offer', async () => {
    const conn = await ScramConnection.open(server.ports.c2s, 'starttls');
    try {
      const sasl2 = /<authentication xmlns="urn:xmpp:sasl:2">([\s\S]*?)<inline>/.exec(conn.features)?.[1] ?? '';
      const mechanisms = [...sasl2.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1] ?? '');
      assert.ok(mechanisms.includes('SCRAM-SHA-512-PLUS'), conn.features);
      const wrong = await conn.scram({ mechanism: 'SCRAM-SHA-512-PLUS', username: 'juliet', password: 'r0m30', sasl2: true, bindingData: Buffer.alloc(32, 1) });
      assert.equal(wrong.result, 'not-authorized');
      const outcome = await conn.scram({ mechanism: 'SCRAM-SHA-512-PLUS', username: 'juliet', password: 'r0m30', sasl2: true });
      assert.deepEqual([outcome.result, outcome.serverVerified], ['success', true]);
      const text = `${[...mechanisms].sort().join('\u001e')}\u001f${[...conn.offered.channelBindings].sort().join('\u001e')}`;
      assert.equal(/,h=([^,]+)/.exec(outcome.serverFirst)?.[1], createHash('sha512').update(text).digest('base64'));
    } finally {
      conn.destroy();
    }
  });

  it('offers no -PLUS in SASL2 without TLS', async () => {
    const plain = await startTestServer({ c2s: { sasl2: true, requireTls: false } });
    try {
      const conn = await ScramConnection.open(plain.ports.c2s, 'plain');
      assert.match(conn.features, /<authentication xmlns="urn:xmpp:sasl:2"><mechanism>SCRAM-SHA-512<\/mechanism>/);
      assert.doesNotMatch(conn.features, /-PLUS/);
      conn.destroy();
    } finally {
      await plain.stop();
    }
  });
});

describe('behind a TLS-terminating proxy (PROXY protocol v2 with PP2_CLIENT_SSL)', function () {
  this.timeout(30_000);
  const BALANCER = '127.0.0.9';
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ c2s: { proxyProtocolFrom: [BALANCER] }, auth: NO_THROTTLE });
    await server.addUser('juliet', 'r0m30');
  });
  after(async () => {
    await server?.stop();
  });

  it('offers no -PLUS (no TLS of ours to bind to) and refuses it with invalid-mechanism; plain SCRAM works', async () => {
    const header = v2(1, 0x11, inet4('192.0.2.79', '192.0.2.1', 40000, 5223), [sslTlv(1)]);
    const socket = net.connect({ host: '127.0.0.1', port: server.ports.c2s, localAddress: BALANCER });
    await new Promise((resolve) => socket.once('connect', resolve));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const until = async (pattern: RegExp): Promise<void> => {
      for (let i = 0; i < 100 && !pattern.test(text); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.match(text, pattern);
    };
    try {
      socket.write(Buffer.concat([header, Buffer.from("<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")]));
      await until(/<\/stream:features>/);
      assert.match(text, /<mechanism>SCRAM-SHA-512<\/mechanism>/, 'the proxy said TLS: login is offered');
      assert.doesNotMatch(text, /-PLUS|sasl-channel-binding/);
      socket.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256-PLUS'>${Buffer.from('p=tls-exporter,,n=juliet,r=abcdef').toString('base64')}</auth>`);
      await until(/<failure[^>]*><invalid-mechanism\/>/);
      // 'y' is right here: no -PLUS on this connection.
      socket.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>${Buffer.from('y,,n=juliet,r=abcdef').toString('base64')}</auth>`);
      await until(/<challenge[^>]*>/);
    } finally {
      socket.destroy();
    }
  });
});

describe('SCRAM credential upgrade', function () {
  this.timeout(60_000);
  let server: TestServer;
  let conns: ScramConnection[] = [];
  before(async () => {
    server = await startTestServer({ auth: { ...NO_THROTTLE, scramIterations: 4096 } });
  });
  after(async () => {
    await server?.stop();
  });
  afterEach(() => {
    for (const conn of conns) conn.destroy();
    conns = [];
  });
  const connect = async (): Promise<ScramConnection> => {
    const conn = await ScramConnection.open(server.ports.c2s, 'starttls');
    conns.push(conn);
    return conn;
  };

  it('an account with SHA-1 keys only gets SHA-256 and SHA-512 keys at a PLAIN login, then SCRAM-SHA-512 works', async () => {
    const accounts = server.server.stores.accounts;
    assert.equal(await accounts.create('romeo', { sha1: await deriveCredential('sha1', 'capulet', undefined, 4096) }), true);
    const sha1 = (await accounts.get('romeo'))?.credentials.sha1;

    // Before: SHA-512 fails cleanly, as for a wrong password; SHA-1 works (control).
    assert.equal((await (await connect()).scram({ mechanism: 'SCRAM-SHA-512', username: 'romeo', password: 'capulet' })).result, 'not-authorized');
    assert.equal((await (await connect()).scram({ mechanism: 'SCRAM-SHA-1', username: 'romeo', password: 'capulet' })).result, 'success');
    assert.deepEqual(Object.keys((await accounts.get('romeo'))?.credentials ?? {}), ['sha1'], 'a SCRAM login derives nothing');

    assert.equal(await (await connect()).plain('romeo', 'capulet'), 'success');
    await waitFor(async () => (await accounts.get('romeo'))?.credentials.sha512 !== undefined);
    const upgraded = (await accounts.get('romeo'))?.credentials;
    assert.deepEqual(Object.keys(upgraded ?? {}).sort(), ['sha1', 'sha256', 'sha512']);
    assert.deepEqual(upgraded?.sha1, sha1, 'keys that were current are kept');

    for (const mechanism of ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'SCRAM-SHA-512-PLUS']) {
      const outcome = await (await connect()).scram({ mechanism, username: 'romeo', password: 'capulet' });
      assert.deepEqual([outcome.result, outcome.serverVerified], ['success', true], mechanism);
    }
  });

  it('keys with an old iteration count are derived again at a PLAIN login; a wrong password changes nothing', async () => {
    const accounts = server.server.stores.accounts;
    const old = { sha1: await deriveCredential('sha1', 'nurse', undefined, 1000), sha256: await deriveCredential('sha256', 'nurse', undefined, 1000), sha512: await deriveCredential('sha512', 'nurse', undefined, 4096) };
    assert.equal(await accounts.create('angelica', old), true);
    assert.equal(await (await connect()).plain('angelica', 'wrong'), 'not-authorized');
    assert.deepEqual((await accounts.get('angelica'))?.credentials, old);
    assert.equal(await (await connect()).plain('angelica', 'nurse'), 'success');
    await waitFor(async () => (await accounts.get('angelica'))?.credentials.sha256?.iterations === 4096);
    const now = (await accounts.get('angelica'))?.credentials;
    assert.equal(now?.sha1?.iterations, 4096);
    assert.deepEqual(now?.sha512, old.sha512);
    const outcome = await (await connect()).scram({ mechanism: 'SCRAM-SHA-256', username: 'angelica', password: 'nurse' });
    assert.equal(/,i=(\d+)/.exec(outcome.serverFirst)?.[1], '4096');
    assert.equal(outcome.result, 'success');
  });
});

describe('SCRAM hashes in the configuration and the CLI', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ratatosk-hashes-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a server with scram_hashes = ["SHA-256"] offers SCRAM-SHA-256 (and -PLUS) only', async () => {
    const server = await startTestServer({ auth: { scramHashes: ['sha256'] } });
    try {
      const conn = await ScramConnection.open(server.ports.c2s, 'starttls');
      assert.deepEqual(conn.offered.mechanisms, ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'PLAIN']);
      assert.equal(await conn.rawAuth('SCRAM-SHA-512', 'n,,n=juliet,r=abcdef'), 'invalid-mechanism');
      conn.destroy();
    } finally {
      await server.stop();
    }
  });

  it('an in-band password change (XEP-0077 §3.3) derives keys for exactly the configured hashes', async () => {
    const server = await startTestServer({ c2s: { requireTls: false }, auth: { scramHashes: ['sha256', 'sha512'] } });
    try {
      const accounts = server.server.stores.accounts;
      await accounts.create('romeo', { sha1: await deriveCredential('sha1', 'montague', undefined, 4096) });
      const { stream } = await rawLogin(server.ports.c2s, 'romeo', 'montague', 'pc');
      // The PLAIN login upgraded the account first (SHA-256, SHA-512 beside SHA-1).
      await waitFor(async () => (await accounts.get('romeo'))?.credentials.sha512 !== undefined);
      stream.write("<iq type='set' id='pw'><query xmlns='jabber:iq:register'><username>romeo</username><password>capulet</password></query></iq>");
      await stream.expect(/<iq[^>]*type="result"[^>]*id="pw"|<iq[^>]*id="pw"[^>]*type="result"/);
      stream.destroy();
      assert.deepEqual(Object.keys((await accounts.get('romeo'))?.credentials ?? {}).sort(), ['sha256', 'sha512']);
      const conn = await ScramConnection.open(server.ports.c2s, 'plain');
      const outcome = await conn.scram({ mechanism: 'SCRAM-SHA-512', username: 'romeo', password: 'capulet' });
      conn.destroy();
      assert.deepEqual([outcome.result, outcome.serverVerified], ['success', true]);
    } finally {
      await server.stop();
    }
  });

  it('user add derives the configured hashes; user hashes counts the accounts lacking each, or with an old count', async () => {
    const configFile = join(dir, 'ratatosk.toml');
    await writeFile(configFile, `domain = "example.org"\ndata_dir = "${dir}"\n[auth]\nscram_hashes = ["SHA-1", "SHA-256"]\nscram_iterations = 4096\n`);
    const cli = (args: string[]) => runCliCaptured(['--config', configFile, ...args], {});
    assert.equal((await cli(['user', 'add', 'a@example.org', '--password', 'pw'])).code, 0);
    const stores = await openEmbeddedStores(dir);
    try {
      assert.deepEqual(Object.keys((await stores.accounts.get('a'))?.credentials ?? {}).sort(), ['sha1', 'sha256']);
      await stores.accounts.create('b', { sha1: await deriveCredential('sha1', 'pw', undefined, 4096) });
      await stores.accounts.create('c', { sha256: await deriveCredential('sha256', 'pw', undefined, 1000), sha512: await deriveCredential('sha512', 'pw', undefined, 4096) });
    } finally {
      await stores.close();
    }
    const before = await cli(['user', 'hashes']);
    assert.equal(before.code, 0, before.err);
    assert.deepEqual(before.out.trim().split('\n'), [
      '3 accounts; scram_iterations 4096',
      'SCRAM-SHA-1: missing in 1, other iteration count in 0',
      'SCRAM-SHA-256: missing in 1, other iteration count in 1',
      'SCRAM-SHA-512 (not offered): missing in 2, other iteration count in 0',
    ]);
    // user passwd derives the configured hashes, dropping keys of the old password for others.
    assert.equal((await cli(['user', 'passwd', 'c@example.org', '--password', 'new'])).code, 0);
    const report = await cli(['user', 'hashes']);
    assert.equal(report.code, 0, report.err);
    assert.deepEqual(report.out.trim().split('\n'), [
      '3 accounts; scram_iterations 4096',
      'SCRAM-SHA-1: missing in 0, other iteration count in 0',
      'SCRAM-SHA-256: missing in 1, other iteration count in 0',
      'SCRAM-SHA-512 (not offered): missing in 3, other iteration count in 0',
    ]);
  });
});

describe('scram_hashes validation', () => {
  it('refuses an unknown hash with a clear message, and an empty list', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ratatosk-hashes-'));
    try {
      const configFile = join(dir, 'ratatosk.toml');
      for (const [value, message] of [['["SHA-384"]', /auth\.scram_hashes\[0\]: expected one of SHA-1, SHA-256, SHA-512, got "SHA-384"/], ['[]', /auth\.scram_hashes: expected at least one SCRAM hash/]] as const) {
        await writeFile(configFile, `domain = "example.org"\ndata_dir = "${dir}"\n[auth]\nscram_hashes = ${value}\n`);
        const res = await runCliCaptured(['--config', configFile, 'user', 'hashes'], {});
        assert.notEqual(res.code, 0);
        assert.match(res.err, message);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
