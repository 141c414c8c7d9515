// Stand-in SCRAM credentials for usernames with no account, so that a login attempt does not tell
// whether an account exists (RFC 5802 §5.1 leaves "simulated" exchanges to the server; RFC 6120
// §13.7.2.3): the same iteration count as new accounts get, a salt of the same length that is the
// same for one username at every attempt, after restarts and on every node, and the same PBKDF2
// work for PLAIN. The salt is an HMAC of the username under a per-deployment secret, which lives
// in <data_dir>/auth-secret; in a cluster the first node puts its secret in Redis and every other
// node adopts that one (and keeps it in its own file, so a flushed Redis is seeded again).
import { createHmac, randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KEY_LENGTH, type ScramCredential, type ScramHash } from './credentials.js';

/** What deriveCredentials gives a new account: 16 random bytes. */
export const SALT_BYTES = 16;
const SECRET_FILE = 'auth-secret';
const SECRET_PATTERN = /^[0-9a-f]{64}$/;

export class StandInCredentials {
  constructor(private readonly secret: Buffer, private readonly iterations: number) {}

  credential(hash: ScramHash, username: string): ScramCredential {
    return {
      salt: createHmac('sha256', this.secret).update(`${hash}\0${username}`).digest().subarray(0, SALT_BYTES).toString('base64'),
      iterations: this.iterations,
      // Random keys: no proof and no password can match them.
      storedKey: randomBytes(KEY_LENGTH[hash]).toString('base64'),
      serverKey: randomBytes(KEY_LENGTH[hash]).toString('base64'),
    };
  }
}

/** The minimal Redis surface the secret needs (ioredis's Redis and Cluster both have it). */
export interface SecretRedis {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, mode: 'NX'): Promise<'OK' | null>;
}

/** Reads the data directory's secret, making one at first start; with Redis, the cluster's one wins. */
export async function loadAuthSecret(dataDir: string, redis?: { client: SecretRedis; key: string }): Promise<Buffer> {
  const file = join(dataDir, SECRET_FILE);
  let local: string | undefined;
  try {
    const text = (await readFile(file, 'utf8')).trim();
    if (SECRET_PATTERN.test(text)) local = text;
  } catch {
    // first start
  }
  let secret = local ?? randomBytes(32).toString('hex');
  if (redis) {
    await redis.client.set(redis.key, secret, 'NX');
    const shared = await redis.client.get(redis.key);
    if (shared !== null && SECRET_PATTERN.test(shared)) secret = shared;
  }
  if (secret !== local) {
    await writeFile(file, `${secret}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
  }
  return Buffer.from(secret, 'hex');
}
