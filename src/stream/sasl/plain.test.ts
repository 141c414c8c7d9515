import assert from 'node:assert/strict';
import { deriveCredential, type ScramCredential, type ScramHash } from '../../auth/credentials.js';
import { SaslError, type SaslFailureCondition } from '../../errors.js';
import { StoreUnavailableError } from '../../storage/types.js';
import { PLAIN, PlainMechanism } from './plain.js';
import { StandInCredentials } from '../../auth/stand-in.js';
import type { CredentialSource } from './types.js';

const STAND_INS = new StandInCredentials(Buffer.alloc(32, 7), 4096);

class TestSource implements CredentialSource {
  readonly asked: Array<[string, ScramHash]> = [];
  constructor(private readonly users: Record<string, ScramCredential>, private readonly failure?: Error) {}
  async getCredential(username: string, hash: ScramHash): Promise<ScramCredential | undefined> {
    this.asked.push([username, hash]);
    if (this.failure) throw this.failure;
    return hash === 'sha256' ? this.users[username] : undefined;
  }
  standIn(username: string, hash: ScramHash): ScramCredential {
    return STAND_INS.credential(hash, username);
  }
}

const message = (authzid: string, authcid: string, password: string): Buffer => Buffer.from(`${authzid}\0${authcid}\0${password}`, 'utf8');

async function rejects(promise: Promise<unknown>, condition: SaslFailureCondition): Promise<SaslError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return err instanceof SaslError && err.condition === condition;
  });
  return caught as SaslError;
}

let users: Record<string, ScramCredential>;

before(async () => {
  users = {
    Juliet: await deriveCredential('sha256', 'r0m30'),
    nurse: await deriveCredential('sha256', 'IX'),
  };
});

const plain = (source = new TestSource(users)): PlainMechanism => new PlainMechanism(source);

describe('PLAIN', () => {
  it('is offered only on a secure channel', () => {
    assert.equal(PLAIN.name, 'PLAIN');
    assert.equal(PLAIN.needsSecureChannel, true);
    assert.equal(PLAIN.create(new TestSource(users)).name, 'PLAIN');
  });

  it('authenticates without an authzid', async () => {
    const source = new TestSource(users);
    const step = await plain(source).start(message('', 'Juliet', 'r0m30'));
    assert.deepEqual(step, { kind: 'success', data: null, username: 'juliet' });
    assert.deepEqual(source.asked, [['Juliet', 'sha256']]);
  });

  it('returns the authzid as given when it names the authenticated user', async () => {
    const step = await plain().start(message('Juliet@Capulet.lit', 'Juliet', 'r0m30'));
    assert.deepEqual(step, { kind: 'success', data: null, username: 'juliet', authzid: 'Juliet@Capulet.lit' });
  });

  it('rejects an authzid of another user, with a resource, or without a localpart', async () => {
    for (const authzid of ['romeo@capulet.lit', 'juliet@capulet.lit/balcony', 'capulet.lit', '@capulet.lit']) {
      await rejects(plain().start(message(authzid, 'Juliet', 'r0m30')), 'invalid-authzid');
    }
  });

  it('checks the password before the authzid', async () => {
    await rejects(plain().start(message('romeo@capulet.lit', 'Juliet', 'wrong')), 'not-authorized');
  });

  it('sends an empty challenge when there is no initial response', async () => {
    const mech = plain();
    assert.deepEqual(await mech.start(null), { kind: 'challenge', data: Buffer.alloc(0) });
    const step = await mech.step(message('', 'Juliet', 'r0m30'));
    assert.equal(step.kind, 'success');
  });

  it('applies saslprep to the password', async () => {
    // saslprep maps the soft hyphen to nothing
    assert.equal((await plain().start(message('', 'nurse', 'I\u00ADX'))).kind, 'success');
  });

  it('accepts fields longer than the 255 octets RFC 4616 requires', async () => {
    const long = 'p'.repeat(1000);
    const source = new TestSource({ ...users, juliet: await deriveCredential('sha256', long) });
    assert.equal((await plain(source).start(message('juliet@capulet.lit', 'juliet', long))).kind, 'success');
  });

  it('rejects a wrong password with not-authorized', async () => {
    await rejects(plain().start(message('', 'Juliet', 'r0m31')), 'not-authorized');
  });

  it('treats an unknown user exactly like a wrong password', async () => {
    const wrong = await rejects(plain().start(message('', 'Juliet', 'r0m31')), 'not-authorized');
    const unknown = await rejects(plain().start(message('', 'romeo', 'r0m30')), 'not-authorized');
    assert.equal(unknown.message, wrong.message);
    assert.equal(unknown.text, wrong.text);
  });

  it('treats a name that is no valid localpart as unknown, without asking the store', async () => {
    const source = new TestSource(users);
    await rejects(plain(source).start(message('', 'juliet@capulet.lit', 'r0m30')), 'not-authorized');
    assert.deepEqual(source.asked, []);
  });

  it('rejects a password saslprep forbids with not-authorized', async () => {
    await rejects(plain().start(message('', 'Juliet', 'r0m30\u0007')), 'not-authorized');
  });

  it('answers temporary-auth-failure when the store is unavailable', async () => {
    await rejects(plain(new TestSource(users, new StoreUnavailableError('down'))).start(message('', 'Juliet', 'r0m30')), 'temporary-auth-failure');
  });

  it('lets other store errors through', async () => {
    await assert.rejects(plain(new TestSource(users, new Error('boom'))).start(message('', 'Juliet', 'r0m30')), /boom/);
  });

  describe('malformed messages', () => {
    const cases: Array<[string, Buffer]> = [
      ['an empty message', Buffer.alloc(0)],
      ['a single NUL', Buffer.from('Juliet\0r0m30')],
      ['three NULs', Buffer.from('\0Juliet\0r0m30\0')],
      ['an empty authcid', message('', '', 'r0m30')],
      ['an empty password', message('', 'Juliet', '')],
      ['invalid UTF-8', Buffer.from([0x00, 0x4a, 0xff, 0x00, 0x70])],
      ['an oversized message', message('', 'Juliet', 'x'.repeat(5000))],
    ];
    for (const [name, data] of cases) {
      it(`rejects ${name} with malformed-request`, async () => {
        await rejects(plain().start(data), 'malformed-request');
      });
    }
  });

  describe('exchange state', () => {
    it('refuses a response after success or failure, and before start', async () => {
      const done = plain();
      await done.start(message('', 'Juliet', 'r0m30'));
      await rejects(done.step(message('', 'Juliet', 'r0m30')), 'malformed-request');

      const failed = plain();
      await rejects(failed.start(message('', 'Juliet', 'wrong')), 'not-authorized');
      await rejects(failed.step(message('', 'Juliet', 'r0m30')), 'malformed-request');

      await rejects(plain().step(message('', 'Juliet', 'r0m30')), 'malformed-request');
    });

    it('refuses a second start', async () => {
      const mech = plain();
      await mech.start(null);
      await rejects(mech.start(message('', 'Juliet', 'r0m30')), 'malformed-request');
    });
  });
});
