// The PrivateXmlStore contract (XEP-0049): every back end runs it (store.test.ts).
import assert from 'node:assert/strict';
import { fakeCredentials } from '../../../src/storage/contract/accounts.contract.js';
import type { ModuleContractFixture, OpenModuleFixture } from '../../../src/storage/contract/module-fixture.js';
import type { PrivateXmlStore } from './types.js';

const BOOKMARKS = 'storage storage:bookmarks';
const ROSTERNOTES = 'storage storage:rosternotes';
const bookmarks = (name: string): string => `<storage xmlns="storage:bookmarks"><conference jid="${name}@conference.example.org"/></storage>`;

export function privateXmlStoreContract(name: string, open: OpenModuleFixture<PrivateXmlStore>): void {
  describe(`PrivateXmlStore contract: ${name}`, () => {
    let fixture: ModuleContractFixture<PrivateXmlStore>;
    const privateXml = (): PrivateXmlStore => fixture.store;

    beforeEach(async () => {
      fixture = await open();
      for (const user of ['alice', 'bob', 'al']) await fixture.stores.accounts.create(user, fakeCredentials(user));
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it('has nothing under a key never set', async () => {
      assert.equal(await privateXml().get('alice', BOOKMARKS), undefined);
    });

    it('stores, replaces and deletes a fragment by key', async () => {
      await privateXml().set('alice', BOOKMARKS, bookmarks('one'));
      assert.equal(await privateXml().get('alice', BOOKMARKS), bookmarks('one'));
      await privateXml().set('alice', BOOKMARKS, bookmarks('two'));
      assert.equal(await privateXml().get('alice', BOOKMARKS), bookmarks('two'));
      assert.equal(await privateXml().delete('alice', BOOKMARKS), true);
      assert.equal(await privateXml().get('alice', BOOKMARKS), undefined);
      assert.equal(await privateXml().delete('alice', BOOKMARKS), false);
    });

    it('keeps keys apart, also those that differ only in namespace or element name', async () => {
      await privateXml().set('alice', BOOKMARKS, bookmarks('b'));
      await privateXml().set('alice', ROSTERNOTES, '<storage xmlns="storage:rosternotes"/>');
      await privateXml().set('alice', 'exodus exodus:prefs', '<exodus xmlns="exodus:prefs"/>');
      await privateXml().set('alice', 'prefs exodus:prefs', '<prefs xmlns="exodus:prefs"/>');
      assert.equal(await privateXml().get('alice', BOOKMARKS), bookmarks('b'));
      assert.equal(await privateXml().get('alice', ROSTERNOTES), '<storage xmlns="storage:rosternotes"/>');
      assert.equal(await privateXml().get('alice', 'exodus exodus:prefs'), '<exodus xmlns="exodus:prefs"/>');
      assert.equal(await privateXml().get('alice', 'prefs exodus:prefs'), '<prefs xmlns="exodus:prefs"/>');
      assert.equal(await privateXml().get('alice', 'storage'), undefined);
      assert.equal(await privateXml().delete('alice', ROSTERNOTES), true);
      assert.equal(await privateXml().get('alice', BOOKMARKS), bookmarks('b'));
    });

    it('lists one user’s fragments sorted by key (al’s not among alice’s)', async () => {
      assert.deepEqual(await privateXml().entries('alice'), []);
      await privateXml().set('alice', ROSTERNOTES, '<storage xmlns="storage:rosternotes"/>');
      await privateXml().set('alice', BOOKMARKS, bookmarks('alice'));
      await privateXml().set('al', BOOKMARKS, bookmarks('al'));
      await privateXml().set('bob', BOOKMARKS, bookmarks('bob'));
      assert.deepEqual(await privateXml().entries('alice'), [
        { key: BOOKMARKS, xml: bookmarks('alice') },
        { key: ROSTERNOTES, xml: '<storage xmlns="storage:rosternotes"/>' },
      ]);
      assert.deepEqual(await privateXml().entries('al'), [{ key: BOOKMARKS, xml: bookmarks('al') }]);
    });

    it('keeps users’ fragments apart', async () => {
      await privateXml().set('alice', BOOKMARKS, bookmarks('alice'));
      await privateXml().set('bob', BOOKMARKS, bookmarks('bob'));
      assert.equal(await privateXml().get('alice', BOOKMARKS), bookmarks('alice'));
      assert.equal(await privateXml().get('bob', BOOKMARKS), bookmarks('bob'));
      assert.equal(await privateXml().delete('bob', BOOKMARKS), true);
      assert.equal(await privateXml().get('alice', BOOKMARKS), bookmarks('alice'));
    });

    it('keeps the XML exactly as given', async () => {
      const xml = `<storage xmlns="storage:bookmarks"><conference name="Ünïcödé 🦊 &amp;" jid="x@y"><nick>${'n'.repeat(50_000)}</nick></conference></storage>`;
      await privateXml().set('alice', BOOKMARKS, xml);
      assert.equal(await privateXml().get('alice', BOOKMARKS), xml);
    });

    it('deleting an account removes its fragments and no one else’s', async () => {
      await privateXml().set('alice', BOOKMARKS, bookmarks('alice'));
      await privateXml().set('alice', ROSTERNOTES, '<storage xmlns="storage:rosternotes"/>');
      await privateXml().set('al', BOOKMARKS, bookmarks('al'));
      await privateXml().set('bob', BOOKMARKS, bookmarks('bob'));
      assert.equal(await fixture.stores.accounts.delete('al'), true);
      assert.equal(await privateXml().get('al', BOOKMARKS), undefined);
      assert.equal(await fixture.stores.accounts.delete('alice'), true);
      assert.equal(await privateXml().get('alice', BOOKMARKS), undefined);
      assert.equal(await privateXml().get('alice', ROSTERNOTES), undefined);
      assert.equal(await privateXml().get('bob', BOOKMARKS), bookmarks('bob'));
      await fixture.stores.accounts.create('alice', fakeCredentials('again'));
      assert.equal(await privateXml().get('alice', BOOKMARKS), undefined, 'a new account of the same name starts without any');
    });
  });
}
