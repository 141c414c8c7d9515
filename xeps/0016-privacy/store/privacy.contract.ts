// The PrivacyStore (XEP-0016) and BlockListStore (XEP-0191) contract: every back end runs these
// same tests (store.test.ts runs them on both).
import assert from 'node:assert/strict';
import { fakeCredentials } from '../../../src/storage/contract/accounts.contract.js';
import type { ModuleContractFixture, OpenModuleFixture } from '../../../src/storage/contract/module-fixture.js';
import type { PrivacyItem, PrivacyModuleStores } from './types.js';

function item(order: number, fields: Partial<PrivacyItem> = {}): PrivacyItem {
  return { action: 'deny', order, message: false, iq: false, presenceIn: false, presenceOut: false, ...fields };
}

/** Code point order (as UTF-8 bytes compare), the order stores sort names and JIDs in. */
function byCodePoint(values: readonly string[]): string[] {
  return [...values].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

export function privacyStoreContract(name: string, open: OpenModuleFixture<PrivacyModuleStores>): void {
  describe(`PrivacyStore and BlockListStore contract: ${name}`, () => {
    let fixture: ModuleContractFixture<PrivacyModuleStores>;
    const privacy = () => fixture.store.privacy;
    const blocklist = () => fixture.store.blocklist;

    beforeEach(async () => {
      fixture = await open();
      // The stores keep data for existing accounts only (PostgreSQL enforces it with foreign keys).
      for (const user of ['alice', 'bob']) assert.equal(await fixture.stores.accounts.create(user, fakeCredentials(user)), true);
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    describe('privacy lists', () => {
      it('has no lists and no default for a new user', async () => {
        assert.deepEqual(await privacy().names('alice'), { lists: [] });
        assert.equal(await privacy().getList('alice', 'public'), undefined);
      });

      it('stores a list and returns its items sorted by order, every field kept', async () => {
        const items: PrivacyItem[] = [
          item(30, { type: 'subscription', value: 'none', action: 'deny', presenceIn: true }),
          item(4294967295), // the fall-through item: no type, no value; order is an xs:unsignedInt
          item(1, { type: 'jid', value: 'tybalt@example.com', action: 'deny', message: true, iq: true, presenceIn: true, presenceOut: true }),
          item(20, { type: 'group', value: 'Enemies ★', action: 'allow', presenceOut: true }),
          item(0, { type: 'jid', value: 'example.org', action: 'allow', iq: true }),
        ];
        await privacy().setList('alice', 'public', items);
        const stored = await privacy().getList('alice', 'public');
        assert.deepEqual(stored, [...items].sort((a, b) => a.order - b.order));
        const fallThrough = stored?.[stored.length - 1];
        assert.ok(fallThrough);
        assert.equal('type' in fallThrough, false, 'an absent type stays absent');
        assert.equal('value' in fallThrough, false, 'an absent value stays absent');
        assert.deepEqual(await privacy().names('alice'), { lists: ['public'] });
      });

      it('keeps items that share an order in the order they were written', async () => {
        const items = [item(5, { value: 'b', type: 'jid' }), item(1), item(5, { value: 'a', type: 'jid' }), item(5, { value: 'c', type: 'jid' })];
        await privacy().setList('alice', 'l', items);
        assert.deepEqual((await privacy().getList('alice', 'l'))?.map((i) => i.value), [undefined, 'b', 'a', 'c']);
      });

      it('does not keep fields that are not part of an item', async () => {
        const extra = { ...item(1, { type: 'jid', value: 'x@example.com' }), note: 'not an item field' };
        await privacy().setList('alice', 'l', [extra]);
        assert.deepEqual(await privacy().getList('alice', 'l'), [item(1, { type: 'jid', value: 'x@example.com' })]);
      });

      it('replaces every item of a list when it is set again', async () => {
        await privacy().setList('alice', 'work', [item(1, { type: 'jid', value: 'a@example.com' }), item(2, { type: 'jid', value: 'b@example.com' }), item(3)]);
        await privacy().setList('alice', 'work', [item(7, { type: 'group', value: 'Friends', action: 'allow' })]);
        assert.deepEqual(await privacy().getList('alice', 'work'), [item(7, { type: 'group', value: 'Friends', action: 'allow' })]);
        assert.deepEqual(await privacy().names('alice'), { lists: ['work'] });
      });

      it('keeps a list that has no items', async () => {
        await privacy().setList('alice', 'empty', []);
        assert.deepEqual(await privacy().getList('alice', 'empty'), []);
        assert.deepEqual(await privacy().names('alice'), { lists: ['empty'] });
        await privacy().setList('alice', 'full', [item(1)]);
        await privacy().setList('alice', 'full', []);
        assert.deepEqual(await privacy().getList('alice', 'full'), []);
      });

      it('names the lists in code point order', async () => {
        const names = ['work', 'Public', 'ami', 'éte', 'a b', '日本', '🦊', '\uFFFD', 'work2'];
        for (const n of names) await privacy().setList('alice', n, [item(1)]);
        assert.deepEqual(await privacy().names('alice'), { lists: byCodePoint(names) });
        for (const n of names) assert.deepEqual(await privacy().getList('alice', n), [item(1)]);
      });

      it('keeps each user’s lists apart', async () => {
        await privacy().setList('alice', 'shared-name', [item(1, { action: 'allow' })]);
        await privacy().setList('bob', 'shared-name', [item(2)]);
        await privacy().setList('bob', 'bobs', [item(3)]);
        assert.equal(await privacy().setDefault('bob', 'bobs'), true);
        assert.deepEqual(await privacy().getList('alice', 'shared-name'), [item(1, { action: 'allow' })]);
        assert.deepEqual(await privacy().getList('bob', 'shared-name'), [item(2)]);
        assert.equal(await privacy().getList('alice', 'bobs'), undefined);
        assert.deepEqual(await privacy().names('alice'), { lists: ['shared-name'] });
        assert.deepEqual(await privacy().names('bob'), { lists: ['bobs', 'shared-name'], default: 'bobs' });
        assert.equal(await privacy().deleteList('alice', 'shared-name'), true);
        assert.deepEqual(await privacy().getList('bob', 'shared-name'), [item(2)]);
        // A user whose name is a prefix of another's sees only their own.
        await fixture.stores.accounts.create('bobby', fakeCredentials('bobby'));
        await privacy().setList('bobby', 'x', [item(1)]);
        assert.deepEqual(await privacy().names('bob'), { lists: ['bobs', 'shared-name'], default: 'bobs' });
      });

      it('deletes a list, and says false when there is none', async () => {
        await privacy().setList('alice', 'a', [item(1)]);
        await privacy().setList('alice', 'b', [item(2)]);
        assert.equal(await privacy().deleteList('alice', 'a'), true);
        assert.equal(await privacy().getList('alice', 'a'), undefined);
        assert.deepEqual(await privacy().names('alice'), { lists: ['b'] });
        assert.equal(await privacy().deleteList('alice', 'a'), false);
        assert.equal(await privacy().deleteList('alice', 'never'), false);
        assert.equal(await privacy().deleteList('bob', 'b'), false);
        // A list created again under the same name starts from its new items only.
        await privacy().setList('alice', 'a', [item(9)]);
        assert.deepEqual(await privacy().getList('alice', 'a'), [item(9)]);
      });

      it('sets the default list only to a list that exists', async () => {
        assert.equal(await privacy().setDefault('alice', 'missing'), false);
        assert.deepEqual(await privacy().names('alice'), { lists: [] });
        await privacy().setList('alice', 'one', [item(1)]);
        await privacy().setList('alice', 'two', [item(2)]);
        assert.equal(await privacy().setDefault('alice', 'one'), true);
        assert.deepEqual(await privacy().names('alice'), { lists: ['one', 'two'], default: 'one' });
        assert.equal(await privacy().setDefault('alice', 'missing'), false);
        assert.deepEqual(await privacy().names('alice'), { lists: ['one', 'two'], default: 'one' }, 'a failed change keeps the default');
        assert.equal(await privacy().setDefault('alice', 'two'), true);
        assert.deepEqual(await privacy().names('alice'), { lists: ['one', 'two'], default: 'two' });
        assert.equal(await privacy().setDefault('alice', 'two'), true, 'setting the same default again is fine');
        assert.equal(await privacy().setDefault('bob', 'two'), false, 'another user’s list does not count');
      });

      it('clears the default with undefined, also when there is none', async () => {
        assert.equal(await privacy().setDefault('alice', undefined), true);
        await privacy().setList('alice', 'one', [item(1)]);
        assert.equal(await privacy().setDefault('alice', 'one'), true);
        assert.equal(await privacy().setDefault('alice', undefined), true);
        assert.deepEqual(await privacy().names('alice'), { lists: ['one'] });
        assert.deepEqual(await privacy().getList('alice', 'one'), [item(1)], 'clearing the default keeps the list');
      });

      it('keeps the default when its items are replaced', async () => {
        await privacy().setList('alice', 'main', [item(1)]);
        assert.equal(await privacy().setDefault('alice', 'main'), true);
        await privacy().setList('alice', 'main', [item(2)]);
        assert.deepEqual(await privacy().names('alice'), { lists: ['main'], default: 'main' });
      });

      it('clears the default when the default list is deleted, and only then', async () => {
        await privacy().setList('alice', 'main', [item(1)]);
        await privacy().setList('alice', 'other', [item(2)]);
        assert.equal(await privacy().setDefault('alice', 'main'), true);
        assert.equal(await privacy().deleteList('alice', 'other'), true);
        assert.deepEqual(await privacy().names('alice'), { lists: ['main'], default: 'main' });
        assert.equal(await privacy().deleteList('alice', 'main'), true);
        assert.deepEqual(await privacy().names('alice'), { lists: [] });
        // A new list of the old name is not the default again.
        await privacy().setList('alice', 'main', [item(3)]);
        assert.deepEqual(await privacy().names('alice'), { lists: ['main'] });
      });

      it('replaces a list atomically under concurrent writers', async () => {
        const versions = Array.from({ length: 8 }, (_, v) => Array.from({ length: 5 + v }, (_, i) => item(i, { type: 'jid', value: `v${v}-${i}@example.com` })));
        await Promise.all(versions.map((items) => privacy().setList('alice', 'busy', items)));
        const stored = await privacy().getList('alice', 'busy');
        assert.ok(stored);
        assert.ok(versions.some((items) => JSON.stringify(items) === JSON.stringify(stored)), `the list is one writer's whole list: ${JSON.stringify(stored)}`);
        assert.deepEqual(await privacy().names('alice'), { lists: ['busy'] });
      });
    });

    describe('block list', () => {
      it('is empty for a new user', async () => {
        assert.deepEqual(await blocklist().list('alice'), []);
      });

      it('blocks JIDs and returns only those not blocked before', async () => {
        assert.deepEqual(await blocklist().block('alice', ['romeo@example.net', 'example.com']), ['romeo@example.net', 'example.com']);
        assert.deepEqual(await blocklist().block('alice', ['example.com', 'iago@example.org/phone', 'romeo@example.net']), ['iago@example.org/phone']);
        assert.deepEqual(await blocklist().block('alice', ['example.com']), []);
        assert.deepEqual(await blocklist().block('alice', []), []);
        assert.deepEqual(await blocklist().list('alice'), ['example.com', 'iago@example.org/phone', 'romeo@example.net']);
      });

      it('returns a JID given twice in one call once', async () => {
        assert.deepEqual(await blocklist().block('alice', ['a@example.com', 'b@example.com', 'a@example.com']), ['a@example.com', 'b@example.com']);
        assert.deepEqual(await blocklist().unblock('alice', ['b@example.com', 'b@example.com']), ['b@example.com']);
        assert.deepEqual(await blocklist().list('alice'), ['a@example.com']);
      });

      it('lists blocked JIDs in code point order', async () => {
        const jids = ['zed@example.com', 'a@example.com', 'a.b@example.com', 'Éric@example.com', '日本@example.jp', '🦊@example.com', '\uFFFD@example.com', 'example.com'];
        await blocklist().block('alice', jids);
        assert.deepEqual(await blocklist().list('alice'), byCodePoint(jids));
      });

      it('unblocks JIDs and returns only those that were blocked', async () => {
        await blocklist().block('alice', ['a@example.com', 'b@example.com', 'c@example.com']);
        assert.deepEqual(await blocklist().unblock('alice', ['b@example.com', 'x@example.com']), ['b@example.com']);
        assert.deepEqual(await blocklist().unblock('alice', ['b@example.com']), []);
        assert.deepEqual(await blocklist().unblock('alice', []), []);
        assert.deepEqual(await blocklist().list('alice'), ['a@example.com', 'c@example.com']);
        // Unblocked JIDs can be blocked again.
        assert.deepEqual(await blocklist().block('alice', ['b@example.com']), ['b@example.com']);
      });

      it('unblocks everything with all and returns what was removed, sorted', async () => {
        assert.deepEqual(await blocklist().unblock('alice', 'all'), []);
        await blocklist().block('alice', ['c@example.com', 'a@example.com', 'b@example.com']);
        assert.deepEqual(await blocklist().unblock('alice', 'all'), ['a@example.com', 'b@example.com', 'c@example.com']);
        assert.deepEqual(await blocklist().list('alice'), []);
        assert.deepEqual(await blocklist().unblock('alice', 'all'), []);
      });

      it('keeps each user’s block list apart', async () => {
        await blocklist().block('alice', ['a@example.com']);
        await blocklist().block('bob', ['a@example.com', 'b@example.com']);
        assert.deepEqual(await blocklist().unblock('alice', 'all'), ['a@example.com']);
        assert.deepEqual(await blocklist().list('bob'), ['a@example.com', 'b@example.com']);
        assert.deepEqual(await blocklist().unblock('alice', ['b@example.com']), []);
        assert.deepEqual(await blocklist().list('bob'), ['a@example.com', 'b@example.com']);
      });

      it('reports a JID as newly blocked to exactly one of several concurrent callers', async () => {
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => blocklist().block('alice', ['spam@example.com', `own${i}@example.com`])));
        assert.equal(results.filter((added) => added.includes('spam@example.com')).length, 1);
        results.forEach((added, i) => assert.ok(added.includes(`own${i}@example.com`)));
        assert.equal((await blocklist().list('alice')).length, 11);
      });
    });

    it('deleting an account removes its privacy lists, default and block list', async () => {
      const { accounts } = fixture.stores;
      assert.equal(await accounts.create('carol', fakeCredentials('carol')), true);
      await privacy().setList('carol', 'main', [item(1, { type: 'jid', value: 'x@example.com' })]);
      await privacy().setList('carol', 'spare', [item(2)]);
      assert.equal(await privacy().setDefault('carol', 'main'), true);
      await blocklist().block('carol', ['x@example.com', 'example.net']);
      // Someone else's data must survive.
      await privacy().setList('bob', 'main', [item(3)]);
      assert.equal(await privacy().setDefault('bob', 'main'), true);
      await blocklist().block('bob', ['x@example.com']);

      assert.equal(await accounts.delete('carol'), true);
      assert.deepEqual(await privacy().names('carol'), { lists: [] });
      assert.equal(await privacy().getList('carol', 'main'), undefined);
      assert.deepEqual(await blocklist().list('carol'), []);

      // A new account of the same name starts empty.
      assert.equal(await accounts.create('carol', fakeCredentials('carol2')), true);
      assert.deepEqual(await privacy().names('carol'), { lists: [] });
      assert.equal(await privacy().getList('carol', 'spare'), undefined);
      assert.deepEqual(await blocklist().list('carol'), []);

      assert.deepEqual(await privacy().names('bob'), { lists: ['main'], default: 'main' });
      assert.deepEqual(await privacy().getList('bob', 'main'), [item(3)]);
      assert.deepEqual(await blocklist().list('bob'), ['x@example.com']);
    });
  });
}
