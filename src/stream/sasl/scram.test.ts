import assert from 'node:assert/strict';
import { deriveCredential, digest, hmac, saltedPassword, type ScramCredential, type ScramHash } from '../../auth/credentials.js';
import { SaslError, type SaslFailureCondition } from '../../errors.js';
import { StoreUnavailableError } from '../../storage/types.js';
import { findMechanism, MECHANISMS } from './index.js';
import { ScramMechanism, scramFactory } from './scram.js';
import { StandInCredentials } from '../../auth/stand-in.js';
import type { CredentialSource, SaslMechanism, SaslStep } from './types.js';

type Users = Record<string, Partial<Record<ScramHash, ScramCredential>>>;

const STAND_INS = new StandInCredentials(Buffer.alloc(32, 7), 4096);

class TestSource implements CredentialSource {
  readonly asked: Array<[string, ScramHash]> = [];
  constructor(private readonly users: Users, private readonly failure?: Error) {}
  async getCredential(username: string, hash: ScramHash): Promise<ScramCredential | undefined> {
    this.asked.push([username, hash]);
    if (this.failure) throw this.failure;
    return this.users[username]?.[hash];
  }
  standIn(username: string, hash: ScramHash): ScramCredential {
    return STAND_INS.credential(hash, username);
  }
}

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

function challenge(step: SaslStep): string {
  assert.equal(step.kind, 'challenge');
  return step.data.toString('utf8');
}

async function rejects(promise: Promise<unknown>, condition: SaslFailureCondition): Promise<SaslError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return err instanceof SaslError && err.condition === condition;
  });
  return caught as SaslError;
}

/** The client's half of SCRAM (RFC 5802 §3), for exchanges the RFC examples do not cover. */
async function clientFinal(hash: ScramHash, password: string, clientFirstBare: string, serverFirst: string, gs2Header = 'n,,'): Promise<string> {
  const attrs = new Map(serverFirst.split(',').map((a) => [a.slice(0, 1), a.slice(2)]));
  const salted = await saltedPassword(hash, password, Buffer.from(attrs.get('s') ?? '', 'base64'), Number(attrs.get('i')));
  const withoutProof = `c=${b64(gs2Header)},r=${attrs.get('r') ?? ''}`;
  const clientKey = hmac(hash, salted, 'Client Key');
  const signature = hmac(hash, digest(hash, clientKey), `${clientFirstBare},${serverFirst},${withoutProof}`);
  const proof = Buffer.from(clientKey.map((byte, i) => byte ^ (signature[i] ?? 0)));
  return `${withoutProof},p=${proof.toString('base64')}`;
}

/** Runs a whole exchange as an honest client would; returns the server-first message and the outcome. */
async function exchange(mech: SaslMechanism, hash: ScramHash, username: string, password: string, gs2Header = 'n,,'): Promise<{ serverFirst: string; result: Promise<SaslStep> }> {
  const bare = `n=${username},r=clientnonce123`;
  const serverFirst = challenge(await mech.start(b(gs2Header + bare)));
  const final = await clientFinal(hash, password, bare, serverFirst, gs2Header);
  return { serverFirst, result: mech.step(b(final)) };
}

let users: Users;

before(async () => {
  users = {
    user: {
      sha1: await deriveCredential('sha1', 'pencil', Buffer.from('QSXCR+Q6sek8bf92', 'base64'), 4096),
      sha256: await deriveCredential('sha256', 'pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096),
    },
    Juliet: { sha256: await deriveCredential('sha256', 'r0m30') },
    'a,b=c': { sha256: await deriveCredential('sha256', 'secret') },
    few: { sha1: await deriveCredential('sha1', 'secret', undefined, 1000) },
  };
});

describe('SCRAM', () => {
  describe('RFC test vectors', () => {
    it('walks the SCRAM-SHA-1 example of RFC 5802 §5', async () => {
      const mech = new ScramMechanism('sha1', new TestSource(users), { nonceGenerator: () => '3rfcNHYJY1ZVvWVs7j' });
      assert.equal(mech.name, 'SCRAM-SHA-1');
      const first = await mech.start(b('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL'));
      assert.equal(challenge(first), 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096');
      const final = await mech.step(b('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts='));
      assert.equal(final.kind, 'success');
      assert.equal(final.data?.toString('utf8'), 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=');
      assert.equal(final.username, 'user');
      assert.equal(final.authzid, undefined);
    });

    it('walks the SCRAM-SHA-256 example of RFC 7677 §3', async () => {
      const factory = scramFactory('sha256', { nonceGenerator: () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' });
      const mech = factory.create(new TestSource(users));
      assert.equal(mech.name, 'SCRAM-SHA-256');
      const first = await mech.start(b('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
      assert.equal(challenge(first), 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
      const final = await mech.step(b('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='));
      assert.equal(final.kind, 'success');
      assert.equal(final.data?.toString('utf8'), 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
      assert.equal(final.username, 'user');
    });

    it('sends an empty challenge when there is no initial response', async () => {
      const mech = new ScramMechanism('sha1', new TestSource(users), { nonceGenerator: () => '3rfcNHYJY1ZVvWVs7j' });
      assert.equal(challenge(await mech.start(null)), '');
      const first = await mech.step(b('n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL'));
      assert.equal(challenge(first), 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096');
      const final = await mech.step(b('c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts='));
      assert.equal(final.kind, 'success');
      assert.equal(final.data?.toString('utf8'), 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=');
    });
  });

  describe('usernames', () => {
    it('asks the source for the saslprepped name and reports the lowercased localpart', async () => {
      const source = new TestSource(users);
      const { result } = await exchange(new ScramMechanism('sha256', source), 'sha256', 'Juliet', 'r0m30');
      const step = await result;
      assert.equal(step.kind, 'success');
      assert.equal(step.username, 'juliet');
      assert.deepEqual(source.asked, [['Juliet', 'sha256']]);
    });

    it('unescapes =2C and =3D', async () => {
      const source = new TestSource(users);
      const { result } = await exchange(new ScramMechanism('sha256', source), 'sha256', 'a=2Cb=3Dc', 'secret');
      const step = await result;
      assert.equal(step.kind, 'success');
      assert.equal(step.username, 'a,b=c');
      assert.deepEqual(source.asked, [['a,b=c', 'sha256']]);
    });

    it('uses the iteration count of the stored credential', async () => {
      const { serverFirst, result } = await exchange(new ScramMechanism('sha1', new TestSource(users)), 'sha1', 'few', 'secret');
      assert.match(serverFirst, /,i=1000$/);
      assert.equal((await result).kind, 'success');
    });

    it('draws a fresh 24-byte server nonce by default', async () => {
      const nonces = await Promise.all([1, 2].map(async () => {
        const mech = new ScramMechanism('sha256', new TestSource(users));
        const serverFirst = challenge(await mech.start(b('n,,n=user,r=abc')));
        const nonce = /^r=abc([^,]+),/.exec(serverFirst)?.[1] ?? '';
        assert.equal(Buffer.from(nonce, 'base64').length, 24);
        return nonce;
      }));
      assert.notEqual(nonces[0], nonces[1]);
    });
  });

  describe('failures', () => {
    it('rejects a wrong password with not-authorized', async () => {
      const { serverFirst, result } = await exchange(new ScramMechanism('sha256', new TestSource(users)), 'sha256', 'user', 'pen');
      assert.match(serverFirst, /^r=clientnonce123[^,]+,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096$/);
      await rejects(result, 'not-authorized');
    });

    it('treats an unknown user exactly like a wrong password', async () => {
      const wrong = await exchange(new ScramMechanism('sha256', new TestSource(users)), 'sha256', 'user', 'pen');
      const wrongError = await rejects(wrong.result, 'not-authorized');
      const unknown = await exchange(new ScramMechanism('sha256', new TestSource(users)), 'sha256', 'romeo', 'pencil');
      const unknownError = await rejects(unknown.result, 'not-authorized');
      assert.equal(unknownError.message, wrongError.message);
      assert.equal(unknownError.text, wrongError.text);

      const shape = /^r=clientnonce123[A-Za-z0-9+/]{32},s=[A-Za-z0-9+/]{22}==,i=4096$/;
      assert.match(wrong.serverFirst, shape);
      assert.match(unknown.serverFirst, shape);
      const salt = (serverFirst: string): string => serverFirst.split(',')[1] ?? '';
      const again = await exchange(new ScramMechanism('sha256', new TestSource(users)), 'sha256', 'romeo', 'pencil');
      await rejects(again.result, 'not-authorized');
      assert.equal(salt(again.serverFirst), salt(unknown.serverFirst), 'salt is stable per unknown user');
      const other = await exchange(new ScramMechanism('sha256', new TestSource(users)), 'sha256', 'mercutio', 'pencil');
      await rejects(other.result, 'not-authorized');
      assert.notEqual(salt(other.serverFirst), salt(unknown.serverFirst));
    });

    it('treats a user with no credential for this hash as unknown', async () => {
      const { result } = await exchange(new ScramMechanism('sha1', new TestSource(users)), 'sha1', 'Juliet', 'r0m30');
      await rejects(result, 'not-authorized');
    });

    it('treats a name that is no valid localpart as unknown, without asking the store', async () => {
      const source = new TestSource(users);
      const { serverFirst, result } = await exchange(new ScramMechanism('sha256', source), 'sha256', 'user@example.com', 'pencil');
      assert.match(serverFirst, /,i=4096$/);
      await rejects(result, 'not-authorized');
      assert.deepEqual(source.asked, []);
    });

    it('answers temporary-auth-failure when the store is unavailable', async () => {
      const mech = new ScramMechanism('sha256', new TestSource(users, new StoreUnavailableError('down')));
      await rejects(mech.start(b('n,,n=user,r=abc')), 'temporary-auth-failure');
    });

    it('lets other store errors through', async () => {
      const mech = new ScramMechanism('sha256', new TestSource(users, new Error('boom')));
      await assert.rejects(mech.start(b('n,,n=user,r=abc')), /boom/);
    });
  });

  describe('malformed client-first-message', () => {
    const cases: Array<[string, Buffer]> = [
      ['empty message', Buffer.alloc(0)],
      ['no GS2 header', b('n=user,r=abc')],
      ['unknown GS2 flag', b('x,,n=user,r=abc')],
      ['channel binding requested', b('p=tls-unique,,n=user,r=abc')],
      ['GS2 authzid without a=', b('n,user,n=user,r=abc')],
      ['empty authzid', b('n,a=,n=user,r=abc')],
      ['missing username', b('n,,r=abc')],
      ['missing nonce', b('n,,n=user')],
      ['attributes out of order', b('n,,r=abc,n=user')],
      ['empty username', b('n,,n=,r=abc')],
      ['empty nonce', b('n,,n=user,r=')],
      ['nonce with a control character', b('n,,n=user,r=ab\x01c')],
      ['reserved m= extension', b('n,,m=ext,n=user,r=abc')],
      ['m= among the extensions', b('n,,n=user,r=abc,m=ext')],
      ['invalid escape', b('n,,n=us=2Xer,r=abc')],
      ['bare = in username', b('n,,n=us=er,r=abc')],
      ['attribute without a value separator', b('n,,n=user,r=abc,xyz')],
      ['invalid UTF-8', Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xff, 0x2c, 0x72, 0x3d, 0x61])],
      ['oversized message', b(`n,,n=user,r=${'a'.repeat(9000)}`)],
    ];
    for (const [name, message] of cases) {
      it(`rejects ${name} with malformed-request`, async () => {
        const source = new TestSource(users);
        await rejects(new ScramMechanism('sha256', source).start(message), 'malformed-request');
      });
    }

    it('ignores extensions it does not know', async () => {
      const mech = new ScramMechanism('sha256', new TestSource(users), { nonceGenerator: () => 'srv' });
      assert.equal(challenge(await mech.start(b('n,,n=user,r=abc,x=ext'))), 'r=abcsrv,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    });
  });

  describe('malformed client-final-message', () => {
    const bare = 'n=user,r=abc';
    async function final(transform: (honest: string) => string): Promise<SaslStep> {
      const mech = new ScramMechanism('sha256', new TestSource(users), { nonceGenerator: () => 'srv' });
      const serverFirst = challenge(await mech.start(b(`n,,${bare}`)));
      return mech.step(b(transform(await clientFinal('sha256', 'pencil', bare, serverFirst))));
    }

    it('accepts the honest message (control)', async () => {
      assert.equal((await final((m) => m)).kind, 'success');
    });

    const cases: Array<[string, (m: string) => string]> = [
      ['missing proof', (m) => m.replace(/,p=.*$/, '')],
      ['missing channel binding', (m) => m.replace(/^c=[^,]*,/, '')],
      ['missing nonce', (m) => m.replace(/,r=[^,]*/, '')],
      ['attributes out of order', (m) => m.replace(/^(c=[^,]*),(r=[^,]*)/, '$2,$1')],
      ['nonce mismatch', (m) => m.replace('r=abcsrv', 'r=abcsrx')],
      ['nonce without the server part', (m) => m.replace('r=abcsrv', 'r=abc')],
      ['proof that is not base64', (m) => m.replace(/p=.*$/, 'p=not*base64!')],
      ['proof with non-canonical padding', (m) => m.replace(/=$/, '')],
      ['proof of the wrong length', (m) => m.replace(/p=.*$/, `p=${Buffer.alloc(20).toString('base64')}`)],
      ['channel binding of another GS2 header', (m) => m.replace('c=biws', `c=${b64('y,,')}`)],
      ['channel binding that is not base64', (m) => m.replace('c=biws', 'c=b!ws')],
      ['reserved m= extension', (m) => m.replace(',p=', ',m=x,p=')],
      ['empty message', () => ''],
    ];
    for (const [name, transform] of cases) {
      it(`rejects ${name} with malformed-request`, async () => {
        await rejects(final(transform), 'malformed-request');
      });
    }

    it('reports a mismatched channel binding even for an unknown user, before the proof', async () => {
      const mech = new ScramMechanism('sha256', new TestSource(users), { nonceGenerator: () => 'srv' });
      const serverFirst = challenge(await mech.start(b('n,,n=romeo,r=abc')));
      const message = (await clientFinal('sha256', 'pencil', 'n=romeo,r=abc', serverFirst)).replace('c=biws', 'c=eSws');
      await rejects(mech.step(b(message)), 'malformed-request');
    });
  });

  describe('GS2 header and authzid', () => {
    it('accepts the y flag (client supports binding, thinks the server does not)', async () => {
      const { result } = await exchange(new ScramMechanism('sha256', new TestSource(users)), 'sha256', 'user', 'pencil', 'y,,');
      assert.equal((await result).kind, 'success');
    });

    it('returns an authzid naming the authenticated user', async () => {
      const { result } = await exchange(new ScramMechanism('sha256', new TestSource(users)), 'sha256', 'Juliet', 'r0m30', 'n,a=Juliet@Capulet.lit,');
      const step = await result;
      assert.equal(step.kind, 'success');
      assert.equal(step.username, 'juliet');
      assert.equal(step.authzid, 'Juliet@Capulet.lit');
    });

    it('unescapes the authzid', async () => {
      const { result } = await exchange(new ScramMechanism('sha256', new TestSource(users)), 'sha256', 'a=2Cb=3Dc', 'secret', 'n,a=a=2Cb=3Dc@example.com,');
      const step = await result;
      assert.equal(step.kind, 'success');
      assert.equal(step.authzid, 'a,b=c@example.com');
    });

    it('rejects an authzid of another user with invalid-authzid', async () => {
      const { result } = await exchange(new ScramMechanism('sha256', new TestSource(users)), 'sha256', 'user', 'pencil', 'n,a=juliet@example.com,');
      await rejects(result, 'invalid-authzid');
    });

    it('rejects an authzid with a resource or without a localpart', async () => {
      for (const authzid of ['user@example.com/phone', 'example.com']) {
        const { result } = await exchange(new ScramMechanism('sha256', new TestSource(users)), 'sha256', 'user', 'pencil', `n,a=${authzid},`);
        await rejects(result, 'invalid-authzid');
      }
    });

    it('checks the password before the authzid', async () => {
      const { result } = await exchange(new ScramMechanism('sha256', new TestSource(users)), 'sha256', 'user', 'pen', 'n,a=juliet@example.com,');
      await rejects(result, 'not-authorized');
    });
  });

  describe('exchange state', () => {
    it('refuses to continue after success', async () => {
      const mech = new ScramMechanism('sha256', new TestSource(users));
      const { result } = await exchange(mech, 'sha256', 'user', 'pencil');
      assert.equal((await result).kind, 'success');
      await rejects(mech.step(b('c=biws')), 'malformed-request');
      await rejects(mech.start(null), 'malformed-request');
    });

    it('refuses to continue after a failure', async () => {
      const mech = new ScramMechanism('sha256', new TestSource(users));
      await rejects(mech.start(b('n,,n=user')), 'malformed-request');
      await rejects(mech.step(b('n,,n=user,r=abc')), 'malformed-request');
    });

    it('refuses a response before start', async () => {
      await rejects(new ScramMechanism('sha1', new TestSource(users)).step(b('n,,n=user,r=abc')), 'malformed-request');
    });
  });
});

describe('mechanism list', () => {
  it('prefers the -PLUS variants, then SCRAM by hash strength, then PLAIN', () => {
    assert.deepEqual(MECHANISMS.map((m) => m.name), [
      'SCRAM-SHA-512-PLUS', 'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-512', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN',
    ]);
    assert.deepEqual(MECHANISMS.map((m) => m.needsSecureChannel), [true, true, true, false, false, false, true]);
    assert.deepEqual(MECHANISMS.map((m) => m.needsChannelBinding ?? false), [true, true, true, false, false, false, false]);
  });

  it('finds a mechanism by its exact name', () => {
    assert.equal(findMechanism('SCRAM-SHA-1'), MECHANISMS[5]);
    assert.equal(findMechanism('PLAIN'), MECHANISMS[6]);
    assert.equal(findMechanism('SCRAM-SHA-256-PLUS'), MECHANISMS[1]);
    assert.equal(findMechanism('plain'), undefined);
    assert.equal(findMechanism('SCRAM-SHA-384'), undefined);
  });

  it('creates working mechanisms', async () => {
    const mech = findMechanism('SCRAM-SHA-256')?.create(new TestSource(users));
    assert.ok(mech);
    const { result } = await exchange(mech, 'sha256', 'user', 'pencil');
    assert.equal((await result).kind, 'success');
  });
});
