// The FastTokenStore contract: every back end runs these (store.test.ts, both back ends).
import assert from 'node:assert/strict';
import { fakeCredentials } from '../../../src/storage/contract/accounts.contract.js';
import type { ModuleContractFixture, OpenModuleFixture } from '../../../src/storage/contract/module-fixture.js';
import type { FastTokenRecord, FastTokenStore } from './types.js';

const record = (verifier: string): FastTokenRecord => ({ mechanism: 'HT-SHA-256-NONE', verifier, responder: 'cmVzcG9uZGVy', expiresAt: 1_800_000_000_123, credential: 'fp' });

export function fastTokenStoreContract(name: string, open: OpenModuleFixture<FastTokenStore>): void {
  describe(`FastTokenStore contract: ${name}`, () => {
    let fixture: ModuleContractFixture<FastTokenStore>;
    const tokens = (): FastTokenStore => fixture.store;

    beforeEach(async () => {
      fixture = await open();
      for (const user of ['alice', 'bob']) await fixture.stores.accounts.create(user, fakeCredentials(user));
    });
    afterEach(async () => fixture.cleanup());

    it('keeps one token per account and user agent, the last put', async () => {
      await tokens().put('alice', 'a1', record('v1'));
      await tokens().put('alice', 'a1', record('v2'));
      await tokens().put('alice', 'a2', record('v3'));
      assert.deepEqual(await tokens().get('alice', 'a1'), record('v2'));
      assert.deepEqual(await tokens().get('alice', 'a2'), record('v3'));
      assert.equal(await tokens().get('bob', 'a1'), undefined);
    });

    it('takes a token once, and only with its verifier', async () => {
      await tokens().put('alice', 'a1', record('v1'));
      assert.equal(await tokens().take('alice', 'a1', 'other'), undefined);
      assert.deepEqual(await tokens().take('alice', 'a1', 'v1'), record('v1'));
      assert.equal(await tokens().take('alice', 'a1', 'v1'), undefined, 'a replay finds nothing');
    });

    it('revokes one agent or all of an account, counting them', async () => {
      await tokens().put('alice', 'a1', record('v1'));
      await tokens().put('alice', 'a2', record('v2'));
      await tokens().put('bob', 'a1', record('v3'));
      assert.equal(await tokens().revoke('alice', 'a2'), 1);
      assert.equal(await tokens().revoke('alice'), 1);
      assert.equal(await tokens().get('alice', 'a1'), undefined);
      assert.deepEqual(await tokens().get('bob', 'a1'), record('v3'));
    });

    it('stores nothing without the account, and loses the tokens with it', async () => {
      await tokens().put('ghost', 'a1', record('v1'));
      assert.equal(await tokens().get('ghost', 'a1'), undefined);
      await tokens().put('alice', 'a1', record('v1'));
      assert.equal(await fixture.stores.accounts.delete('alice'), true);
      await fixture.stores.accounts.create('alice', fakeCredentials('again'));
      assert.equal(await tokens().get('alice', 'a1'), undefined);
    });
  });
}
