// The BulkLoader contract: every back end runs these same tests.
// Usage, in a back end's test file:
//   bulkLoaderContract('embedded', open);
import assert from 'node:assert/strict';
import { ServerError } from '../../errors.js';
import type { BulkUser, RosterItem } from '../types.js';
import { fakeCredentials, type ContractFixture } from './accounts.contract.js';

function contact(jid: string, extra: Partial<RosterItem> = {}): RosterItem {
  return { jid, subscription: 'both', ask: false, approved: false, groups: [], ...extra };
}

function user(username: string, roster?: RosterItem[], createdAt?: number): BulkUser {
  const u: BulkUser = { username, credentials: fakeCredentials(username) };
  if (roster !== undefined) u.roster = roster;
  if (createdAt !== undefined) u.createdAt = createdAt;
  return u;
}

function isUserExists(name: string): (err: unknown) => boolean {
  return (err: unknown) => err instanceof ServerError && err.code === 'USER_EXISTS' && err.message.includes(`"${name}"`);
}

export function bulkLoaderContract(name: string, open: () => Promise<ContractFixture>): void {
  describe(`BulkLoader contract: ${name}`, () => {
    let fixture: ContractFixture;
    const stores = () => fixture.stores;

    beforeEach(async () => {
      fixture = await open();
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it('creates users with their credentials, creation times and rosters', async () => {
      const before = Date.now();
      const aliceRoster = [contact('bob@example.org', { name: 'Bob', groups: ['Friends', 'Work'] }), contact('carol@example.org', { subscription: 'to', ask: true, approved: true })];
      const created = await stores().bulk.load([user('alice', aliceRoster, 1_600_000_000_000), user('bob', [contact('alice@example.org')]), user('carol')], { onExisting: 'fail' });
      assert.equal(created, 3);
      assert.equal(await stores().accounts.count(), 3);
      const alice = await stores().accounts.get('alice');
      assert.deepEqual(alice, { username: 'alice', credentials: fakeCredentials('alice'), createdAt: 1_600_000_000_000 });
      const carol = await stores().accounts.get('carol');
      assert.ok(carol && carol.createdAt >= before - 1000 && carol.createdAt <= Date.now() + 1000, 'createdAt defaults to about now');

      const aliceLoaded = await stores().roster.get('alice');
      assert.deepEqual(aliceLoaded.items, aliceRoster);
      assert.ok(aliceLoaded.version > 0, 'a loaded roster has a version');
      assert.equal(await stores().roster.count('alice'), 2);
      assert.deepEqual(await stores().roster.getItem('bob', 'alice@example.org'), contact('alice@example.org'));
      // No roster given: nothing written, so the version is that of a roster never written.
      assert.deepEqual(await stores().roster.get('carol'), { version: 0, items: [] });
    });

    it('leaves loaded rosters to be changed like any other, with versions that keep increasing', async () => {
      await stores().bulk.load([user('alice', [contact('bob@example.org'), contact('carol@example.org')])], { onExisting: 'skip' });
      const loaded = await stores().roster.version('alice');
      const v1 = await stores().roster.setItem('alice', contact('dave@example.org'));
      assert.ok(v1 > loaded);
      const v2 = await stores().roster.removeItem('alice', 'bob@example.org');
      assert.ok(v2 !== undefined && v2 > v1);
      assert.deepEqual((await stores().roster.get('alice')).items.map((i) => i.jid), ['carol@example.org', 'dave@example.org']);
    });

    it('sorts a loaded roster by JID and keeps the last of two items with the same JID', async () => {
      await stores().bulk.load([user('alice', [contact('zed@example.org'), contact('bob@example.org', { name: 'first' }), contact('émile@example.fr'), contact('bob@example.org', { name: 'second', groups: ['G', 'G'] })])], { onExisting: 'fail' });
      const { items } = await stores().roster.get('alice');
      assert.deepEqual(items, [contact('bob@example.org', { name: 'second', groups: ['G'] }), contact('zed@example.org'), contact('émile@example.fr')]);
    });

    it('with skip, leaves existing users and their rosters untouched and creates the others', async () => {
      await stores().accounts.create('bob', fakeCredentials('original'));
      const bobVersion = await stores().roster.setItem('bob', contact('old@example.org'));
      const created = await stores().bulk.load([user('alice', [contact('bob@example.org')]), user('bob', [contact('new@example.org')]), user('carol', [contact('x@example.org')])], { onExisting: 'skip' });
      assert.equal(created, 2);
      assert.deepEqual((await stores().accounts.get('bob'))?.credentials, fakeCredentials('original'));
      assert.deepEqual(await stores().roster.get('bob'), { version: bobVersion, items: [contact('old@example.org')] });
      assert.deepEqual(await stores().accounts.list(), ['alice', 'bob', 'carol']);
      assert.equal(await stores().roster.count('carol'), 1);
      // Loading the same batch again creates nothing.
      assert.equal(await stores().bulk.load([user('alice'), user('carol')], { onExisting: 'skip' }), 0);
      assert.equal(await stores().roster.count('alice'), 1);
    });

    it('with fail, refuses the whole batch, naming the first existing user, and writes nothing', async () => {
      await stores().accounts.create('dave', fakeCredentials('dave'));
      await stores().accounts.create('bob', fakeCredentials('original'));
      await assert.rejects(
        stores().bulk.load([user('alice', [contact('x@example.org')]), user('bob', [contact('y@example.org')]), user('carol'), user('dave')], { onExisting: 'fail' }),
        isUserExists('bob'),
      );
      assert.deepEqual(await stores().accounts.list(), ['bob', 'dave']);
      assert.deepEqual(await stores().roster.get('alice'), { version: 0, items: [] });
      assert.deepEqual(await stores().roster.get('bob'), { version: 0, items: [] });
      assert.deepEqual((await stores().accounts.get('bob'))?.credentials, fakeCredentials('original'));
      // The batch without the existing users goes through.
      assert.equal(await stores().bulk.load([user('alice', [contact('x@example.org')]), user('carol')], { onExisting: 'fail' }), 2);
    });

    it('treats a username given twice in one batch as existing', async () => {
      await assert.rejects(stores().bulk.load([user('alice'), user('bob'), user('alice')], { onExisting: 'fail' }), isUserExists('alice'));
      assert.equal(await stores().accounts.count(), 0);
      const first = user('alice', [contact('first@example.org')]);
      assert.equal(await stores().bulk.load([first, user('alice', [contact('second@example.org')])], { onExisting: 'skip' }), 1);
      assert.deepEqual((await stores().roster.get('alice')).items, [contact('first@example.org')]);
    });

    it('lets one of two concurrent loads of the same users win, and refuses the other whole', async () => {
      // Opposite orders, so that a back end taking unique keys in the order given would deadlock.
      const batch = Array.from({ length: 10_000 }, (_, i) => user(`u${i}`, i % 100 === 7 ? [contact(`c${i}@example.org`)] : undefined));
      const results = await Promise.allSettled([stores().bulk.load(batch, { onExisting: 'fail' }), stores().bulk.load([...batch].reverse(), { onExisting: 'fail' })]);
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(lost.length, 1, `one load is refused: ${results.map((r) => r.status).join(', ')}`);
      const reason: unknown = lost[0]?.reason;
      assert.ok(reason instanceof ServerError && reason.code === 'USER_EXISTS' && /"u\d+"/.test(reason.message), String(reason));
      assert.equal(await stores().accounts.count(), 10_000);
      assert.equal(await stores().roster.count('u7'), 1);
      // With skip, the loser creates nothing and the winner everything.
      const more = Array.from({ length: 10_000 }, (_, i) => user(`v${i}`, i % 100 === 7 ? [contact(`c${i}@example.org`)] : undefined));
      const counts = await Promise.all([stores().bulk.load(more, { onExisting: 'skip' }), stores().bulk.load([...more].reverse(), { onExisting: 'skip' })]);
      assert.deepEqual([...counts].sort((a, b) => a - b), [0, 10_000]);
      assert.equal(await stores().roster.count('v7'), 1);
    });

    it('creates nothing from an empty batch', async () => {
      assert.equal(await stores().bulk.load([], { onExisting: 'fail' }), 0);
      assert.equal(await stores().bulk.load([], { onExisting: 'skip' }), 0);
      assert.equal(await stores().accounts.count(), 0);
    });

    it('loads a large batch of unicode users with rosters of their neighbours', async () => {
      const n = 600;
      const names = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? `ünï${i}` : i % 3 === 1 ? `用户${i}` : `user${i}`));
      const batch = names.map((name, i) => user(name, Array.from({ length: 7 }, (_, k) => contact(`${names[(i + k + 1) % n] ?? ''}@example.org`, { name: `n${k}`, groups: ['Bench'] }))));
      assert.equal(await stores().bulk.load(batch.slice(0, 400), { onExisting: 'fail' }), 400);
      assert.equal(await stores().bulk.load(batch, { onExisting: 'skip' }), 200);
      assert.equal(await stores().accounts.count(), n);
      for (const i of [0, 1, 2, 399, 400, n - 1]) {
        const name = names[i] ?? '';
        const { items } = await stores().roster.get(name);
        assert.equal(items.length, 7, `roster of ${name}`);
        assert.deepEqual(items.map((it) => it.jid), [...(batch[i]?.roster ?? []).map((it) => it.jid)].sort());
        assert.deepEqual((await stores().accounts.get(name))?.credentials, fakeCredentials(name));
      }
    });

    it('removes a loaded user’s roster with the account', async () => {
      await stores().bulk.load([user('alice', [contact('bob@example.org')]), user('bob', [contact('alice@example.org')])], { onExisting: 'fail' });
      assert.equal(await stores().accounts.delete('alice'), true);
      assert.equal(await stores().accounts.create('alice', fakeCredentials('again')), true);
      assert.deepEqual(await stores().roster.get('alice'), { version: 0, items: [] });
      assert.equal(await stores().roster.count('bob'), 1);
    });
  });
}
