// The VCardStore contract (XEP-0054): every back end runs it (store.test.ts).
import assert from 'node:assert/strict';
import { fakeCredentials } from '../../../src/storage/contract/accounts.contract.js';
import type { ModuleContractFixture, OpenModuleFixture } from '../../../src/storage/contract/module-fixture.js';
import type { VCardStore } from './types.js';

const vcard = (fn: string): string => `<vCard xmlns="vcard-temp"><FN>${fn}</FN></vCard>`;

export function vcardStoreContract(name: string, open: OpenModuleFixture<VCardStore>): void {
  describe(`VCardStore contract: ${name}`, () => {
    let fixture: ModuleContractFixture<VCardStore>;
    const vcards = (): VCardStore => fixture.store;

    beforeEach(async () => {
      fixture = await open();
      for (const user of ['alice', 'bob']) await fixture.stores.accounts.create(user, fakeCredentials(user));
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it('has no vCard for a user who never set one', async () => {
      assert.equal(await vcards().get('alice'), undefined);
    });

    it('stores a vCard, replaces it, and deletes it', async () => {
      await vcards().set('alice', vcard('Alice'));
      assert.equal(await vcards().get('alice'), vcard('Alice'));
      await vcards().set('alice', vcard('Alice Liddell'));
      assert.equal(await vcards().get('alice'), vcard('Alice Liddell'));
      assert.equal(await vcards().delete('alice'), true);
      assert.equal(await vcards().get('alice'), undefined);
      assert.equal(await vcards().delete('alice'), false);
      assert.equal(await vcards().delete('bob'), false);
    });

    it('keeps the XML exactly as given, large photos included', async () => {
      const photo = Buffer.alloc(96 * 1024, 7).toString('base64');
      const xml = `<vCard xmlns="vcard-temp"><FN>Ålice 🦊 &amp; co</FN>\n<PHOTO><TYPE>image/png</TYPE><BINVAL>${photo}</BINVAL></PHOTO></vCard>`;
      await vcards().set('alice', xml);
      assert.equal(await vcards().get('alice'), xml);
    });

    it('keeps users’ vCards apart', async () => {
      await vcards().set('alice', vcard('Alice'));
      await vcards().set('bob', vcard('Bob'));
      assert.equal(await vcards().delete('bob'), true);
      assert.equal(await vcards().get('alice'), vcard('Alice'));
      assert.equal(await vcards().get('bob'), undefined);
    });

    it('deleting an account removes its vCard and no one else’s', async () => {
      await vcards().set('alice', vcard('Alice'));
      await vcards().set('bob', vcard('Bob'));
      assert.equal(await fixture.stores.accounts.delete('alice'), true);
      assert.equal(await vcards().get('alice'), undefined);
      assert.equal(await vcards().get('bob'), vcard('Bob'));
      await fixture.stores.accounts.create('alice', fakeCredentials('again'));
      assert.equal(await vcards().get('alice'), undefined, 'a new account of the same name starts without one');
    });
  });
}
