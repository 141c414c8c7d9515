// Fuzzing the SASL mechanisms (src/stream/sasl/: PLAIN, SCRAM-SHA-1/-256/-512 and their -PLUS variants) with
// arbitrary and near-valid client messages. A mechanism may only answer a challenge, succeed, or refuse with a
// SaslError of a condition RFC 6120 §6.5 defines; it succeeds only for the right password, the right nonce and
// the right channel binding.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { deriveCredentials, digest, hmac, saltedPassword, type ScramHash, type StoredCredentials } from '../../src/auth/credentials.js';
import { StandInCredentials } from '../../src/auth/stand-in.js';
import { SaslError, type SaslFailureCondition } from '../../src/errors.js';
import { MECHANISMS } from '../../src/stream/sasl/index.js';
import type { ChannelBinding, CredentialSource, MechanismContext, MechanismFactory, SaslMechanism, SaslStep } from '../../src/stream/sasl/types.js';
import { counted, FUZZ_TIMEOUT, fuzzParams } from './support.js';

/** RFC 6120 §6.5 */
const CONDITIONS: ReadonlySet<SaslFailureCondition> = new Set<SaslFailureCondition>(['aborted', 'account-disabled', 'credentials-expired',
  'encryption-required', 'incorrect-encoding', 'invalid-authzid', 'invalid-mechanism', 'malformed-request', 'mechanism-too-weak',
  'not-authorized', 'temporary-auth-failure']);
const PASSWORD = 'r0m30';
const ITERATIONS = 64;
const STAND_INS = new StandInCredentials(Buffer.alloc(32, 7), ITERATIONS);
const EXPORTER = Buffer.alloc(32, 0xab);
const CHANNEL: ChannelBinding = { types: ['tls-exporter', 'tls-server-end-point'], data: (t) => (t === 'tls-exporter' ? EXPORTER : undefined) };

let stored: StoredCredentials;
before(async () => {
  stored = await deriveCredentials(PASSWORD, ITERATIONS);
});

const source: CredentialSource = {
  async getCredential(username, hash) {
    return username === 'juliet' ? stored[hash] : undefined;
  },
  standIn: (username, hash) => STAND_INS.credential(hash, username),
  async getCredentials(username) {
    return username === 'juliet' ? stored : undefined;
  },
};

const HASH_OF: Record<string, ScramHash> = { 'SCRAM-SHA-1': 'sha1', 'SCRAM-SHA-256': 'sha256', 'SCRAM-SHA-512': 'sha512' };

function contextOf(factory: MechanismFactory, withChannel: boolean): MechanismContext {
  return withChannel || factory.needsChannelBinding ? { channelBinding: CHANNEL } : {};
}

/** Runs a step; a refusal must be a SaslError with a defined condition, and ends the exchange. */
async function attempt(run: () => Promise<SaslStep>): Promise<SaslStep | SaslError> {
  try {
    return await run();
  } catch (err) {
    assert.ok(err instanceof SaslError, `threw ${String(err)}`);
    assert.ok(CONDITIONS.has(err.condition), `undefined condition ${err.condition}`);
    return err;
  }
}

const mechanismArb = fc.constantFrom(...MECHANISMS);
const bytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.string({ maxLength: 80 }).map((s) => Buffer.from(s)),
  fc.string({ maxLength: 80, unit: 'binary' }).map((s) => Buffer.from(s)),
  fc.constant(Buffer.alloc(0)),
  fc.constant(Buffer.alloc(20_000, 'a')),
);

// Near-valid SCRAM client-first-messages.
const gs2Arb = fc.oneof({ weight: 2, arbitrary: fc.constantFrom('n,,', 'p=tls-exporter,,', 'y,,') }, fc.tuple(
  fc.constantFrom('n', 'y', 'p=tls-exporter', 'p=tls-unique', 'p=tls-server-end-point', 'p=', 'p=bogus!', 'x', '', 'n,n'),
  fc.constantFrom('', 'a=juliet@localhost', 'a=juliet', 'a=romeo@localhost', 'a=x=2Cy', 'a=x=ZZ', 'a=', 'b=1'),
).map(([flag, authz]) => `${flag},${authz},`));
const userArb = fc.oneof({ weight: 2, arbitrary: fc.constant('juliet') }, fc.constantFrom('juliet', 'Juliet', 'nobody', '=2C', '=3D', '=ZZ', 'a=2Cb', '', 'jul\u00ADiet', '\u0000', 'ju liet'), fc.string({ maxLength: 12 }));
const nonceArb = fc.oneof({ weight: 2, arbitrary: fc.constant('abc123') }, fc.constantFrom('abc123', '', 'a,b', 'x y', '~!', '\u00e9'), fc.string({ maxLength: 24 }));
const extArb = fc.constantFrom('', '', '', ',m=ext', ',x=1', ',i=4294967296', ',i=99999999999999999999', ',r=again', ',', ',=');
const clientFirstArb = fc.tuple(gs2Arb, userArb, nonceArb, extArb).map(([gs2, user, nonce, ext]) => ({ gs2, bare: `n=${user},r=${nonce}${ext}` }));

/** How an attacker spoils an honest client-final-message. */
type Spoil = 'none' | 'nonce' | 'binding' | 'proof' | 'no-proof' | 'extension' | 'other-channel';
const spoilArb = fc.constantFrom<Spoil>('none', 'nonce', 'binding', 'proof', 'no-proof', 'extension', 'other-channel');

async function honestFinal(hash: ScramHash, password: string, bare: string, gs2: string, serverFirst: string, spoil: Spoil, flip: number): Promise<string> {
  const attrs = new Map(serverFirst.split(',').map((a) => [a.slice(0, 1), a.slice(2)]));
  const salted = await saltedPassword(hash, password, Buffer.from(attrs.get('s') ?? '', 'base64'), Math.min(Number(attrs.get('i')), 10_000));
  const cbData = gs2.startsWith('p=') ? (spoil === 'other-channel' ? Buffer.alloc(32, 1) : EXPORTER) : Buffer.alloc(0);
  let cb = Buffer.concat([Buffer.from(gs2), cbData]).toString('base64');
  if (spoil === 'binding') cb = Buffer.from('n,,').toString('base64') === cb ? Buffer.from('y,,').toString('base64') : Buffer.from('n,,').toString('base64');
  let nonce = attrs.get('r') ?? '';
  if (spoil === 'nonce') nonce = nonce.slice(0, -1) + (nonce.endsWith('A') ? 'B' : 'A');
  const withoutProof = `c=${cb},r=${nonce}${spoil === 'extension' ? ',x=added' : ''}`;
  const clientKey = hmac(hash, salted, 'Client Key');
  // The proof signs the message as it would have been without the spoiling extension.
  const signed = spoil === 'extension' ? withoutProof.replace(',x=added', '') : withoutProof;
  const signature = hmac(hash, digest(hash, clientKey), `${bare},${serverFirst},${signed}`);
  const proof = Buffer.from(clientKey.map((byte, i) => byte ^ (signature[i] ?? 0)));
  if (spoil === 'proof') proof[flip % proof.length] = (proof[flip % proof.length] ?? 0) ^ (1 << (flip % 8));
  return spoil === 'no-proof' ? withoutProof : `${withoutProof},p=${proof.toString('base64')}`;
}

describe('fuzz: SASL mechanisms', function () {
  this.timeout(FUZZ_TIMEOUT);

  it('arbitrary initial and following responses: a challenge, or a defined <failure/> condition; never success', async () => {
    await fc.assert(fc.asyncProperty(mechanismArb, fc.boolean(), fc.option(bytesArb), fc.array(bytesArb, { maxLength: 3 }), async (factory, withChannel, initial, steps) => {
      counted();
      const mech: SaslMechanism = factory.create(source, undefined, contextOf(factory, withChannel));
      let outcome = await attempt(() => mech.start(initial));
      for (const response of steps) {
        if (outcome instanceof SaslError || outcome.kind === 'success') break;
        outcome = await attempt(() => mech.step(response));
      }
      assert.ok(outcome instanceof SaslError || outcome.kind !== 'success', 'random bytes authenticated');
    }), fuzzParams(6_000));
  });

  it('near-valid SCRAM client-first-messages (GS2 headers, names, nonces, extensions), honest or spoiled finals', async () => {
    const scram = MECHANISMS.filter((m) => m.name.startsWith('SCRAM'));
    let successes = 0;
    await fc.assert(fc.asyncProperty(fc.constantFrom(...scram), fc.boolean(), clientFirstArb, fc.constantFrom(PASSWORD, 'wrong', ''), spoilArb, fc.nat(), fc.boolean(),
      async (factory, withChannel, first, password, spoil, flip, withoutInitial) => {
        counted();
        const hash = HASH_OF[factory.name.replace('-PLUS', '')] as ScramHash;
        const mech = factory.create(source, undefined, contextOf(factory, withChannel));
        const message = Buffer.from(first.gs2 + first.bare);
        let outcome = await attempt(() => mech.start(withoutInitial ? null : message));
        if (withoutInitial && !(outcome instanceof SaslError)) outcome = await attempt(() => mech.step(message));
        if (outcome instanceof SaslError) return;
        assert.equal(outcome.kind, 'challenge', 'no success on a client-first-message');
        const final = await honestFinal(hash, password, first.bare, first.gs2, outcome.data.toString('utf8'), spoil, flip);
        const result = await attempt(() => mech.step(Buffer.from(final)));
        if (!(result instanceof SaslError) && result.kind === 'success') {
          assert.equal(password, PASSWORD, 'success with a wrong password');
          // Another channel's data only matters where the client binds to the channel.
          const spoiled = spoil !== 'none' && (spoil !== 'other-channel' || first.gs2.startsWith('p='));
          assert.ok(!spoiled, `success with a spoiled final message (${spoil})`);
          assert.equal(result.username, 'juliet');
          successes++;
        }
        // Nothing more is accepted after the exchange.
        const after = await attempt(() => mech.step(Buffer.from(final)));
        assert.ok(after instanceof SaslError, 'a step after the end of the exchange is refused');
      }), fuzzParams(6_000));
    assert.ok(successes > 0, 'some generated exchanges are honest and succeed (positive control)');
  });

  it('an honest SCRAM client with the right password is let in (positive control)', async () => {
    for (const factory of MECHANISMS.filter((m) => m.name.startsWith('SCRAM'))) {
      const hash = HASH_OF[factory.name.replace('-PLUS', '')] as ScramHash;
      const gs2 = factory.needsChannelBinding ? 'p=tls-exporter,,' : 'n,,';
      const bare = 'n=juliet,r=abc123';
      const mech = factory.create(source, undefined, contextOf(factory, false));
      const first = await mech.start(Buffer.from(gs2 + bare));
      const final = await honestFinal(hash, PASSWORD, bare, gs2, first.data?.toString('utf8') ?? '', 'none', 0);
      const result = await mech.step(Buffer.from(final));
      assert.equal(result.kind, 'success', factory.name);
    }
  });

  it('near-valid PLAIN messages: success only for the right password of an account', async () => {
    const plain = MECHANISMS.find((m) => m.name === 'PLAIN') as MechanismFactory;
    const part = fc.oneof(fc.constantFrom('', 'juliet', 'Juliet', 'juliet@localhost', 'romeo@localhost', PASSWORD, 'wrong', 'r0m3', '\u00AD', '\u0000'), fc.string({ maxLength: 10 }));
    const structured = fc.tuple(fc.constantFrom('', 'juliet@localhost', 'romeo@localhost'), fc.constantFrom('juliet', 'Juliet', 'nobody'), part)
      .map(([authz, user, password]) => `${authz}\0${user}\0${password}`);
    const loose = fc.tuple(fc.array(part, { minLength: 1, maxLength: 4 }), fc.constantFrom('\0', '\0\0', '\n', '')).map(([parts, sep]) => parts.join(sep));
    let successes = 0;
    await fc.assert(fc.asyncProperty(fc.oneof(structured, loose), async (message) => {
      counted();
      const mech = plain.create(source);
      const outcome = await attempt(() => mech.start(Buffer.from(message)));
      if (!(outcome instanceof SaslError) && outcome.kind === 'success') {
        const fields = message.split('\0');
        assert.equal(fields.length, 3);
        assert.equal(fields[2], PASSWORD, 'PLAIN success with a wrong password');
        assert.equal(outcome.username, 'juliet');
        successes++;
      }
    }), fuzzParams(3_000));
    assert.ok(successes > 0, 'some generated messages carry the right password (positive control)');
  });
});
