// SASL PLAIN (RFC 4616): one message, [authzid] NUL authcid NUL passwd, checked against a stored SCRAM
// credential (SHA-256 when the account has it, else the other hash it has). Sends the password in the
// clear, so it is offered only under TLS. The one mechanism that sees the password: after success the
// source may derive keys the account lacks (CredentialSource.passwordVerified).
import { verifyPassword, type ScramCredential, type ScramHash, type StoredCredentials } from '../../auth/credentials.js';
import { SaslError } from '../../errors.js';
import { StoreUnavailableError } from '../../storage/types.js';
import {
  authFailure, checkAuthzid, decodeUtf8, fetchCredential, prepareUsername,
  type AttemptGate, type CredentialSource, type MechanismFactory, type SaslMechanism, type SaslStep,
} from './types.js';

/** After CredentialSource.plainHash, the hashes PLAIN falls back to for an account without it. */
const PREFERRED: readonly ScramHash[] = ['sha256', 'sha512', 'sha1'];

/** RFC 4616 §2 requires accepting 255 octets per field; allow more (long passwords, full JIDs), within reason. */
const MAX_MESSAGE_BYTES = 4096;

export class PlainMechanism implements SaslMechanism {
  readonly name = 'PLAIN';
  private state: 'new' | 'awaiting-response' | 'done' = 'new';

  constructor(private readonly source: CredentialSource, private readonly gate?: AttemptGate) {}

  async start(initial: Buffer | null): Promise<SaslStep> {
    if (this.state !== 'new') throw this.fail('exchange already started');
    if (initial === null) {
      // RFC 6120 §6.4.2: no initial response, so an empty challenge invites one.
      this.state = 'awaiting-response';
      return { kind: 'challenge', data: Buffer.alloc(0) };
    }
    return this.authenticate(initial);
  }

  async step(response: Buffer): Promise<SaslStep> {
    if (this.state !== 'awaiting-response') throw this.fail('unexpected response');
    return this.authenticate(response);
  }

  private fail(text: string): SaslError {
    this.state = 'done';
    return new SaslError('malformed-request', text);
  }

  private async storedCredentials(username: string): Promise<StoredCredentials | undefined> {
    const source = this.source;
    if (!source.getCredentials) {
      const sha256 = await fetchCredential(source, username, 'sha256');
      return sha256 && { sha256 };
    }
    try {
      return await source.getCredentials(username);
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw new SaslError('temporary-auth-failure');
      throw err;
    }
  }

  private async authenticate(message: Buffer): Promise<SaslStep> {
    this.state = 'done';
    if (message.length > MAX_MESSAGE_BYTES) throw new SaslError('malformed-request', 'message too long');
    const parts = decodeUtf8(message, 'PLAIN message').split('\0');
    if (parts.length !== 3) throw new SaslError('malformed-request', 'expected authzid NUL authcid NUL password');
    const [authzid = '', authcid = '', password = ''] = parts;
    if (authcid === '' || password === '') throw new SaslError('malformed-request', 'empty authcid or password');

    const user = prepareUsername(authcid);
    await this.gate?.admit(user?.local);
    const all = user && (await this.storedCredentials(user.prepared));
    const first = this.source.plainHash ?? 'sha256';
    const hash = all && [first, ...PREFERRED].find((h) => all[h] !== undefined);
    const stored: ScramCredential | undefined = hash && all?.[hash];
    // An unknown user costs the same key derivation as a known one, so timing does not tell them apart.
    const credential = stored ?? this.source.standIn(user?.prepared ?? authcid, first);
    let valid: boolean;
    try {
      valid = await verifyPassword(credential, hash ?? first, password);
    } catch {
      valid = false; // saslprep rejected the password
    }
    if (!user || !stored || !all || !valid) throw authFailure();
    await this.source.passwordVerified?.(user.prepared, password, all);

    const checked = checkAuthzid(authzid, user.local);
    return checked === undefined
      ? { kind: 'success', data: null, username: user.local }
      : { kind: 'success', data: null, username: user.local, authzid: checked };
  }
}

export const PLAIN: MechanismFactory = {
  name: 'PLAIN',
  needsSecureChannel: true,
  create: (source, gate) => new PlainMechanism(source, gate),
};
