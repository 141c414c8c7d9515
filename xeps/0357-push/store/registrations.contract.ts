// The PushStore (XEP-0357) contract: every back end runs these (store.test.ts, on both).
import assert from 'node:assert/strict';
import { fakeCredentials } from '../../../src/storage/contract/accounts.contract.js';
import type { ModuleContractFixture, OpenModuleFixture } from '../../../src/storage/contract/module-fixture.js';
import type { NewRegistration, PushStore } from './types.js';

const FORM = "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>Ünï 🦊 &lt;&amp;&gt;</value></field></x>";

const phone: NewRegistration = { jid: 'push.example.net', node: 'n-phone', options: FORM, includeBody: true, resource: 'phone', enabledAt: 1_700_000_000_123 };
const tablet: NewRegistration = { jid: 'push.example.net', node: 'n-tablet', includeBody: false, resource: 'tablet', enabledAt: 1_700_000_000_500 };
const other: NewRegistration = { jid: 'push.other.example', node: 'n-phone', includeBody: false, enabledAt: 1_700_000_001_000 };

export function pushStoreContract(name: string, open: OpenModuleFixture<PushStore>): void {
  describe(`PushStore contract: ${name}`, () => {
    let fixture: ModuleContractFixture<PushStore>;
    const push = (): PushStore => fixture.store;

    beforeEach(async () => {
      fixture = await open();
      for (const user of ['alice', 'al', 'bob']) await fixture.stores.accounts.create(user, fakeCredentials(user));
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it('has no registrations at first', async () => {
      assert.deepEqual(await push().list('alice'), []);
      assert.deepEqual(await push().list('nobody'), []);
    });

    it('keeps registrations exactly, oldest first, with a count from 0', async () => {
      await push().enable('alice', other);
      await push().enable('alice', phone);
      await push().enable('alice', tablet);
      assert.deepEqual(await push().list('alice'), [
        { ...phone, count: 0 },
        { ...tablet, count: 0 },
        { ...other, count: 0 },
      ]);
    });

    it('enabling the same jid and node again replaces it and starts its count again', async () => {
      await push().enable('alice', phone);
      assert.equal(await push().bump('alice', phone.jid, phone.node), 1);
      const renewed: NewRegistration = { jid: phone.jid, node: phone.node, includeBody: false, resource: 'phone2', enabledAt: 1_700_000_002_000 };
      await push().enable('alice', renewed);
      assert.deepEqual(await push().list('alice'), [{ ...renewed, count: 0 }], 'the old form and flag are gone');
    });

    it('counts per registration and resets by resource', async () => {
      await push().enable('alice', phone);
      await push().enable('alice', tablet);
      assert.equal(await push().bump('alice', phone.jid, phone.node), 1);
      assert.equal(await push().bump('alice', phone.jid, phone.node), 2);
      assert.equal(await push().bump('alice', tablet.jid, tablet.node), 1);
      assert.equal(await push().bump('alice', 'push.example.net', 'unknown'), undefined);
      assert.equal(await push().bump('bob', phone.jid, phone.node), undefined, 'another account has no such registration');
      await push().resetCounts('alice', 'phone');
      const counts = (await push().list('alice')).map((r) => [r.node, r.count]);
      assert.deepEqual(counts, [['n-phone', 0], ['n-tablet', 1]]);
    });

    it('disables one node, or every node of a jid', async () => {
      await push().enable('alice', phone);
      await push().enable('alice', tablet);
      await push().enable('alice', other);
      assert.equal(await push().disable('alice', 'push.example.net', 'n-tablet'), 1);
      assert.deepEqual((await push().list('alice')).map((r) => r.node), ['n-phone', 'n-phone']);
      assert.equal(await push().disable('alice', 'push.example.net', 'n-tablet'), 0, 'already gone');
      await push().enable('alice', tablet);
      assert.equal(await push().disable('alice', 'push.example.net'), 2);
      assert.deepEqual(await push().list('alice'), [{ ...other, count: 0 }]);
    });

    it('keeps accounts apart', async () => {
      await push().enable('alice', phone);
      await push().enable('al', tablet);
      assert.deepEqual((await push().list('alice')).map((r) => r.node), ['n-phone']);
      assert.deepEqual((await push().list('al')).map((r) => r.node), ['n-tablet']);
      assert.equal(await push().disable('al', phone.jid), 1);
      assert.equal((await push().list('alice')).length, 1);
    });

    it('does nothing for a username without an account', async () => {
      await push().enable('ghost', phone);
      assert.deepEqual(await push().list('ghost'), []);
    });

    it('deleting an account removes its registrations and no one else’s', async () => {
      await push().enable('alice', phone);
      await push().enable('al', phone);
      await push().enable('bob', tablet);
      assert.equal(await fixture.stores.accounts.delete('al'), true);
      assert.deepEqual(await push().list('al'), []);
      assert.equal((await push().list('alice')).length, 1);
      assert.equal((await push().list('bob')).length, 1);
      await fixture.stores.accounts.create('al', fakeCredentials('again'));
      assert.deepEqual(await push().list('al'), [], 'a new account of the same name starts without any');
    });
  });
}
