import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as tls from 'node:tls';
import { generate } from 'selfsigned';
import { loadConfig } from '../config/index.js';
import type { Config } from '../config/types.js';
import { ServerError } from '../errors.js';
import { createLogger } from '../observability/log.js';
import { loadOrCreateCertificate } from './certificate.js';

/** A logger whose JSON lines the test can read. */
function capture() {
  const lines: { level: number; msg: string; path?: string; fingerprint?: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as (typeof lines)[number]);
      done();
    },
  });
  return { log: createLogger('info', stream), lines };
}

async function rejectsWith(promise: Promise<unknown>, code: string, ...fragments: string[]): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ServerError, `expected a ServerError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const fragment of fragments) assert.ok(err.message.includes(fragment), `"${err.message}" should mention ${fragment}`);
    return true;
  });
}

describe('loadOrCreateCertificate', function () {
  this.timeout(60_000); // RSA key generation

  let dir: string;
  let config: Config;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ratatosk-cert-'));
    config = loadConfig({ env: {}, file: false, overrides: { domain: 'chat.example', dataDir: join(dir, 'data') } });
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('self-signed', () => {
    it('creates a certificate on first use, with private files, and logs its fingerprint', async () => {
      const { log, lines } = capture();
      const result = await loadOrCreateCertificate(config, log);
      assert.equal(result.selfSigned, true);

      const tlsDir = join(dir, 'data', 'tls');
      const certPath = join(tlsDir, 'chat.example.crt');
      const keyPath = join(tlsDir, 'chat.example.key');
      assert.equal(await readFile(certPath, 'utf8'), result.cert);
      assert.equal(await readFile(keyPath, 'utf8'), result.key);
      assert.equal((await stat(tlsDir)).mode & 0o777, 0o700);
      assert.equal((await stat(keyPath)).mode & 0o777, 0o600);

      const x509 = new X509Certificate(result.cert);
      assert.equal(result.fingerprint, x509.fingerprint256);
      assert.match(x509.subject, /CN=chat\.example/);
      for (const name of ['DNS:chat.example', 'DNS:*.chat.example', 'DNS:localhost', 'IP Address:127.0.0.1']) {
        assert.ok(x509.subjectAltName?.includes(name), `${name} in ${x509.subjectAltName}`);
      }
      assert.ok(x509.checkIP('::1'), 'names ::1');
      assert.ok(x509.checkHost('conference.chat.example'), 'the wildcard covers the MUC service');
      const years = (Date.parse(x509.validTo) - Date.now()) / (365.25 * 24 * 3600 * 1000);
      assert.ok(years > 9.9 && years < 10.1, `valid for ${years} years`);

      const created = lines.find((l) => l.msg === 'created self-signed certificate for chat.example');
      assert.ok(created, JSON.stringify(lines));
      assert.equal(created.level, 30);
      assert.equal(created.path, certPath);
      assert.equal(created.fingerprint, result.fingerprint);
    });

    it('reuses the files on later calls', async () => {
      const first = await loadOrCreateCertificate(config, capture().log);
      const { log, lines } = capture();
      const second = await loadOrCreateCertificate(config, log);
      assert.equal(second.fingerprint, first.fingerprint);
      assert.equal(second.key, first.key);
      assert.equal(second.selfSigned, true);
      const used = lines.find((l) => l.msg === 'using self-signed certificate for chat.example');
      assert.equal(used?.fingerprint, first.fingerprint);
      assert.ok(!lines.some((l) => l.msg.startsWith('created')));
    });

    it('replaces an expired certificate', async () => {
      const tlsDir = join(dir, 'data', 'tls');
      await loadOrCreateCertificate(config, capture().log);
      const expired = await generate([{ name: 'commonName', value: 'chat.example' }], {
        algorithm: 'sha256',
        notBeforeDate: new Date(Date.now() - 2 * 86_400_000),
        notAfterDate: new Date(Date.now() - 86_400_000),
      });
      await writeFile(join(tlsDir, 'chat.example.crt'), expired.cert);
      await writeFile(join(tlsDir, 'chat.example.key'), expired.private);
      const { log, lines } = capture();
      const renewed = await loadOrCreateCertificate(config, log);
      assert.notEqual(renewed.fingerprint, new X509Certificate(expired.cert).fingerprint256);
      assert.ok(Date.parse(new X509Certificate(renewed.cert).validTo) > Date.now());
      assert.ok(lines.some((l) => l.msg.startsWith('created self-signed certificate')));
    });

    it('refuses a damaged pair in the data directory instead of overwriting it', async () => {
      const tlsDir = join(dir, 'data', 'tls');
      await loadOrCreateCertificate(config, capture().log);
      const other = await generate([{ name: 'commonName', value: 'other' }], { algorithm: 'sha256' });
      await writeFile(join(tlsDir, 'chat.example.key'), other.private);
      await rejectsWith(loadOrCreateCertificate(config, capture().log), 'TLS_CERT_INVALID', join(tlsDir, 'chat.example.key'), 'delete');
    });

    it('serves a real TLS handshake', async () => {
      const credentials = await loadOrCreateCertificate(config, capture().log);
      const server = tls.createServer({ cert: credentials.cert, key: credentials.key }, (socket) => socket.end('hello'));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      try {
        const { port } = server.address() as AddressInfo;
        const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'chat.example' });
        await once(socket, 'secureConnect');
        assert.equal(socket.getPeerX509Certificate()?.fingerprint256, credentials.fingerprint);
        const [data] = (await once(socket, 'data')) as [Buffer];
        assert.equal(data.toString(), 'hello');
        socket.destroy();

        // Trusting the certificate itself, a client verifies the domain name against it.
        const verified = tls.connect({ host: '127.0.0.1', port, ca: credentials.cert, servername: 'chat.example' });
        await once(verified, 'secureConnect');
        assert.equal(verified.authorized, true, String(verified.authorizationError));
        verified.destroy();
      } finally {
        server.close();
      }
    });
  });

  describe('configured', () => {
    async function writePair(cert: string, key: string): Promise<{ cert: string; key: string }> {
      const paths = { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
      await writeFile(paths.cert, cert);
      await writeFile(paths.key, key);
      return paths;
    }

    it('loads the configured pair and does not create files', async () => {
      const pems = await generate([{ name: 'commonName', value: 'chat.example' }], { algorithm: 'sha256' });
      const paths = await writePair(pems.cert, pems.private);
      const { log, lines } = capture();
      const result = await loadOrCreateCertificate({ ...config, tls: paths }, log);
      assert.equal(result.cert, pems.cert);
      assert.equal(result.key, pems.private);
      assert.equal(result.fingerprint, new X509Certificate(pems.cert).fingerprint256);
      assert.equal(result.selfSigned, true);
      assert.ok(lines.some((l) => l.msg === 'loaded TLS certificate for chat.example' && l.fingerprint === result.fingerprint && l.path === paths.cert));
      await assert.rejects(stat(join(dir, 'data', 'tls')), { code: 'ENOENT' });
    });

    it('reports a CA-signed certificate as not self-signed, and warns when it does not name the domain', async () => {
      const ca = await generate([{ name: 'commonName', value: 'Test CA' }], {
        algorithm: 'sha256',
        extensions: [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }],
      });
      const leaf = await generate([{ name: 'commonName', value: 'other.example' }], { algorithm: 'sha256', ca: { key: ca.private, cert: ca.cert } });
      const paths = await writePair(leaf.cert, leaf.private);
      const { log, lines } = capture();
      const result = await loadOrCreateCertificate({ ...config, tls: paths }, log);
      assert.equal(result.selfSigned, false);
      assert.ok(lines.some((l) => l.level === 40 && l.msg.includes('does not name chat.example')), JSON.stringify(lines));
    });

    it('rejects a key that does not match the certificate, naming both paths', async () => {
      const a = await generate([{ name: 'commonName', value: 'a' }], { algorithm: 'sha256' });
      const b = await generate([{ name: 'commonName', value: 'b' }], { algorithm: 'sha256' });
      const paths = await writePair(a.cert, b.private);
      await rejectsWith(loadOrCreateCertificate({ ...config, tls: paths }, capture().log), 'TLS_CERT_INVALID', paths.cert, paths.key);
    });

    it('rejects files that are not PEM, naming the path', async () => {
      const pems = await generate([{ name: 'commonName', value: 'chat.example' }], { algorithm: 'sha256' });
      const badCert = await writePair('not a certificate', pems.private);
      await rejectsWith(loadOrCreateCertificate({ ...config, tls: badCert }, capture().log), 'TLS_CERT_INVALID', badCert.cert);
      const badKey = await writePair(pems.cert, 'not a key');
      await rejectsWith(loadOrCreateCertificate({ ...config, tls: badKey }, capture().log), 'TLS_CERT_INVALID', badKey.key);
    });

    it('rejects a missing file, naming the path', async () => {
      const missing = { cert: join(dir, 'missing.crt'), key: join(dir, 'missing.key') };
      await rejectsWith(loadOrCreateCertificate({ ...config, tls: missing }, capture().log), 'TLS_CERT_INVALID', missing.cert);
    });

    it('rejects only one of cert and key with CONFIG_INVALID', async () => {
      await rejectsWith(loadOrCreateCertificate({ ...config, tls: { cert: join(dir, 'x.crt') } }, capture().log), 'CONFIG_INVALID', 'tls.key', 'tls.cert');
      await rejectsWith(loadOrCreateCertificate({ ...config, tls: { key: join(dir, 'x.key') } }, capture().log), 'CONFIG_INVALID', 'tls.cert', 'tls.key');
    });
  });
});
