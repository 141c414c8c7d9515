// SCRAM-SHA-1 (RFC 5802), SCRAM-SHA-256 (RFC 7677), SCRAM-SHA-512 (draft-melnikov-scram-sha-512),
// server side, and their -PLUS variants with channel binding (RFC 5802 §6; types RFC 5929, RFC 9266).
// A challenge/response state machine, independent of the wrapper (SASL, SASL2).
//
//   C: gs2-header client-first-message-bare     n,,n=user,r=<client nonce>     (p=<cb type>,, for -PLUS)
//   S: server-first-message                     r=<client+server nonce>,s=<salt>,i=<iterations>[,h=<XEP-0474>]
//   C: client-final-message                     c=<base64 gs2-header + cb data>,r=<nonce>,p=<proof>
//   S: success with v=<server signature>
//
// GS2 flags (RFC 5802 §6): 'p' only with a -PLUS mechanism; 'y' (the client could bind but thinks the
// server cannot) fails when this connection offers -PLUS: a downgrade. Wrong binding data fails as a
// wrong password does. An unknown user gets a stand-in credential and the same exchange, failing only
// at the proof.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { digest, hmac, KEY_LENGTH, type ScramCredential, type ScramHash } from '../../auth/credentials.js';
import { SaslError } from '../../errors.js';
import { decodeBase64Strict } from './base64.js';
import {
  authFailure, checkAuthzid, decodeUtf8, fetchCredential, prepareUsername,
  type AttemptGate, type CredentialSource, type MechanismContext, type MechanismFactory, type PreparedUsername, type SaslMechanism, type SaslStep,
} from './types.js';
import { downgradeHash } from './downgrade.js';

export interface ScramOptions {
  /** Produces the server's part of the nonce (printable ASCII without ','); for tests. */
  nonceGenerator?: () => string;
  /** The -PLUS variant: the client must bind to the channel (context.channelBinding). */
  plus?: boolean;
}

const MECHANISM_NAME: Record<ScramHash, string> = { sha1: 'SCRAM-SHA-1', sha256: 'SCRAM-SHA-256', sha512: 'SCRAM-SHA-512' };
const HASH_LENGTH = KEY_LENGTH;
/** RFC 5802 §7 cb-name. */
const CB_NAME = /^[A-Za-z0-9.-]+$/;
const SERVER_NONCE_BYTES = 24;
/** Far above any real exchange (a 1023-byte localpart escapes to at most ~3 KiB). */
const MAX_MESSAGE_BYTES = 8192;

const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;

function defaultNonce(): string {
  return randomBytes(SERVER_NONCE_BYTES).toString('base64');
}

/** A -PLUS exchange named a channel-binding type this connection does not have (MechanismContext.bindingTypeRefused). */
export class ChannelBindingTypeError extends SaslError {
  constructor(text: string) {
    super('malformed-request', text);
  }
}

function malformed(text: string): SaslError {
  return new SaslError('malformed-request', text);
}

/** saslname (RFC 5802 §7): '=' appears only in the escapes =2C (',') and =3D ('='). */
function decodeSaslName(value: string, what: string): string {
  if (value === '' || value.includes('\0')) throw malformed(`invalid ${what}`);
  return value.replace(/=(2C|3D)?/g, (_match, code: string | undefined) => {
    if (code === undefined) throw malformed(`invalid escape in ${what}`);
    return code === '2C' ? ',' : '=';
  });
}

interface Attribute {
  name: string;
  value: string;
}

function parseAttribute(part: string): Attribute {
  if (part.length < 2 || part[1] !== '=' || !/^[A-Za-z]$/.test(part[0] ?? '')) throw malformed(`invalid attribute "${part.slice(0, 20)}"`);
  const name = part[0] ?? '';
  // RFC 5802 §5.1: 'm' is reserved, and its presence must fail authentication.
  if (name === 'm') throw malformed('mandatory extension not supported');
  return { name, value: part.slice(2) };
}

/** Reads the named attribute at `index`, which the grammar fixes. */
function expect(attributes: readonly Attribute[], index: number, name: string): string {
  const attribute = attributes[index];
  if (attribute?.name !== name) throw malformed(`expected attribute ${name}=`);
  return attribute.value;
}

type BindingFlag = { flag: 'n' } | { flag: 'y' } | { flag: 'p'; type: string };

interface ClientFirst {
  gs2Header: string;
  binding: BindingFlag;
  authzid: string;
  username: string;
  clientNonce: string;
  bare: string;
}

function parseClientFirst(message: string): ClientFirst {
  const first = message.indexOf(',');
  const second = first === -1 ? -1 : message.indexOf(',', first + 1);
  if (second === -1) throw malformed('missing GS2 header');
  const flag = message.slice(0, first);
  let binding: BindingFlag;
  if (flag === 'n' || flag === 'y') binding = { flag };
  else if (flag.startsWith('p=') && CB_NAME.test(flag.slice(2))) binding = { flag: 'p', type: flag.slice(2) };
  else throw malformed('invalid GS2 channel-binding flag');
  const authzField = message.slice(first + 1, second);
  let authzid = '';
  if (authzField !== '') {
    if (!authzField.startsWith('a=')) throw malformed('invalid GS2 authzid');
    authzid = decodeSaslName(authzField.slice(2), 'authzid');
  }

  const bare = message.slice(second + 1);
  const attributes = bare.split(',').map(parseAttribute);
  const username = decodeSaslName(expect(attributes, 0, 'n'), 'username');
  const clientNonce = expect(attributes, 1, 'r');
  if (!PRINTABLE.test(clientNonce)) throw malformed('invalid client nonce');
  // Any further attributes are extensions this server does not understand and ignores.
  return { gs2Header: message.slice(0, second + 1), binding, authzid, username, clientNonce, bare };
}

interface ClientFinal {
  channelBinding: string;
  nonce: string;
  proof: string;
  withoutProof: string;
}

function parseClientFinal(message: string): ClientFinal {
  const parts = message.split(',');
  const attributes = parts.map(parseAttribute);
  if (attributes.length < 3) throw malformed('client-final-message is incomplete');
  const proof = expect(attributes, attributes.length - 1, 'p');
  return {
    channelBinding: expect(attributes, 0, 'c'),
    nonce: expect(attributes, 1, 'r'),
    proof,
    withoutProof: parts.slice(0, -1).join(','),
  };
}

interface Exchange {
  first: ClientFirst;
  user: PreparedUsername | undefined;
  /** The stored credential, or the stand-in for an unknown user. */
  credential: ScramCredential;
  known: boolean;
  nonce: string;
  serverFirst: string;
  /** What the client-final c= attribute must decode to: the GS2 header, then the binding data for 'p'. */
  channelBinding: Buffer;
}

export class ScramMechanism implements SaslMechanism {
  readonly name: string;
  private state: 'new' | 'awaiting-first' | 'awaiting-final' | 'done' = 'new';
  private exchange: Exchange | undefined;
  private readonly nonceGenerator: () => string;
  private readonly plus: boolean;

  constructor(
    private readonly hash: ScramHash,
    private readonly source: CredentialSource,
    options: ScramOptions = {},
    private readonly gate?: AttemptGate,
    private readonly context: MechanismContext = {},
  ) {
    this.plus = options.plus ?? false;
    this.name = MECHANISM_NAME[hash] + (this.plus ? '-PLUS' : '');
    this.nonceGenerator = options.nonceGenerator ?? defaultNonce;
  }

  async start(initial: Buffer | null): Promise<SaslStep> {
    if (this.state !== 'new') throw this.protocolViolation('exchange already started');
    if (initial === null) {
      // RFC 6120 §6.4.2: no initial response, so an empty challenge invites the client-first-message.
      this.state = 'awaiting-first';
      return { kind: 'challenge', data: Buffer.alloc(0) };
    }
    return this.guard(() => this.clientFirst(initial));
  }

  async step(response: Buffer): Promise<SaslStep> {
    if (this.state === 'awaiting-first') return this.guard(() => this.clientFirst(response));
    if (this.state === 'awaiting-final') return this.guard(() => this.clientFinal(response));
    throw this.protocolViolation('unexpected response');
  }

  private protocolViolation(text: string): SaslError {
    this.state = 'done';
    return malformed(text);
  }

  /** Any failure ends the exchange. */
  private async guard(run: () => Promise<SaslStep>): Promise<SaslStep> {
    try {
      return await run();
    } catch (err) {
      this.state = 'done';
      this.exchange = undefined;
      throw err;
    }
  }

  private decode(message: Buffer, what: string): string {
    if (message.length > MAX_MESSAGE_BYTES) throw malformed(`${what} too long`);
    return decodeUtf8(message, what);
  }

  private async clientFirst(message: Buffer): Promise<SaslStep> {
    const first = parseClientFirst(this.decode(message, 'client-first-message'));
    // Not a password guess: decided before the throttle counts an attempt.
    const bindingData = this.checkBindingFlag(first.binding);
    const user = prepareUsername(first.username);
    await this.gate?.admit(user?.local);
    const stored = user && (await fetchCredential(this.source, user.prepared, this.hash));
    const credential = stored ?? this.source.standIn(user?.prepared ?? first.username, this.hash);

    const serverNonce = this.nonceGenerator();
    if (!PRINTABLE.test(serverNonce)) throw new Error('SCRAM nonceGenerator returned a non-printable nonce');
    const nonce = first.clientNonce + serverNonce;
    const offered = this.context.offered;
    // XEP-0474: an extension attribute after i= (RFC 5802 §7 server-first-message grammar).
    const protection = offered ? `,h=${downgradeHash(this.hash, offered.mechanisms, offered.channelBindings).toString('base64')}` : '';
    const serverFirst = `r=${nonce},s=${credential.salt},i=${credential.iterations}${protection}`;
    const channelBinding = Buffer.concat([Buffer.from(first.gs2Header, 'utf8'), bindingData ?? Buffer.alloc(0)]);
    this.exchange = { first, user, credential, known: stored !== undefined, nonce, serverFirst, channelBinding };
    this.state = 'awaiting-final';
    return { kind: 'challenge', data: Buffer.from(serverFirst, 'utf8') };
  }

  /** RFC 5802 §6: the GS2 flag against what this connection offers; the binding data for 'p'. */
  private checkBindingFlag(binding: BindingFlag): Buffer | undefined {
    const channel = this.context.channelBinding;
    if (binding.flag === 'n') {
      if (this.plus) throw malformed(`${this.name} needs channel binding (the p= flag)`);
      return undefined;
    }
    if (binding.flag === 'y') {
      if (this.plus) throw malformed(`${this.name} needs channel binding (the p= flag)`);
      // The client could bind and believes this server cannot, yet -PLUS is offered here: stripped on the way.
      if (channel && !this.context.bindingTypeRefused) throw new SaslError('not-authorized', 'channel binding is offered on this connection (downgrade detected)');
      return undefined;
    }
    if (!this.plus) throw malformed('channel binding needs a -PLUS mechanism');
    if (!channel) throw new SaslError('encryption-required', 'no TLS channel to bind to');
    const data = channel.types.includes(binding.type) ? channel.data(binding.type) : undefined;
    if (!data) throw new ChannelBindingTypeError(`unsupported channel-binding type "${binding.type}" (offered: ${channel.types.join(', ')})`);
    return data;
  }

  private async clientFinal(message: Buffer): Promise<SaslStep> {
    const exchange = this.exchange;
    if (!exchange) throw malformed('no exchange in progress');
    this.state = 'done';
    this.exchange = undefined;

    const final = parseClientFinal(this.decode(message, 'client-final-message'));
    const binding = decodeBase64Strict(final.channelBinding);
    const header = Buffer.from(exchange.first.gs2Header, 'utf8');
    if (!binding || binding.length < header.length || !binding.subarray(0, header.length).equals(header)) throw malformed('channel binding does not match the GS2 header');
    if (exchange.first.binding.flag !== 'p' && binding.length !== header.length) throw malformed('channel binding data without the p flag');
    // Data of another TLS channel (a man in the middle) fails like a wrong password.
    const bindingMatches = binding.length === exchange.channelBinding.length && timingSafeEqual(binding, exchange.channelBinding);
    if (final.nonce !== exchange.nonce) throw malformed('nonce mismatch');
    const proof = decodeBase64Strict(final.proof);
    if (!proof || proof.length !== HASH_LENGTH[this.hash]) throw malformed('invalid client proof');

    const authMessage = `${exchange.first.bare},${exchange.serverFirst},${final.withoutProof}`;
    const storedKey = Buffer.from(exchange.credential.storedKey, 'base64');
    const clientSignature = hmac(this.hash, storedKey, authMessage);
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = (proof[i] ?? 0) ^ (clientSignature[i] ?? 0);
    const candidate = digest(this.hash, clientKey);
    const matches = candidate.length === storedKey.length && timingSafeEqual(candidate, storedKey);
    if (!matches || !bindingMatches || !exchange.known || !exchange.user) throw authFailure();

    const authzid = checkAuthzid(exchange.first.authzid, exchange.user.local);
    const serverSignature = hmac(this.hash, Buffer.from(exchange.credential.serverKey, 'base64'), authMessage);
    const data = Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8');
    const username = exchange.user.local;
    return authzid === undefined ? { kind: 'success', data, username } : { kind: 'success', data, username, authzid };
  }
}

/**
 * A factory for SCRAM-SHA-1/256/512, safe to offer before TLS since no password crosses the wire; with
 * `plus`, the -PLUS variant, offered only where the connection gives channel-binding data.
 */
export function scramFactory(hash: ScramHash, options: ScramOptions = {}): MechanismFactory {
  const plus = options.plus ?? false;
  return {
    name: MECHANISM_NAME[hash] + (plus ? '-PLUS' : ''),
    needsSecureChannel: plus,
    needsChannelBinding: plus,
    create: (source, gate, context) => new ScramMechanism(hash, source, options, gate, context),
  };
}
