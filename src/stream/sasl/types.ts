// The contract between the stream layer and server-side SASL mechanisms (RFC 4422, RFC 6120 §6),
// plus the few steps every mechanism shares: preparing the username, fetching its credential,
// standing in for unknown users, and checking an authorization identity.
import { createHmac, randomBytes } from 'node:crypto';
import saslprep from 'saslprep';
import { DEFAULT_ITERATIONS, type ScramCredential, type ScramHash } from '../../auth/credentials.js';
import { SaslError } from '../../errors.js';
import { Jid } from '../../jid.js';
import { StoreUnavailableError } from '../../storage/types.js';

export interface CredentialSource {
  /**
   * Stored SCRAM credential for a SASL username (after saslprep, not lowercased), or undefined if
   * there is no such user. May throw StoreUnavailableError when storage is down.
   */
  getCredential(username: string, hash: ScramHash): Promise<ScramCredential | undefined>;
}

export type SaslStep =
  | { kind: 'challenge'; data: Buffer }
  | { kind: 'success'; data: Buffer | null; username: string; authzid?: string };

export interface SaslMechanism {
  readonly name: string;
  /** Initial response (already base64-decoded; empty buffer for '=') or null if none. */
  start(initial: Buffer | null): Promise<SaslStep>;
  step(response: Buffer): Promise<SaslStep>;
}

export interface MechanismFactory {
  readonly name: string;
  /** Whether it may be offered on an unencrypted connection. */
  readonly needsSecureChannel: boolean;
  create(source: CredentialSource): SaslMechanism;
}

// ---- Shared by the mechanisms -------------------------------------------------------------

/** The one failure both "no such user" and "wrong password" produce, so usernames cannot be probed. */
export function authFailure(): SaslError {
  return new SaslError('not-authorized');
}

export interface PreparedUsername {
  /** The SASL username after saslprep: what the CredentialSource is asked for. */
  prepared: string;
  /** The JID localpart it maps to: what success reports. */
  local: string;
}

/** Applies saslprep and JID localpart normalisation; undefined when either rejects the name. */
export function prepareUsername(raw: string): PreparedUsername | undefined {
  try {
    const prepared = saslprep(raw);
    if (prepared === '') return undefined;
    return { prepared, local: Jid.normaliseLocal(prepared) };
  } catch {
    return undefined;
  }
}

/** Asks the source for a credential, turning an unreachable store into temporary-auth-failure. */
export async function fetchCredential(source: CredentialSource, username: string, hash: ScramHash): Promise<ScramCredential | undefined> {
  try {
    return await source.getCredential(username, hash);
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw new SaslError('temporary-auth-failure');
    throw err;
  }
}

const FAKE_SECRET = randomBytes(32);

/**
 * A credential for a user who does not exist. The salt is stable per username (so repeated
 * attempts cannot tell a fake from a real account) and the keys are random, so no proof matches.
 */
export function fakeCredential(hash: ScramHash, username: string): ScramCredential {
  const keyLength = hash === 'sha1' ? 20 : 32;
  return {
    salt: createHmac('sha256', FAKE_SECRET).update(`${hash}\0${username}`).digest().subarray(0, 16).toString('base64'),
    iterations: DEFAULT_ITERATIONS,
    storedKey: randomBytes(keyLength).toString('base64'),
    serverKey: randomBytes(keyLength).toString('base64'),
  };
}

/**
 * An authorization identity is accepted only when it names the authenticated user's bare JID;
 * the caller checks the domain. Returns the authzid as given, or undefined when it was empty.
 */
export function checkAuthzid(authzid: string, local: string): string | undefined {
  if (authzid === '') return undefined;
  const jid = Jid.tryParse(authzid);
  if (!jid || jid.local !== local || !jid.isBare) throw new SaslError('invalid-authzid');
  return authzid;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8, rejecting invalid sequences as malformed-request. */
export function decodeUtf8(data: Buffer, what: string): string {
  try {
    return utf8.decode(data);
  } catch {
    throw new SaslError('malformed-request', `${what} is not valid UTF-8`);
  }
}
