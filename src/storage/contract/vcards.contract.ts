// The VCardStore (XEP-0054) and PrivateXmlStore (XEP-0049) contracts: every back end runs these.
//   vcardStoreContract('embedded', open);
//   privateXmlStoreContract('embedded', open);
import assert from 'node:assert/strict';
import type { PrivateXmlStore, VCardStore } from '../types.js';
import { fakeCredentials, type ContractFixture } from './accounts.contract.js';

const vcard = (fn: string): string => `<vCard xmlns="vcard-temp"><FN>${fn}</FN></vCard>`;
const BOOKMARKS = 'storage storage:bookmarks';
const ROSTERNOTES = 'storage storage:rosternotes';
const bookmarks = (name: string): string => `<storage xmlns="storage:bookmarks"><conference jid="${name}@conference.example.org"/></storage>`;

export function vcardStoreContract(name: string, open: () => Promise<ContractFixture>): void {
  describe(`VCardStore contract: ${name}`, () => {
    let fixture: ContractFixture;
    const vcards = (): VCardStore => fixture.stores.vcards;

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

export function privateXmlStoreContract(name: string, open: () => Promise<ContractFixture>): void {
  describe(`PrivateXmlStore contract: ${name}`, () => {
    let fixture: ContractFixture;
    const privateXml = (): PrivateXmlStore => fixture.stores.privateXml;

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
