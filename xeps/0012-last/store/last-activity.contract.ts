// The LastActivityStore (XEP-0012) contract: every back end runs these.
// Run on both back ends by store.test.ts.
import assert from 'node:assert/strict';
import { fakeCredentials } from '../../../src/storage/contract/accounts.contract.js';
import type { ModuleContractFixture, OpenModuleFixture } from '../../../src/storage/contract/module-fixture.js';
import type { LastActivityStore } from './types.js';

export function lastActivityStoreContract(name: string, open: OpenModuleFixture<LastActivityStore>): void {
  describe(`LastActivityStore contract: ${name}`, () => {
    let fixture: ModuleContractFixture<LastActivityStore>;
    const last = (): LastActivityStore => fixture.store;

    beforeEach(async () => {
      fixture = await open();
      for (const user of ['alice', 'al', 'bob']) await fixture.stores.accounts.create(user, fakeCredentials(user));
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it('has nothing for a user who never logged out', async () => {
      assert.equal(await last().get('alice'), undefined);
      assert.equal(await last().get('nobody'), undefined);
    });

    it('keeps the time to the millisecond, with and without a status', async () => {
      await last().set('alice', { timestamp: 1_700_000_000_123 });
      assert.deepEqual(await last().get('alice'), { timestamp: 1_700_000_000_123 });
      await last().set('alice', { timestamp: 1_700_000_100_999, status: 'Heading Home' });
      assert.deepEqual(await last().get('alice'), { timestamp: 1_700_000_100_999, status: 'Heading Home' });
      await last().set('alice', { timestamp: 1_700_000_200_001 });
      assert.deepEqual(await last().get('alice'), { timestamp: 1_700_000_200_001 }, 'a new record without status drops the old status');
    });

    it('keeps status text exactly, empty and non-ASCII included', async () => {
      await last().set('alice', { timestamp: 1, status: '' });
      assert.deepEqual(await last().get('alice'), { timestamp: 1, status: '' });
      const text = 'Ünïcödé 🦊 <&> "quoted"\nsecond line';
      await last().set('alice', { timestamp: 2, status: text });
      assert.deepEqual(await last().get('alice'), { timestamp: 2, status: text });
    });

    it('keeps users apart', async () => {
      await last().set('alice', { timestamp: 10, status: 'a' });
      await last().set('bob', { timestamp: 20, status: 'b' });
      assert.deepEqual(await last().get('alice'), { timestamp: 10, status: 'a' });
      assert.deepEqual(await last().get('bob'), { timestamp: 20, status: 'b' });
    });

    it('does nothing for a username without an account', async () => {
      await last().set('ghost', { timestamp: 5, status: 'boo' });
      assert.equal(await last().get('ghost'), undefined);
      await fixture.stores.accounts.create('ghost', fakeCredentials('ghost'));
      assert.equal(await last().get('ghost'), undefined, 'a later account of that name starts without a record');
    });

    it('deleting an account removes its record and no one else’s', async () => {
      await last().set('alice', { timestamp: 10, status: 'a' });
      await last().set('al', { timestamp: 15 });
      await last().set('bob', { timestamp: 20 });
      assert.equal(await fixture.stores.accounts.delete('al'), true);
      assert.equal(await last().get('al'), undefined);
      assert.deepEqual(await last().get('alice'), { timestamp: 10, status: 'a' });
      assert.equal(await fixture.stores.accounts.delete('alice'), true);
      assert.equal(await last().get('alice'), undefined);
      assert.deepEqual(await last().get('bob'), { timestamp: 20 });
      await fixture.stores.accounts.create('alice', fakeCredentials('again'));
      assert.equal(await last().get('alice'), undefined, 'a new account of the same name starts without one');
    });
  });
}
