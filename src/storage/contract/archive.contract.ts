// The ArchiveStore contract (XEP-0313 with XEP-0059 paging): every back end runs these same tests.
//   archiveStoreContract('embedded', open);
import assert from 'node:assert/strict';
import type { ArchivedMessage, ArchivePage, ArchiveQuery, ArchiveStore } from '../types.js';
import { fakeCredentials, type ContractFixture } from './accounts.contract.js';

const T0 = Date.UTC(2024, 0, 1, 12);
const MINUTE = 60_000;
const ROOM = 'lounge@conference.example.org';
const BOB = 'bob@example.org';
const CAROL = 'carol@example.org';

const stanza = (owner: string, n: number): string => `<message xmlns="jabber:client" id="${owner}-${n}"><body>${n}</body></message>`;

type Entry = Omit<ArchivedMessage, 'id'>;

export function archiveStoreContract(name: string, open: () => Promise<ContractFixture>): void {
  describe(`ArchiveStore contract: ${name}`, () => {
    let fixture: ContractFixture;
    const archive = (): ArchiveStore => fixture.stores.archive;

    /** Appends one after the other (so insertion order is known) and returns them with their ids. */
    async function append(entries: readonly Entry[]): Promise<ArchivedMessage[]> {
      const stored: ArchivedMessage[] = [];
      for (const entry of entries) stored.push({ ...entry, id: await archive().append(entry) });
      return stored;
    }

    /** `n` messages in `owner`'s archive a minute apart, alternating the given correspondents. */
    function conversation(owner: string, n: number, withs: readonly string[] = [BOB], from = 0): Entry[] {
      return Array.from({ length: n }, (_, i) => ({
        owner,
        with: withs[(from + i) % withs.length] ?? BOB,
        timestamp: T0 + (from + i) * MINUTE,
        stanza: stanza(owner, from + i),
      }));
    }

    /** Every page of a query, walked forward with `after` or backward with `before`. */
    async function walk(query: Omit<ArchiveQuery, 'after' | 'before'>, direction: 'forward' | 'backward'): Promise<ArchivePage[]> {
      const pages: ArchivePage[] = [];
      let cursor: string | undefined = direction === 'forward' ? undefined : '';
      for (let guard = 0; guard < 1000; guard++) {
        const page: ArchivePage = await archive().query(
          direction === 'forward' ? (cursor === undefined ? query : { ...query, after: cursor }) : { ...query, before: cursor ?? '' },
        );
        pages.push(page);
        assert.ok(page.messages.length <= query.limit, 'a page is no longer than asked');
        if (page.complete) return pages;
        assert.ok(page.messages.length > 0, 'an incomplete page is not empty');
        cursor = direction === 'forward' ? page.messages[page.messages.length - 1]?.id : page.messages[0]?.id;
      }
      throw new Error('paging did not end');
    }

    const ids = (messages: readonly ArchivedMessage[]): string[] => messages.map((m) => m.id);

    beforeEach(async () => {
      fixture = await open();
      for (const user of ['alice', 'bob', 'al']) await fixture.stores.accounts.create(user, fakeCredentials(user));
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it('answers an empty archive with an empty, complete page', async () => {
      assert.deepEqual(await archive().query({ owner: 'alice', limit: 10 }), { messages: [], complete: true, count: 0 });
      assert.deepEqual(await archive().query({ owner: 'alice', before: '', limit: 10 }), { messages: [], complete: true, count: 0 });
    });

    it('returns what was appended, in insertion order, with distinct ids', async () => {
      const stored = await append([
        { owner: 'alice', with: BOB, timestamp: T0, stanza: '<message><body>ünïcödé 🦊 &amp;</body></message>' },
        { owner: 'alice', with: ROOM, timestamp: T0 + 1, stanza: stanza('alice', 1) },
        { owner: 'alice', with: CAROL, timestamp: T0 + 2, stanza: `<message><body>${'x'.repeat(100_000)}</body></message>` },
      ]);
      for (const m of stored) assert.equal(typeof m.id, 'string');
      assert.equal(new Set(ids(stored)).size, 3);
      assert.deepEqual(await archive().query({ owner: 'alice', limit: 10 }), { messages: stored, complete: true, count: 3 });
    });

    it('orders each archive by insertion, also when timestamps do not follow it', async () => {
      const stored = await append([
        { owner: 'alice', with: BOB, timestamp: T0 + 5 * MINUTE, stanza: stanza('alice', 0) },
        { owner: 'alice', with: BOB, timestamp: T0, stanza: stanza('alice', 1) }, // delayed delivery: older, stored later
        { owner: 'alice', with: BOB, timestamp: T0 + 9 * MINUTE, stanza: stanza('alice', 2) },
      ]);
      assert.deepEqual((await archive().query({ owner: 'alice', limit: 10 })).messages, stored);
      assert.deepEqual((await archive().query({ owner: 'alice', before: '', limit: 10 })).messages, stored);
      // The time filter goes by timestamp, the order stays by insertion.
      assert.deepEqual((await archive().query({ owner: 'alice', end: T0 + 5 * MINUTE, limit: 10 })).messages, stored.slice(0, 2));
      assert.deepEqual((await archive().query({ owner: 'alice', start: T0 + MINUTE, limit: 10 })).messages, [stored[0], stored[2]]);
    });

    it('pages forward with after, with complete and count', async () => {
      const stored = await append(conversation('alice', 23));
      const first = await archive().query({ owner: 'alice', limit: 10 });
      assert.deepEqual(first, { messages: stored.slice(0, 10), complete: false, count: 23 });
      const second = await archive().query({ owner: 'alice', after: stored[9]?.id ?? '', limit: 10 });
      assert.deepEqual(second, { messages: stored.slice(10, 20), complete: false, count: 23 });
      const third = await archive().query({ owner: 'alice', after: stored[19]?.id ?? '', limit: 10 });
      assert.deepEqual(third, { messages: stored.slice(20), complete: true, count: 23 });
      assert.deepEqual(await archive().query({ owner: 'alice', after: stored[22]?.id ?? '', limit: 10 }), { messages: [], complete: true, count: 23 });
      // A page that ends exactly at the last message is complete.
      assert.deepEqual(await archive().query({ owner: 'alice', after: stored[12]?.id ?? '', limit: 10 }), { messages: stored.slice(13), complete: true, count: 23 });
      const pages = await walk({ owner: 'alice', limit: 7 }, 'forward');
      assert.deepEqual(pages.flatMap((p) => p.messages), stored);
    });

    it('pages backward with before, the last page first, each page in chronological order', async () => {
      const stored = await append(conversation('alice', 23));
      const last = await archive().query({ owner: 'alice', before: '', limit: 10 });
      assert.deepEqual(last, { messages: stored.slice(13), complete: false, count: 23 });
      const middle = await archive().query({ owner: 'alice', before: stored[13]?.id ?? '', limit: 10 });
      assert.deepEqual(middle, { messages: stored.slice(3, 13), complete: false, count: 23 });
      const first = await archive().query({ owner: 'alice', before: stored[3]?.id ?? '', limit: 10 });
      assert.deepEqual(first, { messages: stored.slice(0, 3), complete: true, count: 23 });
      assert.deepEqual(await archive().query({ owner: 'alice', before: stored[0]?.id ?? '', limit: 10 }), { messages: [], complete: true, count: 23 });
      assert.deepEqual(await archive().query({ owner: 'alice', before: stored[10]?.id ?? '', limit: 10 }), { messages: stored.slice(0, 10), complete: true, count: 23 });
      const pages = await walk({ owner: 'alice', limit: 6 }, 'backward');
      assert.deepEqual(pages.reverse().flatMap((p) => p.messages), stored);
    });

    it('filters by correspondent with an exact match, and pages within the filter both ways', async () => {
      const stored = await append(conversation('alice', 30, [BOB, CAROL, ROOM]));
      await append([
        { owner: 'alice', with: `${BOB}/phone`, timestamp: T0, stanza: stanza('alice', 100) },
        { owner: 'alice', with: 'bobby@example.org', timestamp: T0, stanza: stanza('alice', 101) },
        { owner: 'alice', with: 'bob@example.org.evil', timestamp: T0, stanza: stanza('alice', 102) },
      ]);
      const withBob = stored.filter((m) => m.with === BOB);
      assert.equal(withBob.length, 10);
      assert.deepEqual(await archive().query({ owner: 'alice', with: BOB, limit: 50 }), { messages: withBob, complete: true, count: 10 });
      const forward = await walk({ owner: 'alice', with: BOB, limit: 3 }, 'forward');
      assert.deepEqual(forward.flatMap((p) => p.messages), withBob);
      assert.ok(forward.every((p) => p.count === 10));
      const backward = await walk({ owner: 'alice', with: BOB, limit: 4 }, 'backward');
      assert.deepEqual(backward.reverse().flatMap((p) => p.messages), withBob);
      assert.deepEqual(ids((await archive().query({ owner: 'alice', with: BOB, after: withBob[4]?.id ?? '', limit: 2 })).messages), ids(withBob.slice(5, 7)));
      assert.deepEqual(ids((await archive().query({ owner: 'alice', with: BOB, before: withBob[4]?.id ?? '', limit: 2 })).messages), ids(withBob.slice(2, 4)));
      assert.equal((await archive().query({ owner: 'alice', with: 'nobody@example.org', limit: 10 })).count, 0);
      assert.equal((await archive().query({ owner: 'alice', with: ROOM, limit: 10 })).count, 10);
    });

    it('filters by inclusive time bounds, alone and with a correspondent, paging both ways', async () => {
      const stored = await append(conversation('alice', 40, [BOB, CAROL]));
      const start = T0 + 10 * MINUTE;
      const end = T0 + 29 * MINUTE;
      const inRange = stored.slice(10, 30);
      assert.deepEqual(await archive().query({ owner: 'alice', start, end, limit: 100 }), { messages: inRange, complete: true, count: 20 });
      assert.deepEqual((await archive().query({ owner: 'alice', start, limit: 100 })).messages, stored.slice(10));
      assert.deepEqual((await archive().query({ owner: 'alice', end, limit: 100 })).messages, stored.slice(0, 30));
      assert.deepEqual((await archive().query({ owner: 'alice', start: end, end: end, limit: 100 })).messages, [stored[29]]);
      assert.deepEqual(await archive().query({ owner: 'alice', start: end + 1, end: end + MINUTE - 1, limit: 100 }), { messages: [], complete: true, count: 0 });

      const withCarol = inRange.filter((m) => m.with === CAROL);
      assert.equal(withCarol.length, 10);
      const query = { owner: 'alice', with: CAROL, start, end };
      const forward = await walk({ ...query, limit: 4 }, 'forward');
      assert.deepEqual(forward.flatMap((p) => p.messages), withCarol);
      assert.deepEqual(forward.map((p) => p.count), [10, 10, 10]);
      assert.deepEqual(forward.map((p) => p.complete), [false, false, true]);
      const backward = await walk({ ...query, limit: 4 }, 'backward');
      assert.deepEqual(backward.reverse().flatMap((p) => p.messages), withCarol);
      // Paging past a bound: after an id outside the range, the range still applies.
      const page = await archive().query({ ...query, after: stored[0]?.id ?? '', limit: 3 });
      assert.deepEqual(page, { messages: withCarol.slice(0, 3), complete: false, count: 10 });
      const last = await archive().query({ ...query, before: stored[39]?.id ?? '', limit: 3 });
      assert.deepEqual(last, { messages: withCarol.slice(7), complete: false, count: 10 });
    });

    it('caps the page at 250 messages whatever the query asks', async () => {
      const entries = conversation('alice', 300, [BOB, CAROL]);
      for (let i = 0; i < entries.length; i += 50) await Promise.all(entries.slice(i, i + 50).map((e) => archive().append(e)));
      const forward = await archive().query({ owner: 'alice', limit: 100_000 });
      assert.equal(forward.messages.length, 250);
      assert.equal(forward.complete, false);
      assert.equal(forward.count, 300);
      const rest = await archive().query({ owner: 'alice', after: forward.messages[249]?.id ?? '', limit: 100_000 });
      assert.equal(rest.messages.length, 50);
      assert.equal(rest.complete, true);
      const seen = new Set([...ids(forward.messages), ...ids(rest.messages)]);
      assert.equal(seen.size, 300);
      const backward = await archive().query({ owner: 'alice', before: '', limit: 1000 });
      assert.equal(backward.messages.length, 250);
      assert.equal(backward.complete, false);
      assert.deepEqual(ids(backward.messages), [...ids(forward.messages), ...ids(rest.messages)].slice(50));
      assert.equal((await archive().query({ owner: 'alice', with: CAROL, limit: 1000 })).messages.length, 150);
    });

    it('answers a page size of 0 with the count only', async () => {
      await append(conversation('alice', 5));
      assert.deepEqual(await archive().query({ owner: 'alice', limit: 0 }), { messages: [], complete: false, count: 5 });
      assert.deepEqual(await archive().query({ owner: 'alice', before: '', limit: 0 }), { messages: [], complete: false, count: 5 });
      assert.deepEqual(await archive().query({ owner: 'bob', limit: 0 }), { messages: [], complete: true, count: 0 });
    });

    it('matches nothing after or before an id the store never gave out', async () => {
      await append(conversation('alice', 3));
      for (const bad of ['garbage', '-1', '1.5', '0x10', ' 1']) {
        assert.deepEqual(await archive().query({ owner: 'alice', after: bad, limit: 10 }), { messages: [], complete: true, count: 3 }, `after ${bad}`);
        assert.deepEqual(await archive().query({ owner: 'alice', before: bad, limit: 10 }), { messages: [], complete: true, count: 3 }, `before ${bad}`);
      }
    });

    it('keeps archives apart, a room’s and a user’s whose name is a prefix included', async () => {
      const entries: Entry[] = [];
      for (let i = 0; i < 12; i++) {
        entries.push({ owner: 'alice', with: BOB, timestamp: T0 + i, stanza: stanza('alice', i) });
        entries.push({ owner: ROOM, with: `${ROOM}/nick${i % 3}`, timestamp: T0 + i, stanza: stanza(ROOM, i) });
        entries.push({ owner: 'al', with: BOB, timestamp: T0 + i, stanza: stanza('al', i) });
      }
      const stored = await append(entries);
      assert.equal(new Set(ids(stored)).size, stored.length, 'ids are unique across archives');
      for (const owner of ['alice', ROOM, 'al']) {
        const own = stored.filter((m) => m.owner === owner);
        assert.deepEqual(await archive().query({ owner, limit: 100 }), { messages: own, complete: true, count: 12 });
        assert.deepEqual((await walk({ owner, limit: 5 }, 'forward')).flatMap((p) => p.messages), own);
        assert.deepEqual((await walk({ owner, limit: 5 }, 'backward')).reverse().flatMap((p) => p.messages), own);
        assert.equal((await archive().query({ owner, with: BOB, limit: 100 })).count, owner === ROOM ? 0 : 12);
      }
      assert.equal((await archive().query({ owner: ROOM, with: `${ROOM}/nick1`, limit: 100 })).count, 4);
      assert.equal((await archive().query({ owner: 'bob', limit: 100 })).count, 0);
    });

    it('deletes a whole archive and leaves the others', async () => {
      await append(conversation('alice', 5, [BOB, CAROL]));
      const room = await append(conversation(ROOM, 4, [`${ROOM}/a`]));
      const al = await append(conversation('al', 3));
      await archive().deleteArchive('alice');
      assert.deepEqual(await archive().query({ owner: 'alice', limit: 10 }), { messages: [], complete: true, count: 0 });
      assert.equal((await archive().query({ owner: 'alice', with: BOB, limit: 10 })).count, 0);
      assert.deepEqual((await archive().query({ owner: ROOM, limit: 10 })).messages, room);
      assert.deepEqual((await archive().query({ owner: 'al', limit: 10 })).messages, al);
      await archive().deleteArchive('nobody');
      // The archive can grow again, with fresh ids.
      const again = await append(conversation('alice', 2));
      assert.ok(again.every((m) => !ids(room).includes(m.id) && !ids(al).includes(m.id)));
      assert.deepEqual((await archive().query({ owner: 'alice', limit: 10 })).messages, again);
    });

    it('prunes messages older than a time across all archives and tells how many', async () => {
      const alice = await append(conversation('alice', 10, [BOB, CAROL]));
      const room = await append(conversation(ROOM, 6, [`${ROOM}/a`]));
      const cutoff = T0 + 4 * MINUTE; // a message at exactly the cutoff stays
      assert.equal(await archive().pruneBefore(cutoff), 4 + 4);
      assert.deepEqual(await archive().query({ owner: 'alice', limit: 50 }), { messages: alice.slice(4), complete: true, count: 6 });
      assert.deepEqual((await archive().query({ owner: ROOM, limit: 50 })).messages, room.slice(4));
      assert.deepEqual((await archive().query({ owner: 'alice', with: BOB, limit: 50 })).messages, alice.slice(4).filter((m) => m.with === BOB));
      assert.equal(await archive().pruneBefore(cutoff), 0);
      assert.equal(await archive().pruneBefore(T0 + 100 * MINUTE), 6 + 2);
      assert.equal((await archive().query({ owner: 'alice', limit: 50 })).count, 0);
      assert.equal((await archive().query({ owner: 'alice', with: CAROL, limit: 50 })).count, 0);
    });

    it('deleting an account removes its archive but not a room’s or another user’s', async () => {
      await append(conversation('alice', 6, [BOB, ROOM]));
      const room = await append(conversation(ROOM, 5, [`${ROOM}/alice`]));
      const bob = await append(conversation('bob', 4, ['alice@example.org']));
      const al = await append(conversation('al', 2));
      assert.equal(await fixture.stores.accounts.delete('alice'), true);
      assert.deepEqual(await archive().query({ owner: 'alice', limit: 50 }), { messages: [], complete: true, count: 0 });
      assert.equal((await archive().query({ owner: 'alice', with: BOB, limit: 50 })).count, 0);
      assert.deepEqual((await archive().query({ owner: ROOM, limit: 50 })).messages, room);
      assert.deepEqual((await archive().query({ owner: 'bob', limit: 50 })).messages, bob);
      assert.deepEqual((await archive().query({ owner: 'al', limit: 50 })).messages, al);
    });
  });
}
