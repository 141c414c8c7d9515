// The HT SASL mechanisms of draft-schmaus-kitten-sasl-ht (named by XEP-0484 §2): the client proves it holds
// the token with HMAC(token, "Initiator" || cb-data), the server answers HMAC(token, "Responder" || cb-data).
// Only HT-SHA-256-NONE (no channel binding) here; the token is taken out of the store as it is used (README).
import { createHash, createHmac } from 'node:crypto';
import { SaslError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import { StoreUnavailableError, type Sasl2Mechanism, type Sasl2MechanismGate, type Sasl2Step } from '../../src/modules/api.js';
import type { FastTokenRecord } from './store/types.js';

export const HT_SHA_256_NONE = 'HT-SHA-256-NONE';

/** What the server keeps of a token: the hash of its initiator proof and its responder message. */
export function tokenVerifier(token: string): Pick<FastTokenRecord, 'verifier' | 'responder'> {
  const initiator = createHmac('sha256', Buffer.from(token, 'utf8')).update('Initiator').digest();
  return {
    verifier: createHash('sha256').update(initiator).digest('hex'),
    responder: createHmac('sha256', Buffer.from(token, 'utf8')).update('Responder').digest('base64'),
  };
}

export interface HtLogin {
  /** Takes the account's token for the user agent if `verifier` is its; undefined when it is not usable. */
  take(username: string, verifier: string): Promise<FastTokenRecord | undefined>;
  /** Called once the token logged the account in. */
  used(username: string, record: FastTokenRecord): void;
}

/** The proof is HMAC-SHA-256: 32 bytes. */
const PROOF_BYTES = 32;
const MAX_USERNAME_BYTES = 3072;

export class HtSha256None implements Sasl2Mechanism {
  private done = false;

  constructor(private readonly login: HtLogin, private readonly gate: Sasl2MechanismGate) {}

  async start(initial: Buffer | null): Promise<Sasl2Step> {
    // The client speaks first (the draft, §3): without an initial response it is asked for one.
    if (initial === null || initial.length === 0) return { kind: 'challenge', data: Buffer.alloc(0) };
    return this.authenticate(initial);
  }

  async step(response: Buffer): Promise<Sasl2Step> {
    return this.authenticate(response);
  }

  private async authenticate(message: Buffer): Promise<Sasl2Step> {
    if (this.done) throw new SaslError('malformed-request', 'the exchange is over');
    this.done = true;
    const nul = message.indexOf(0);
    if (nul <= 0 || nul > MAX_USERNAME_BYTES || message.length - nul - 1 !== PROOF_BYTES) throw new SaslError('malformed-request', 'expected username NUL 32-byte HMAC');
    let username: string | undefined;
    try {
      username = Jid.normaliseLocal(message.subarray(0, nul).toString('utf8'));
    } catch {
      username = undefined;
    }
    await this.gate.admit(username);
    if (username === undefined) throw new SaslError('not-authorized');
    const verifier = createHash('sha256').update(message.subarray(nul + 1)).digest('hex');
    let record: FastTokenRecord | undefined;
    try {
      record = await this.login.take(username, verifier);
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw new SaslError('temporary-auth-failure');
      throw err;
    }
    if (!record) throw new SaslError('not-authorized');
    this.login.used(username, record);
    return { kind: 'success', data: Buffer.from(record.responder, 'base64'), username };
  }
}
