// SCRAM-SHA-512, the -PLUS variants' GS2 flags and channel binding (RFC 5802 §6), XEP-0474's h=
// attribute, and PLAIN's use of partial credentials and the upgrade hook.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  deriveCredential, deriveCredentials, digest, hmac, saltedPassword, staleHashes, upgradeCredentials,
  type ScramCredential, type ScramHash, type StoredCredentials,
} from '../../auth/credentials.js';
import { StandInCredentials } from '../../auth/stand-in.js';
import { SaslError, type SaslFailureCondition } from '../../errors.js';
import { downgradeString, mechanismsFor, offeredMechanisms } from './index.js';
import { PlainMechanism } from './plain.js';
import { ChannelBindingTypeError, ScramMechanism } from './scram.js';
import type { ChannelBinding, CredentialSource, MechanismContext, SaslStep } from './types.js';

const STAND_INS = new StandInCredentials(Buffer.alloc(32, 7), 4096);

class Source implements CredentialSource {
  readonly verified: Array<[string, string]> = [];
  constructor(private readonly users: Record<string, StoredCredentials>) {}
  async getCredential(username: string, hash: ScramHash): Promise<ScramCredential | undefined> {
    return this.users[username]?.[hash];
  }
  async getCredentials(username: string): Promise<StoredCredentials | undefined> {
    return this.users[username];
  }
  standIn(username: string, hash: ScramHash): ScramCredential {
    return STAND_INS.credential(hash, username);
  }
  async passwordVerified(username: string, password: string): Promise<void> {
    this.verified.push([username, password]);
  }
}

const CB_DATA = Buffer.from('the exporter of this TLS channel');
const channel: ChannelBinding = {
  types: ['tls-exporter', 'tls-server-end-point'],
  data: (type) => (type === 'tls-exporter' ? CB_DATA : type === 'tls-server-end-point' ? Buffer.from('end point') : undefined),
};
const offered = { mechanisms: ['SCRAM-SHA-512-PLUS', 'SCRAM-SHA-512', 'PLAIN'], channelBindings: ['tls-exporter', 'tls-server-end-point'] };

async function rejects(promise: Promise<unknown>, condition: SaslFailureCondition): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof SaslError && err.condition === condition);
}

/** An honest client: returns the server-first-message and the outcome of the final step. */
async function login(mech: ScramMechanism, hash: ScramHash, password: string, gs2Header: string, cbData = Buffer.alloc(0), username = 'user'): Promise<{ serverFirst: string; result: Promise<SaslStep> }> {
  const bare = `n=${username},r=clientnonce`;
  const step = await mech.start(Buffer.from(gs2Header + bare));
  assert.equal(step.kind, 'challenge');
  const serverFirst = step.data.toString();
  const attrs = new Map(serverFirst.split(',').map((a) => [a.slice(0, 1), a.slice(2)]));
  const salted = await saltedPassword(hash, password, Buffer.from(attrs.get('s') ?? '', 'base64'), Number(attrs.get('i')));
  const withoutProof = `c=${Buffer.concat([Buffer.from(gs2Header), cbData]).toString('base64')},r=${attrs.get('r') ?? ''}`;
  const clientKey = hmac(hash, salted, 'Client Key');
  const signature = hmac(hash, digest(hash, clientKey), `${bare},${serverFirst},${withoutProof}`);
  const proof = Buffer.from(clientKey.map((byte, i) => byte ^ (signature[i] ?? 0)));
  return { serverFirst, result: mech.step(Buffer.from(`${withoutProof},p=${proof.toString('base64')}`)) };
}

let users: Record<string, StoredCredentials>;
before(async () => {
  users = { user: await deriveCredentials('pencil', 4096), old: { sha1: await deriveCredential('sha1', 'secret', undefined, 1000) } };
});

const plus = (hash: ScramHash, context: MechanismContext = { channelBinding: channel }): ScramMechanism => new ScramMechanism(hash, new Source(users), { plus: true }, undefined, context);
const plainScram = (hash: ScramHash, context: MechanismContext = {}): ScramMechanism => new ScramMechanism(hash, new Source(users), {}, undefined, context);

describe('SCRAM-SHA-512', () => {
  it('logs in, with 64-byte keys and a server signature checked independently', async () => {
    const mech = plainScram('sha512');
    assert.equal(mech.name, 'SCRAM-SHA-512');
    const { serverFirst, result } = await login(mech, 'sha512', 'pencil', 'n,,');
    const step = await result;
    assert.equal(step.kind, 'success');
    // v= recomputed here with node:crypto directly, not with the server's helpers.
    const salt = Buffer.from(/s=([^,]+)/.exec(serverFirst)?.[1] ?? '', 'base64');
    const { pbkdf2Sync, createHmac } = await import('node:crypto');
    const serverKey = createHmac('sha512', pbkdf2Sync('pencil', salt, 4096, 64, 'sha512')).update('Server Key').digest();
    assert.equal(serverKey.length, 64);
    assert.equal(Buffer.from(users.user?.sha512?.serverKey ?? '', 'base64').equals(serverKey), true);
    assert.match(step.data?.toString() ?? '', /^v=[A-Za-z0-9+/]{86}==$/);
  });

  it('fails a wrong password with not-authorized', async () => {
    await rejects((await login(plainScram('sha512'), 'sha512', 'pen', 'n,,')).result, 'not-authorized');
  });

  it('fails cleanly for an account without SHA-512 keys, exactly as for an unknown user', async () => {
    await rejects((await login(plainScram('sha512'), 'sha512', 'secret', 'n,,', undefined, 'old')).result, 'not-authorized');
    await rejects((await login(plainScram('sha512'), 'sha512', 'secret', 'n,,', undefined, 'nobody')).result, 'not-authorized');
  });
});

describe('SCRAM -PLUS and GS2 channel-binding flags (RFC 5802 §6)', () => {
  for (const hash of ['sha1', 'sha256', 'sha512'] as const) {
    it(`SCRAM-${hash.toUpperCase().replace('SHA', 'SHA-')}-PLUS logs in with the right tls-exporter data`, async () => {
      const mech = plus(hash);
      assert.match(mech.name, /-PLUS$/);
      assert.equal((await (await login(mech, hash, 'pencil', 'p=tls-exporter,,', CB_DATA)).result).kind, 'success');
    });
  }

  it('accepts tls-server-end-point too', async () => {
    assert.equal((await (await login(plus('sha256'), 'sha256', 'pencil', 'p=tls-server-end-point,,', Buffer.from('end point'))).result).kind, 'success');
  });

  it('fails wrong channel-binding data with not-authorized (right password)', async () => {
    await rejects((await login(plus('sha256'), 'sha256', 'pencil', 'p=tls-exporter,,', Buffer.from('another TLS channel'))).result, 'not-authorized');
  });

  it('refuses a channel-binding type the connection does not offer', async () => {
    await rejects(plus('sha256').start(Buffer.from('p=tls-unique,,n=user,r=abc')), 'malformed-request');
  });

  it('refuses -PLUS without the p flag', async () => {
    await rejects(plus('sha256').start(Buffer.from('n,,n=user,r=abc')), 'malformed-request');
    await rejects(plus('sha256').start(Buffer.from('y,,n=user,r=abc')), 'malformed-request');
  });

  it('refuses -PLUS without a channel to bind to with encryption-required', async () => {
    await rejects(plus('sha256', {}).start(Buffer.from('p=tls-exporter,,n=user,r=abc')), 'encryption-required');
  });

  it('refuses the p flag with a mechanism that is not -PLUS', async () => {
    await rejects(plainScram('sha256', { channelBinding: channel }).start(Buffer.from('p=tls-exporter,,n=user,r=abc')), 'malformed-request');
  });

  it("fails 'y' where -PLUS is offered (a downgrade), and accepts it where it is not (control)", async () => {
    await rejects(plainScram('sha256', { channelBinding: channel }).start(Buffer.from('y,,n=user,r=abc')), 'not-authorized');
    assert.equal((await (await login(plainScram('sha256'), 'sha256', 'pencil', 'y,,')).result).kind, 'success');
  });

  it("accepts 'y' once a -PLUS attempt on the stream named a type the connection lacks", async () => {
    await assert.rejects(plus('sha256').start(Buffer.from('p=tls-unique,,n=user,r=abc')), (err: unknown) => err instanceof ChannelBindingTypeError);
    const after = plainScram('sha256', { channelBinding: channel, bindingTypeRefused: true });
    assert.equal((await (await login(after, 'sha256', 'pencil', 'y,,')).result).kind, 'success');
  });
});

describe('XEP-0474 downgrade protection', () => {
  it('builds the string from the sorted names with the XEP separators', () => {
    assert.equal(downgradeString(['SCRAM-SHA-256', 'PLAIN', 'SCRAM-SHA-1'], []), 'PLAIN\u001eSCRAM-SHA-1\u001eSCRAM-SHA-256');
    assert.equal(downgradeString(['SCRAM-SHA-1-PLUS', 'PLAIN'], ['tls-server-end-point', 'tls-exporter']), 'PLAIN\u001eSCRAM-SHA-1-PLUS\u001ftls-exporter\u001etls-server-end-point');
  });

  it('sends h= in the server-first-message: the mechanism hash of the offer', async () => {
    const { serverFirst, result } = await login(plus('sha512', { channelBinding: channel, offered }), 'sha512', 'pencil', 'p=tls-exporter,,', CB_DATA);
    const expected = createHash('sha512').update(`PLAIN\u001eSCRAM-SHA-512\u001eSCRAM-SHA-512-PLUS\u001ftls-exporter\u001etls-server-end-point`).digest('base64');
    assert.match(serverFirst, /^r=[^,]+,s=[^,]+,i=4096,h=[^,]+$/);
    assert.equal(/,h=([^,]+)$/.exec(serverFirst)?.[1], expected);
    assert.equal((await result).kind, 'success');
  });

  it('sends no h= when the offer is not known (control)', async () => {
    const { serverFirst } = await login(plainScram('sha256'), 'sha256', 'pencil', 'n,,');
    assert.doesNotMatch(serverFirst, /,h=/);
  });
});

describe('mechanisms per configuration and connection', () => {
  it('offers only the configured hashes, and -PLUS only with channel binding', () => {
    const configured = mechanismsFor(['sha256']);
    assert.deepEqual(configured.map((m) => m.name), ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'PLAIN']);
    assert.deepEqual(offeredMechanisms(configured, false).map((m) => m.name), ['SCRAM-SHA-256', 'PLAIN']);
    assert.deepEqual(offeredMechanisms(configured, true).map((m) => m.name), ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'PLAIN']);
  });
});

describe('PLAIN with partial credentials', () => {
  const message = (user: string, password: string): Buffer => Buffer.from(`\0${user}\0${password}`);

  it('checks an account that has SHA-1 keys only, and reports the password for the upgrade', async () => {
    const source = new Source(users);
    assert.equal((await new PlainMechanism(source).start(message('old', 'secret'))).kind, 'success');
    assert.deepEqual(source.verified, [['old', 'secret']]);
  });

  it("checks with the source's plainHash first, and runs an unknown name's stand-in with it", async () => {
    const asked: ScramHash[] = [];
    const source = Object.assign(new Source(users), { plainHash: 'sha512' as const });
    source.standIn = (username: string, hash: ScramHash): ScramCredential => {
      asked.push(hash);
      return STAND_INS.credential(hash, username);
    };
    await rejects(new PlainMechanism(source).start(message('nobody', 'pencil')), 'not-authorized');
    assert.deepEqual(asked, ['sha512']);
    assert.equal((await new PlainMechanism(source).start(message('user', 'pencil'))).kind, 'success');
  });

  it('does not report a wrong password', async () => {
    const source = new Source(users);
    await rejects(new PlainMechanism(source).start(message('old', 'wrong')), 'not-authorized');
    assert.deepEqual(source.verified, []);
  });
});

describe('credential upgrade', () => {
  it('derives the missing hashes and those with another iteration count, keeping the rest', async () => {
    const current: StoredCredentials = { sha1: await deriveCredential('sha1', 'pw', undefined, 1000), sha256: await deriveCredential('sha256', 'pw', undefined, 2000) };
    assert.deepEqual(staleHashes(current, ['sha1', 'sha256', 'sha512'], 2000), ['sha1', 'sha512']);
    const upgraded = await upgradeCredentials(current, 'pw', ['sha1', 'sha256', 'sha512'], 2000);
    assert.equal(upgraded?.sha256, current.sha256);
    assert.equal(upgraded?.sha1?.iterations, 2000);
    assert.equal(upgraded?.sha512?.iterations, 2000);
    assert.equal(await upgradeCredentials(upgraded ?? {}, 'pw', ['sha1', 'sha256', 'sha512'], 2000), undefined);
  });
});
