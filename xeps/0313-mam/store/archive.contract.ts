import assert from 'node:assert/strict';
import { fakeCredentials } from '../../../src/storage/contract/accounts.contract.js';
import type { ModuleContractFixture, OpenModuleFixture } from '../../../src/storage/contract/module-fixture.js';
import { archiveIdAt, idFloor } from '../ids.js';
import type { ArchivedMessage, ArchiveQuery, ArchiveStore } from './types.js';

const T0 = Date.UTC(2026, 0, 1);

function message(owner: string, i: number, peer = 'bob@localhost/phone'): ArchivedMessage {
  const slash = peer.indexOf('/');
  return { owner, id: archiveIdAt(T0 + i * 1000, i), with: slash === -1 ? peer : peer.slice(0, slash), peer, timestamp: T0 + i * 1000, stanza: `<message><body>m${i} &lt;ü&gt;</body></message>` };
}

export function archiveStoreContract(name: string, open: OpenModuleFixture<ArchiveStore>): void {
  describe(`ArchiveStore contract: ${name}`, () => {
    let fixture: ModuleContractFixture<ArchiveStore>;
    const store = (): ArchiveStore => fixture.store;
    const q = (query: Partial<ArchiveQuery>): Promise<string[]> =>
      store().query({ owner: 'alice', max: 100, from: 'first', ...query }).then((page) => page.messages.map((m) => /m\d+/.exec(m.stanza)?.[0] ?? ''));
    let all: ArchivedMessage[];

    beforeEach(async () => {
      fixture = await open();
      for (const user of ['alice', 'bob']) await fixture.stores.accounts.create(user, fakeCredentials(user));
      all = [];
      for (let i = 0; i < 30; i++) all.push(message('alice', i, i % 3 === 0 ? 'carol@localhost/pc' : 'bob@localhost/phone'));
      // Written out of order and in two batches: the store orders by id.
      await store().append(all.slice(10).reverse());
      await store().append(all.slice(0, 10));
      await store().append([message('bob', 1), message('room@conference.localhost', 2, 'room@conference.localhost/nick')]);
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it('keeps every field, the stanza exactly', async () => {
      const page = await store().query({ owner: 'alice', max: 1, from: 'first' });
      assert.deepEqual(page.messages[0], all[0]);
      assert.equal(page.complete, false);
      assert.deepEqual((await store().query({ owner: 'room@conference.localhost', max: 5, from: 'first' })).messages.map((m) => m.peer), ['room@conference.localhost/nick']);
    });

    it('pages forwards and backwards, oldest first within a page, complete at the ends', async () => {
      const first = await store().query({ owner: 'alice', max: 10, from: 'first' });
      assert.deepEqual(first.messages.map((m) => m.id), all.slice(0, 10).map((m) => m.id));
      assert.equal(first.complete, false);
      const last = await store().query({ owner: 'alice', max: 10, from: 'last' });
      assert.deepEqual(last.messages.map((m) => m.id), all.slice(20).map((m) => m.id));
      const before = await store().query({ owner: 'alice', max: 10, from: 'last', before: all[20]?.id });
      assert.deepEqual(before.messages.map((m) => m.id), all.slice(10, 20).map((m) => m.id));
      assert.equal(before.complete, false);
      const head = await store().query({ owner: 'alice', max: 10, from: 'last', before: all[10]?.id });
      assert.deepEqual(head.messages.map((m) => m.id), all.slice(0, 10).map((m) => m.id));
      assert.equal(head.complete, true);
      const tail = await store().query({ owner: 'alice', max: 10, from: 'first', after: all[19]?.id });
      assert.deepEqual(tail.messages.map((m) => m.id), all.slice(20).map((m) => m.id));
      assert.equal(tail.complete, true);
      const between = await store().query({ owner: 'alice', max: 10, from: 'first', after: all[3]?.id, before: all[7]?.id });
      assert.deepEqual(between.messages.map((m) => m.id), all.slice(4, 7).map((m) => m.id));
    });

    it('filters by bare and full with, by time (id bounds) and by ids', async () => {
      assert.deepEqual(await q({ with: 'carol@localhost' }), all.filter((_, i) => i % 3 === 0).map((_, k) => `m${k * 3}`));
      assert.deepEqual(await q({ with: 'carol@localhost/pc', withFull: true }), all.filter((_, i) => i % 3 === 0).map((_, k) => `m${k * 3}`));
      assert.deepEqual(await q({ with: 'carol@localhost/other', withFull: true }), []);
      const backwards = await store().query({ owner: 'alice', with: 'bob@localhost', max: 2, from: 'last' });
      assert.deepEqual(backwards.messages.map((m) => m.id), [all[28]?.id, all[29]?.id]);
      assert.deepEqual(await q({ before: idFloor(T0 + 3000) }), ['m0', 'm1', 'm2']);
      assert.deepEqual(await q({ after: idFloor(T0 + 27_000), before: idFloor(T0 + 29_000) }), ['m27', 'm28']);
      assert.deepEqual(await q({ ids: [all[5]?.id ?? '', all[2]?.id ?? '', 'nosuchid', all[5]?.id ?? ''] }), ['m2', 'm5']);
      assert.deepEqual(await q({ ids: [all[5]?.id ?? '', all[3]?.id ?? ''], with: 'carol@localhost' }), ['m3']);
    });

    it('keeps owners apart', async () => {
      assert.equal((await store().query({ owner: 'bob', max: 100, from: 'first' })).messages.length, 1);
      assert.equal(await store().has('alice', all[0]?.id ?? ''), true);
      assert.equal(await store().has('bob', all[0]?.id ?? ''), false);
      assert.equal(await store().has('alice', 'nosuchid'), false);
    });

    it('ignores an id written twice', async () => {
      await store().append([{ ...(all[0] as ArchivedMessage), stanza: '<message><body>changed</body></message>' }]);
      const page = await store().query({ owner: 'alice', max: 1, from: 'first' });
      assert.equal(page.messages[0]?.stanza, all[0]?.stanza);
    });

    it('scans every archive by (owner, id) a page at a time, and lists every owner\'s preferences', async () => {
      const seen: string[] = [];
      let after: { owner: string; id: string } | undefined;
      for (;;) {
        const page = await store().scan(after, 7);
        seen.push(...page.map((m) => `${m.owner} ${m.id}`));
        const last = page[page.length - 1];
        if (last === undefined) break;
        after = { owner: last.owner, id: last.id };
      }
      assert.equal(seen.length, 32);
      assert.equal(new Set(seen).size, 32);
      assert.deepEqual(seen.filter((s) => s.startsWith('alice ')), all.map((m) => `alice ${m.id}`));
      assert.deepEqual(await store().allPrefs(), []);
      await store().setPrefs('bob', { default: 'never', always: [], never: [] });
      await store().setPrefs('alice', { default: 'roster', always: ['x@y'], never: [] });
      assert.deepEqual((await store().allPrefs()).map((p) => [p.owner, p.prefs.default]).sort(), [['alice', 'roster'], ['bob', 'never']]);
    });

    it('keeps preferences, with lists', async () => {
      assert.equal(await store().getPrefs('alice'), undefined);
      await store().setPrefs('alice', { default: 'roster', always: ['x@y'], never: ['z@y', 'w@y'] });
      assert.deepEqual(await store().getPrefs('alice'), { default: 'roster', always: ['x@y'], never: ['z@y', 'w@y'] });
      await store().setPrefs('alice', { default: 'never', always: [], never: [] });
      assert.deepEqual(await store().getPrefs('alice'), { default: 'never', always: [], never: [] });
    });

    it('purges what is older than a time, in every archive', async () => {
      assert.equal(await store().purgeBefore(T0 + 10_000), 10 + 2);
      assert.deepEqual((await store().query({ owner: 'alice', max: 100, from: 'first' })).messages.map((m) => m.id), all.slice(10).map((m) => m.id));
      assert.equal((await store().query({ owner: 'bob', max: 100, from: 'first' })).messages.length, 0);
    });

    it('an account deleted takes its archive and preferences, and no one else’s', async () => {
      await store().setPrefs('alice', { default: 'never', always: [], never: [] });
      assert.equal(await fixture.stores.accounts.delete('alice'), true);
      assert.equal((await store().query({ owner: 'alice', max: 100, from: 'first' })).messages.length, 0);
      assert.equal(await store().getPrefs('alice'), undefined);
      assert.equal((await store().query({ owner: 'bob', max: 100, from: 'first' })).messages.length, 1);
      await store().removeOwner('room@conference.localhost');
      assert.equal((await store().query({ owner: 'room@conference.localhost', max: 100, from: 'first' })).messages.length, 0);
    });
  });
}
