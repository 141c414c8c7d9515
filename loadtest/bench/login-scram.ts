// Client side of SCRAM-SHA-1 / SCRAM-SHA-256 (RFC 5802, RFC 7677) for the login benchmark, without
// channel binding (gs2 header "n,,"), built on node:crypto.
//
// The salted password is cached per (hash, password, salt, iterations), as real clients cache it
// (RFC 5802 §5.1 lets them): every benchmark user shares one credential, so the load generator pays
// for PBKDF2 once and the numbers measure the server, not the client's key derivation.
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

export type ScramHash = 'sha1' | 'sha256';

const KEY_LENGTH: Record<ScramHash, number> = { sha1: 20, sha256: 32 };
const GS2_HEADER = 'n,,';

interface Keys {
  clientKey: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

const keyCache = new Map<string, Promise<Keys>>();

function hmac(hash: ScramHash, key: Buffer, data: string): Buffer {
  return createHmac(hash, key).update(data).digest();
}

function keysFor(hash: ScramHash, password: string, salt: string, iterations: number): Promise<Keys> {
  const id = `${hash}\0${password}\0${salt}\0${iterations}`;
  let keys = keyCache.get(id);
  if (keys === undefined) {
    keys = pbkdf2Async(password, Buffer.from(salt, 'base64'), iterations, KEY_LENGTH[hash], hash).then((salted) => {
      const clientKey = hmac(hash, salted, 'Client Key');
      return { clientKey, storedKey: createHash(hash).update(clientKey).digest(), serverKey: hmac(hash, salted, 'Server Key') };
    });
    keyCache.set(id, keys);
  }
  return keys;
}

/** saslname (RFC 5802 §5.1): ',' and '=' are escaped. Benchmark passwords are ASCII, so no saslprep. */
function saslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    if (part.length >= 2 && part[1] === '=') out.set(part[0] ?? '', part.slice(2));
  }
  return out;
}

/** One exchange: first() gives the initial response, final() answers the challenge, verify() checks success data. */
export class ScramClient {
  private readonly clientNonce = randomBytes(18).toString('base64');
  private readonly firstBare: string;
  private expectedSignature: Buffer | undefined;

  constructor(private readonly hash: ScramHash, username: string, private readonly password: string) {
    this.firstBare = `n=${saslName(username)},r=${this.clientNonce}`;
  }

  first(): string {
    return GS2_HEADER + this.firstBare;
  }

  async final(serverFirst: string): Promise<string> {
    const attrs = attributes(serverFirst);
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (nonce === undefined || !nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) throw new Error(`SCRAM: bad nonce in "${serverFirst}"`);
    if (salt === undefined || !Number.isSafeInteger(iterations) || iterations < 1) throw new Error(`SCRAM: bad server-first-message "${serverFirst}"`);
    const keys = await keysFor(this.hash, this.password, salt, iterations);
    const withoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${nonce}`;
    const authMessage = `${this.firstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(this.hash, keys.storedKey, authMessage);
    const proof = Buffer.alloc(keys.clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = (keys.clientKey[i] ?? 0) ^ (signature[i] ?? 0);
    this.expectedSignature = hmac(this.hash, keys.serverKey, authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server signature (v=) carried by <success/>; the server proves it knows the key too. */
  verify(serverFinal: string): void {
    const v = attributes(serverFinal).get('v');
    const expected = this.expectedSignature;
    const got = v === undefined ? undefined : Buffer.from(v, 'base64');
    if (!expected || !got || got.length !== expected.length || !timingSafeEqual(got, expected)) {
      throw new Error(`SCRAM: server signature does not verify ("${serverFinal}")`);
    }
  }
}
