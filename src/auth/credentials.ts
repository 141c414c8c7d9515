// SCRAM credentials as stored (RFC 5802 §3; RFC 7677 for SHA-256; draft-melnikov-scram-sha-512 for
// SHA-512): salted keys only, never the password. An account holds keys for some of the hashes: those
// offered when its password was last set, completed at a later PLAIN login (upgradeCredentials).
// PBKDF2 runs on libuv's thread pool so hashing uses every core and never blocks the event loop.
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import saslprep from 'saslprep';

const pbkdf2Async = promisify(pbkdf2);

export type ScramHash = 'sha1' | 'sha256' | 'sha512';
/** Every hash this server knows, weakest first. */
export const SCRAM_HASHES: readonly ScramHash[] = ['sha1', 'sha256', 'sha512'];
export const KEY_LENGTH: Record<ScramHash, number> = { sha1: 20, sha256: 32, sha512: 64 };
export const DEFAULT_ITERATIONS = 4096;

export interface ScramCredential {
  salt: string; // base64
  iterations: number;
  storedKey: string; // base64
  serverKey: string; // base64
}

/** Keys for at least one hash (records.ts refuses an empty set). */
export type StoredCredentials = Partial<Record<ScramHash, ScramCredential>>;

export function normalisePassword(password: string): string {
  return saslprep(password);
}

/** Why a password cannot be stored: empty (as given or after SASLprep), or with characters SASLprep prohibits. */
export interface PasswordProblem {
  reason: 'empty' | 'prohibited';
  text: string;
}

/**
 * The one password rule of the server, for the CLI, in-band registration and ad-hoc admin commands:
 * a password must be non-empty and SASLprep-valid (RFC 4013), the form SCRAM and PLAIN compare.
 * Each caller turns a problem into its own error (a coded CLI message, a stanza error).
 */
export function passwordProblem(password: string): PasswordProblem | undefined {
  if (password === '') return { reason: 'empty', text: 'the password is empty' };
  let prepared: string;
  try {
    prepared = normalisePassword(password);
  } catch {
    return { reason: 'prohibited', text: 'the password contains characters SASLprep prohibits' };
  }
  if (prepared === '') return { reason: 'empty', text: 'the password is empty after SASLprep' };
  return undefined;
}

/** PBKDF2 work done by this process: lets tests compare the cost of two logins without timing them. */
export const pbkdf2Work = { calls: 0, iterations: 0 };

export async function saltedPassword(hash: ScramHash, password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  pbkdf2Work.calls++;
  pbkdf2Work.iterations += iterations;
  return pbkdf2Async(normalisePassword(password), salt, iterations, KEY_LENGTH[hash], hash);
}

export function hmac(hash: ScramHash, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(hash, key).update(data).digest();
}

export function digest(hash: ScramHash, data: Buffer): Buffer {
  return createHash(hash).update(data).digest();
}

export function credentialFromSalted(hash: ScramHash, salted: Buffer, salt: Buffer, iterations: number): ScramCredential {
  const clientKey = hmac(hash, salted, 'Client Key');
  return {
    salt: salt.toString('base64'),
    iterations,
    storedKey: digest(hash, clientKey).toString('base64'),
    serverKey: hmac(hash, salted, 'Server Key').toString('base64'),
  };
}

export async function deriveCredential(hash: ScramHash, password: string, salt = randomBytes(16), iterations = DEFAULT_ITERATIONS): Promise<ScramCredential> {
  return credentialFromSalted(hash, await saltedPassword(hash, password, salt, iterations), salt, iterations);
}

/** Keys for every hash in `hashes` (default: all), each with its own salt. */
export async function deriveCredentials(password: string, iterations = DEFAULT_ITERATIONS, hashes: readonly ScramHash[] = SCRAM_HASHES): Promise<StoredCredentials> {
  if (password.length === 0) throw new Error('password must not be empty');
  if (hashes.length === 0) throw new Error('no SCRAM hash to derive');
  const derived = await Promise.all(hashes.map(async (hash) => [hash, await deriveCredential(hash, password, randomBytes(16), iterations)] as const));
  return Object.fromEntries(derived) as StoredCredentials;
}

/** The hashes of `wanted` that `credentials` has no keys for, or keys with another iteration count. */
export function staleHashes(credentials: StoredCredentials, wanted: readonly ScramHash[], iterations: number): ScramHash[] {
  return wanted.filter((hash) => credentials[hash]?.iterations !== iterations);
}

/**
 * After a login that saw the password (PLAIN): the credentials with keys derived for every wanted hash
 * that lacked them or had an old iteration count, or undefined when nothing needs deriving. SCRAM
 * logins cannot do this: the server never sees the password, only a proof for one hash.
 */
export async function upgradeCredentials(credentials: StoredCredentials, password: string, wanted: readonly ScramHash[], iterations: number): Promise<StoredCredentials | undefined> {
  const stale = staleHashes(credentials, wanted, iterations);
  if (stale.length === 0) return undefined;
  return { ...credentials, ...(await deriveCredentials(password, iterations, stale)) };
}

/** The strongest hash an account has keys for (what PLAIN checks a password against). */
export function strongestHash(credentials: StoredCredentials): ScramHash | undefined {
  return [...SCRAM_HASHES].reverse().find((hash) => credentials[hash] !== undefined);
}

/** Checks a plaintext password (SASL PLAIN) against a stored credential in constant time. */
export async function verifyPassword(credential: ScramCredential, hash: ScramHash, password: string): Promise<boolean> {
  const salted = await saltedPassword(hash, password, Buffer.from(credential.salt, 'base64'), credential.iterations);
  const storedKey = digest(hash, hmac(hash, salted, 'Client Key'));
  const expected = Buffer.from(credential.storedKey, 'base64');
  return expected.length === storedKey.length && timingSafeEqual(expected, storedKey);
}
