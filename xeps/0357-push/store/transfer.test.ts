// Push registrations in export/import: from the embedded store to PostgreSQL as `ratatosk export` and
// `import` move an account's module data (store/transfer.ts), and bad data named.
import assert from 'node:assert/strict';
import { fakeCredentials } from '../../../src/storage/contract/accounts.contract.js';
import { embeddedModuleFixture, postgresModuleFixture } from '../../../src/storage/contract/module-fixture.js';
import { requirePostgres } from '../../../src/storage/postgres/test-fixture.js';
import { pushStores } from './index.js';
import { pushTransfer } from './transfer.js';

const FORM = '<x xmlns="jabber:x:data" type="submit"><field var="secret"><value>s</value></field></x>';

describe('push registrations: export and import', function () {
  before(async function () {
    await requirePostgres(this);
  });

  it('moves an account\'s registrations between the back ends, counts started again', async () => {
    const from = await embeddedModuleFixture('push', pushStores)();
    const to = await postgresModuleFixture('push', pushStores)();
    try {
      await from.stores.accounts.create('alice', fakeCredentials('alice'));
      await to.stores.accounts.create('alice', fakeCredentials('alice'));
      await from.store.enable('alice', { jid: 'push.example.net', node: 'a', options: FORM, includeBody: true, resource: 'phone', enabledAt: 1_700_000_000_001 });
      await from.store.enable('alice', { jid: 'push.example.net', node: 'b', includeBody: false, enabledAt: 1_700_000_000_002 });
      await from.store.bump('alice', 'push.example.net', 'a');
      const exported = await pushTransfer.exportAccount?.(from.store, 'alice');
      assert.ok(exported !== undefined);
      const line = JSON.parse(JSON.stringify(exported)) as unknown;
      assert.equal(pushTransfer.checkAccount?.(line), undefined);
      await pushTransfer.importAccount?.(to.store, 'alice', exported);
      const moved = await to.store.list('alice');
      assert.deepEqual(moved, (await from.store.list('alice')).map((r) => ({ ...r, count: 0 })));
      assert.equal(moved.length, 2, 'positive control: there was something to move');
      assert.equal(await pushTransfer.exportAccount?.(from.store, 'nobody'), undefined);
    } finally {
      await from.cleanup();
      await to.cleanup();
    }
  });

  it('names what is wrong in bad data', () => {
    const check = (data: unknown): string | undefined => pushTransfer.checkAccount?.(data);
    assert.equal(check({}), 'expected an array of registrations');
    assert.equal(check([{ node: 'a', includeBody: false, enabledAt: 1 }]), 'registration 1: jid: expected a JID');
    assert.equal(check([{ jid: 'p', node: 'a', includeBody: 'yes', enabledAt: 1 }]), 'registration 1: includeBody: expected a boolean');
    assert.equal(check([{ jid: 'p', node: 'a', includeBody: false, enabledAt: 1, extra: 1 }]), 'registration 1: unknown field "extra"');
    assert.equal(check([{ jid: 'p', node: 'a', includeBody: false, enabledAt: 1 }]), undefined);
  });
});
