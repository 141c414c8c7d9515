// The TLS certificate for the c2s listeners: the operator's PEM pair when configured, else a
// self-signed certificate generated once into <dataDir>/tls/<domain>.crt/.key and reused, so a
// fresh clone serves TLS (and STARTTLS) without any set-up.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import type { Config } from '../config/types.js';
import { ServerError } from '../errors.js';
import type { Logger } from '../observability/log.js';

export interface TlsCredentials {
  /** PEM certificate (chain, when configured). */
  cert: string;
  /** PEM private key. */
  key: string;
  /** SHA-256 fingerprint of the leaf certificate, colon-separated hex. */
  fingerprint: string;
  /** The leaf certificate is signed by its own key, so clients cannot verify it against a CA. */
  selfSigned: boolean;
}

const VALIDITY_YEARS = 10;

export async function loadOrCreateCertificate(config: Config, log: Logger): Promise<TlsCredentials> {
  const { cert: certPath, key: keyPath } = config.tls;
  if (certPath !== undefined && keyPath !== undefined) return loadConfigured(config.domain, certPath, keyPath, log);
  if (certPath !== undefined || keyPath !== undefined) {
    const [set, missing] = certPath !== undefined ? ['tls.cert', 'tls.key'] : ['tls.key', 'tls.cert'];
    throw new ServerError('CONFIG_INVALID', `${missing} is required when ${set} is set (give both, or neither for a self-signed certificate)`);
  }
  return loadOrCreateSelfSigned(config, log);
}

async function loadConfigured(domain: string, certPath: string, keyPath: string, log: Logger): Promise<TlsCredentials> {
  const cert = await readPem(certPath, 'tls.cert');
  const key = await readPem(keyPath, 'tls.key');
  const x509 = parsePair(cert, certPath, key, keyPath);
  const credentials = describe(cert, key, x509);
  log.info({ path: certPath, fingerprint: credentials.fingerprint, subject: x509.subject, validTo: x509.validTo }, `loaded TLS certificate for ${domain}`);
  if (isExpired(x509)) log.warn({ path: certPath, validTo: x509.validTo }, 'the configured TLS certificate has expired; clients will refuse it');
  if (!coversDomain(x509, domain)) log.warn({ path: certPath, subjectAltName: x509.subjectAltName }, `the configured TLS certificate does not name ${domain}`);
  return credentials;
}

async function loadOrCreateSelfSigned(config: Config, log: Logger): Promise<TlsCredentials> {
  const dir = join(config.dataDir, 'tls');
  const certPath = join(dir, `${config.domain}.crt`);
  const keyPath = join(dir, `${config.domain}.key`);

  const existingCert = await readIfExists(certPath);
  const existingKey = await readIfExists(keyPath);
  if (existingCert !== undefined && existingKey !== undefined) {
    const x509 = parsePair(existingCert, certPath, existingKey, keyPath, ` (delete ${certPath} and ${keyPath} to generate a new one)`);
    if (!isExpired(x509)) {
      const credentials = describe(existingCert, existingKey, x509);
      log.info({ path: certPath, fingerprint: credentials.fingerprint, validTo: x509.validTo }, `using self-signed certificate for ${config.domain}`);
      return credentials;
    }
    log.warn({ path: certPath, validTo: x509.validTo }, `self-signed certificate for ${config.domain} has expired; replacing it`);
  } else if (existingCert !== undefined || existingKey !== undefined) {
    log.warn({ path: existingCert !== undefined ? keyPath : certPath }, `half of the self-signed certificate pair for ${config.domain} is missing; replacing both`);
  }

  const { cert, key } = await generateSelfSigned(config.domain);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Key first, each written under a temporary name and renamed, so a crash never leaves a torn file.
  await writeAtomic(keyPath, key, 0o600);
  await writeAtomic(certPath, cert, 0o644);
  const credentials = describe(cert, key, new X509Certificate(cert));
  log.info({ path: certPath, fingerprint: credentials.fingerprint }, `created self-signed certificate for ${config.domain}`);
  return credentials;
}

async function generateSelfSigned(domain: string): Promise<{ cert: string; key: string }> {
  const notBefore = new Date(Date.now() - 60 * 60 * 1000); // an hour back, for clients with a slow clock
  const notAfter = new Date(notBefore);
  notAfter.setFullYear(notAfter.getFullYear() + VALIDITY_YEARS);
  const domainIsIp = isIP(domain) !== 0;
  const dnsNames = domainIsIp ? ['localhost'] : [...new Set([domain, `*.${domain}`, 'localhost'])];
  const ips = [...new Set([...(domainIsIp ? [domain] : []), '127.0.0.1', '::1'])];
  const pems = await generate([{ name: 'commonName', value: domain }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...dnsNames.map((value) => ({ type: 2 as const, value })), ...ips.map((ip) => ({ type: 7 as const, ip }))],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

async function readPem(path: string, setting: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : String(err);
    throw new ServerError('TLS_CERT_INVALID', `cannot read ${setting} ${path}: ${code}`);
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return undefined;
    const code = err instanceof Error && 'code' in err ? String(err.code) : String(err);
    throw new ServerError('TLS_CERT_INVALID', `cannot read ${path}: ${code}`);
  }
}

/** Parses the certificate and key and checks that they belong together. */
function parsePair(cert: string, certPath: string, key: string, keyPath: string, hint = ''): X509Certificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new ServerError('TLS_CERT_INVALID', `${certPath} is not a PEM certificate: ${reason(err)}${hint}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new ServerError('TLS_CERT_INVALID', `${keyPath} is not an unencrypted PEM private key: ${reason(err)}${hint}`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new ServerError('TLS_CERT_INVALID', `the private key ${keyPath} does not match the certificate ${certPath}${hint}`);
  }
  return x509;
}

function describe(cert: string, key: string, x509: X509Certificate): TlsCredentials {
  // Not checkIssued(): OpenSSL also demands keyCertSign there, which a leaf certificate lacks.
  const selfSigned = x509.subject === x509.issuer && x509.verify(x509.publicKey);
  return { cert, key, fingerprint: x509.fingerprint256, selfSigned };
}

function isExpired(x509: X509Certificate): boolean {
  return Date.parse(x509.validTo) <= Date.now();
}

function coversDomain(x509: X509Certificate, domain: string): boolean {
  return isIP(domain) !== 0 ? x509.checkIP(domain) !== undefined : x509.checkHost(domain) !== undefined;
}

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await rm(tmp, { force: true }); // a leftover from a crash could carry wider permissions
  await writeFile(tmp, data, { mode, flag: 'wx' });
  await chmod(tmp, mode); // the umask may have narrowed or the file may have existed
  await rename(tmp, path);
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
