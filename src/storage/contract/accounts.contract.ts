// The AccountStore contract: every back end runs these same tests (embedded now, PostgreSQL later).
// Usage, in a back end's test file:
//   accountStoreContract('embedded', async () => ({ stores, cleanup }));
import assert from 'node:assert/strict';
import type { StoredCredentials } from '../../auth/credentials.js';
import type { Stores } from '../types.js';

export interface ContractFixture {
  stores: Stores;
  /** Closes the stores and removes whatever the fixture created. */
  cleanup(): Promise<void>;
}

/** Distinct, well-formed credentials without paying for PBKDF2. */
export function fakeCredentials(tag: string): StoredCredentials {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  return {
    sha1: { salt: b64(`salt1-${tag}`), iterations: 4096, storedKey: b64(`stored1-${tag}`), serverKey: b64(`server1-${tag}`) },
    sha256: { salt: b64(`salt256-${tag}`), iterations: 4096, storedKey: b64(`stored256-${tag}`), serverKey: b64(`server256-${tag}`) },
    sha512: { salt: b64(`salt512-${tag}`), iterations: 8192, storedKey: b64(`stored512-${tag}`), serverKey: b64(`server512-${tag}`) },
  };
}

export function accountStoreContract(name: string, open: () => Promise<ContractFixture>): void {
  describe(`AccountStore contract: ${name}`, () => {
    let fixture: ContractFixture;
    const accounts = () => fixture.stores.accounts;

    beforeEach(async () => {
      fixture = await open();
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it('creates an account and reads it back', async () => {
      const before = Date.now();
      assert.equal(await accounts().create('alice', fakeCredentials('a')), true);
      const account = await accounts().get('alice');
      assert.ok(account);
      assert.equal(account.username, 'alice');
      assert.deepEqual(account.credentials, fakeCredentials('a'));
      assert.ok(account.createdAt >= before - 1000 && account.createdAt <= Date.now() + 1000, 'createdAt is about now');
    });

    it('refuses to create a username that is taken, and keeps the original', async () => {
      assert.equal(await accounts().create('alice', fakeCredentials('first')), true);
      assert.equal(await accounts().create('alice', fakeCredentials('second')), false);
      assert.deepEqual((await accounts().get('alice'))?.credentials, fakeCredentials('first'));
      assert.equal(await accounts().count(), 1);
    });

    it('lets exactly one of many concurrent creators win', async () => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => accounts().create('race', fakeCredentials(String(i)))));
      assert.equal(results.filter((r) => r).length, 1);
      const winner = results.indexOf(true);
      assert.deepEqual((await accounts().get('race'))?.credentials, fakeCredentials(String(winner)));
    });

    it('keeps keys for some hashes only, and replaces the set as given (credential upgrade)', async () => {
      const { sha1, sha256, sha512 } = fakeCredentials('p');
      assert.ok(sha1 && sha256 && sha512);
      assert.equal(await accounts().create('partial', { sha1 }), true);
      assert.deepEqual((await accounts().get('partial'))?.credentials, { sha1 });
      assert.equal(await accounts().setCredentials('partial', { sha512 }), true);
      assert.deepEqual((await accounts().get('partial'))?.credentials, { sha512 });
      assert.equal(await accounts().setCredentials('partial', { sha1, sha256, sha512 }), true);
      assert.deepEqual((await accounts().get('partial'))?.credentials, { sha1, sha256, sha512 });
    });

    it('returns undefined for an unknown account', async () => {
      assert.equal(await accounts().get('nobody'), undefined);
    });

    it('tells whether an account exists', async () => {
      assert.equal(await accounts().exists('bob'), false);
      await accounts().create('bob', fakeCredentials('b'));
      assert.equal(await accounts().exists('bob'), true);
      assert.equal(await accounts().exists('bo'), false);
      assert.equal(await accounts().exists('bobby'), false);
    });

    it('replaces credentials and keeps the creation time', async () => {
      await accounts().create('carol', fakeCredentials('old'));
      const created = await accounts().get('carol');
      assert.equal(await accounts().setCredentials('carol', fakeCredentials('new')), true);
      const updated = await accounts().get('carol');
      assert.deepEqual(updated?.credentials, fakeCredentials('new'));
      assert.equal(updated?.createdAt, created?.createdAt);
    });

    it('does not create an account when setting credentials of an unknown one', async () => {
      assert.equal(await accounts().setCredentials('ghost', fakeCredentials('x')), false);
      assert.equal(await accounts().exists('ghost'), false);
      assert.equal(await accounts().count(), 0);
    });

    it('deletes an account, and says false when there was none', async () => {
      await accounts().create('dave', fakeCredentials('d'));
      assert.equal(await accounts().delete('dave'), true);
      assert.equal(await accounts().exists('dave'), false);
      assert.equal(await accounts().get('dave'), undefined);
      assert.equal(await accounts().delete('dave'), false);
      assert.equal(await accounts().delete('never'), false);
      // The name is free again.
      assert.equal(await accounts().create('dave', fakeCredentials('d2')), true);
    });

    it('lists usernames in lexical order, paged by after and limit', async () => {
      const names = ['mallory', 'alice', 'eve', 'bob', 'carol', 'dave', 'trent'];
      for (const n of names) await accounts().create(n, fakeCredentials(n));
      const sorted = [...names].sort();
      assert.deepEqual(await accounts().list(), sorted);
      assert.deepEqual(await accounts().list({ limit: 3 }), sorted.slice(0, 3));
      assert.deepEqual(await accounts().list({ after: 'carol', limit: 2 }), ['dave', 'eve']);
      // `after` need not be a stored name.
      assert.deepEqual(await accounts().list({ after: 'c' }), ['carol', 'dave', 'eve', 'mallory', 'trent']);
      assert.deepEqual(await accounts().list({ after: 'trent' }), []);
      assert.deepEqual(await accounts().list({ after: 'zzz' }), []);
      assert.deepEqual(await accounts().list({ limit: 0 }), []);

      const paged: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await accounts().list(after === undefined ? { limit: 2 } : { after, limit: 2 });
        if (page.length === 0) break;
        assert.ok(page.length <= 2);
        paged.push(...page);
        after = page[page.length - 1];
      }
      assert.deepEqual(paged, sorted);
    });

    it('lists nothing and counts zero when empty', async () => {
      assert.deepEqual(await accounts().list(), []);
      assert.equal(await accounts().count(), 0);
    });

    it('counts accounts', async () => {
      for (let i = 0; i < 25; i++) await accounts().create(`user${String(i).padStart(2, '0')}`, fakeCredentials(String(i)));
      assert.equal(await accounts().count(), 25);
      await accounts().delete('user07');
      await accounts().create('user01', fakeCredentials('dup'));
      assert.equal(await accounts().count(), 24);
    });

    it('stores unicode usernames and orders them by code point', async () => {
      const names = ['émile', 'ñandú', '日本語', 'zoë', 'aaron', 'юлия', '🦊fox'];
      for (const n of names) assert.equal(await accounts().create(n, fakeCredentials(n)), true);
      for (const n of names) assert.equal((await accounts().get(n))?.username, n);
      assert.equal(await accounts().create('ñandú', fakeCredentials('again')), false);
      const byCodePoint = [...names].sort((a, b) => {
        const ca = [...a].map((c) => c.codePointAt(0) ?? 0);
        const cb = [...b].map((c) => c.codePointAt(0) ?? 0);
        for (let i = 0; i < Math.min(ca.length, cb.length); i++) if (ca[i] !== cb[i]) return (ca[i] ?? 0) - (cb[i] ?? 0);
        return ca.length - cb.length;
      });
      assert.deepEqual(await accounts().list(), byCodePoint);
      assert.deepEqual(await accounts().list({ after: 'zoë' }), byCodePoint.slice(byCodePoint.indexOf('zoë') + 1));
      assert.equal(await accounts().count(), names.length);
    });
  });
}
