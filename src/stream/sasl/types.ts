// The contract between the stream layer and server-side SASL mechanisms (RFC 4422, RFC 6120 §6),
// plus the few steps every mechanism shares: preparing the username, fetching its credential,
// standing in for unknown users, and checking an authorization identity.
import saslprep from 'saslprep';
import type { ScramCredential, ScramHash, StoredCredentials } from '../../auth/credentials.js';
import { SaslError } from '../../errors.js';
import { Jid } from '../../jid.js';
import { StoreUnavailableError } from '../../storage/types.js';

export interface CredentialSource {
  /**
   * Stored SCRAM credential for a SASL username (after saslprep, not lowercased), or undefined if
   * there is no such user. May throw StoreUnavailableError when storage is down.
   */
  getCredential(username: string, hash: ScramHash): Promise<ScramCredential | undefined>;
  /**
   * The credential offered for a username with no account: indistinguishable from a real one (same
   * iteration count, same salt length, the same salt for the same name at every attempt).
   */
  standIn(username: string, hash: ScramHash): ScramCredential;
  /**
   * The hash PLAIN checks passwords with first and runs stand-ins with (default SHA-256): one of the
   * configured hashes, so that an unknown name costs the same PBKDF2 as an account.
   */
  readonly plainHash?: ScramHash;
  /** Every stored credential of a username (PLAIN picks one); without it PLAIN asks for SHA-256 only. */
  getCredentials?(username: string): Promise<StoredCredentials | undefined>;
  /**
   * Told after a mechanism that saw the password (PLAIN) verified it: the moment keys for missing
   * hashes or a new iteration count can be derived (auth/credentials.ts upgradeCredentials).
   */
  passwordVerified?(username: string, password: string, credentials: StoredCredentials): Promise<void>;
}

/**
 * The TLS channel of a connection for SCRAM-*-PLUS (RFC 5056, RFC 5929, RFC 9266): the channel-binding
 * types it can give, most preferred first (advertised per XEP-0440), and their data.
 */
export interface ChannelBinding {
  readonly types: readonly string[];
  /** The binding data of `type`, or undefined when this connection cannot give it. */
  data(type: string): Buffer | undefined;
}

/** What the connection tells a mechanism beyond the credentials; the same for SASL and SASL2. */
export interface MechanismContext {
  /** Present when -PLUS mechanisms are offered on this connection. */
  channelBinding?: ChannelBinding;
  /**
   * An earlier -PLUS attempt on this stream named a channel-binding type this connection does not have
   * (ChannelBindingTypeError): the client now knows the server cannot bind with its type, so its 'y'
   * flag is honest, not a sign of stripped features. (slixmpp 1.8 binds to tls-unique only, which TLS 1.3
   * does not have: it tries -PLUS, then SCRAM with 'y'.)
   */
  bindingTypeRefused?: boolean;
  /** XEP-0474: the mechanisms and channel-binding types the client was offered, for the server-first 'h' attribute. */
  offered?: { mechanisms: readonly string[]; channelBindings: readonly string[] };
}

/**
 * Asked once per exchange when the username is known, before any credential is looked at (the
 * login throttle). Resolves when the attempt may go on; throws a SaslError to refuse it.
 */
export interface AttemptGate {
  /** `account` is the JID localpart, or undefined when the name cannot be one. */
  admit(account: string | undefined): Promise<void>;
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
  /** A -PLUS mechanism: offered only where the connection gives channel-binding data (context.channelBinding). */
  readonly needsChannelBinding?: boolean;
  create(source: CredentialSource, gate?: AttemptGate, context?: MechanismContext): SaslMechanism;
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
