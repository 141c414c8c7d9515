// The PepStore contract (XEP-0163 over XEP-0060): every back end runs it (store.test.ts).
import assert from 'node:assert/strict';
import { fakeCredentials } from '../../../src/storage/contract/accounts.contract.js';
import type { ModuleContractFixture, OpenModuleFixture } from '../../../src/storage/contract/module-fixture.js';
import { pepTransfer } from './transfer.js';
import type { NodeConfig, PepItem, PepStore } from './types.js';

const CONFIG: NodeConfig = { accessModel: 'presence', maxItems: 3, sendLastPublishedItem: 'on_sub_and_presence', notifyRetract: true };
const AVATAR = 'urn:xmpp:avatar:metadata';
const item = (id: string, text = id): PepItem => ({ id, publisher: 'alice@example.org', payload: `<n xmlns="urn:x">${text}</n>` });
const ids = (items: readonly PepItem[]): string[] => items.map((i) => i.id);

export function pepStoreContract(name: string, open: OpenModuleFixture<PepStore>): void {
  describe(`PepStore contract: ${name}`, () => {
    let fixture: ModuleContractFixture<PepStore>;
    const pep = (): PepStore => fixture.store;

    beforeEach(async () => {
      fixture = await open();
      for (const user of ['alice', 'al', 'bob']) await fixture.stores.accounts.create(user, fakeCredentials(user));
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('creates, lists, reconfigures and deletes nodes per account', async () => {
      assert.equal(await pep().node('alice', AVATAR), undefined);
      await pep().putNode('alice', AVATAR, CONFIG);
      await pep().putNode('alice', 'urn:xmpp:bookmarks:1', { ...CONFIG, accessModel: 'whitelist' });
      await pep().putNode('al', AVATAR, CONFIG);
      assert.deepEqual(await pep().node('alice', AVATAR), CONFIG);
      assert.deepEqual((await pep().nodes('alice')).map((n) => [n.node, n.config.accessModel]), [[AVATAR, 'presence'], ['urn:xmpp:bookmarks:1', 'whitelist']]);
      await pep().putNode('alice', AVATAR, { ...CONFIG, accessModel: 'open' });
      assert.equal((await pep().node('alice', AVATAR))?.accessModel, 'open');
      assert.equal(await pep().deleteNode('alice', AVATAR), true);
      assert.equal(await pep().deleteNode('alice', AVATAR), false);
      assert.equal(await pep().node('alice', AVATAR), undefined);
      assert.deepEqual(await pep().node('al', AVATAR), CONFIG, 'al’s node is not alice’s');
    });

    it('keeps items in publish order, a republished id becoming the newest, and the newest maxItems only', async () => {
      await pep().putNode('alice', AVATAR, CONFIG);
      assert.deepEqual(await pep().publish('alice', AVATAR, item('a'), 3), []);
      await pep().publish('alice', AVATAR, item('b'), 3);
      await pep().publish('alice', AVATAR, item('c'), 3);
      await pep().publish('alice', AVATAR, item('a', 'again'), 3);
      assert.deepEqual(ids(await pep().items('alice', AVATAR)), ['b', 'c', 'a']);
      assert.equal((await pep().items('alice', AVATAR, 1))[0]?.payload, '<n xmlns="urn:x">again</n>');
      assert.deepEqual(await pep().publish('alice', AVATAR, item('d'), 3), ['b']);
      assert.deepEqual(ids(await pep().items('alice', AVATAR)), ['c', 'a', 'd']);
      assert.deepEqual(ids(await pep().items('alice', AVATAR, 2)), ['a', 'd']);
      assert.deepEqual(ids(await pep().itemsById('alice', AVATAR, ['d', 'zz', 'c'])), ['c', 'd']);
      await pep().putNode('alice', AVATAR, { ...CONFIG, maxItems: 1 });
      assert.deepEqual(ids(await pep().items('alice', AVATAR)), ['d'], 'a smaller max_items drops the oldest at once');
    });

    it('retracts one item; publishing to a missing node fails', async () => {
      await pep().putNode('alice', AVATAR, CONFIG);
      await pep().publish('alice', AVATAR, item('a'), 3);
      await pep().publish('alice', AVATAR, item('b'), 3);
      assert.equal(await pep().retract('alice', AVATAR, 'a'), true);
      assert.equal(await pep().retract('alice', AVATAR, 'a'), false);
      assert.deepEqual(ids(await pep().items('alice', AVATAR)), ['b']);
      await assert.rejects(pep().publish('alice', 'nowhere', item('x'), 3));
    });

    it('a deleted node loses its items; a new node of the same name starts empty', async () => {
      await pep().putNode('alice', AVATAR, CONFIG);
      await pep().publish('alice', AVATAR, item('a'), 3);
      await pep().deleteNode('alice', AVATAR);
      await pep().putNode('alice', AVATAR, CONFIG);
      assert.deepEqual(await pep().items('alice', AVATAR), []);
    });

    it('deleting an account removes its nodes and items and no one else’s', async () => {
      for (const user of ['alice', 'al', 'bob']) {
        await pep().putNode(user, AVATAR, CONFIG);
        await pep().publish(user, AVATAR, item(user), 3);
      }
      assert.equal(await fixture.stores.accounts.delete('al'), true);
      assert.deepEqual(await pep().nodes('al'), []);
      assert.deepEqual(ids(await pep().items('alice', AVATAR)), ['alice']);
      assert.deepEqual(ids(await pep().items('bob', AVATAR)), ['bob']);
      await fixture.stores.accounts.create('al', fakeCredentials('again'));
      assert.deepEqual(await pep().items('al', AVATAR), [], 'a new account of the same name starts without any');
    });

    it('export and import (transfer.ts) carry nodes, configurations and items in order; bad data is named', async () => {
      const { exportAccount, importAccount, checkAccount } = pepTransfer;
      assert.ok(exportAccount && importAccount && checkAccount);
      assert.equal(await exportAccount(pep(), 'alice'), undefined);
      await pep().putNode('alice', AVATAR, CONFIG);
      for (const id of ['a', 'b', 'c']) await pep().publish('alice', AVATAR, item(id), 3);
      await pep().publish('alice', AVATAR, item('a', 'newest'), 3);
      await pep().putNode('alice', 'urn:xmpp:bookmarks:1', { ...CONFIG, accessModel: 'whitelist', maxItems: 100 });
      const data = await exportAccount(pep(), 'alice');
      assert.equal(checkAccount(data), undefined);
      assert.ok(data !== undefined);
      await importAccount(pep(), 'bob', data);
      assert.deepEqual(await pep().nodes('bob'), await pep().nodes('alice'));
      assert.deepEqual(await pep().items('bob', AVATAR), await pep().items('alice', AVATAR));
      assert.deepEqual(ids(await pep().items('bob', AVATAR)), ['b', 'c', 'a']);
      assert.match(checkAccount({ n: { config: CONFIG, items: [{ id: 'x', publisher: 'p', payload: '<unclosed>' }] } }) ?? '', /not well-formed/);
      assert.match(checkAccount({ n: { config: { ...CONFIG, accessModel: 'roster' }, items: [] } }) ?? '', /not valid/);
    });
  });
}
