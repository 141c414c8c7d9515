// The OfflineStore contract (XEP-0160 queues): every back end runs these same tests.
//   offlineStoreContract('embedded', open);
import assert from 'node:assert/strict';
import type { OfflineStore } from '../types.js';
import { fakeCredentials, type ContractFixture } from './accounts.contract.js';

const msg = (n: number | string): string => `<message to="alice@example.org" id="m${n}"><body>hello ${n}</body></message>`;

export function offlineStoreContract(name: string, open: () => Promise<ContractFixture>): void {
  describe(`OfflineStore contract: ${name}`, () => {
    let fixture: ContractFixture;
    const offline = (): OfflineStore => fixture.stores.offline;

    beforeEach(async () => {
      fixture = await open();
      for (const user of ['alice', 'bob']) await fixture.stores.accounts.create(user, fakeCredentials(user));
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it('starts empty', async () => {
      assert.deepEqual(await offline().list('alice'), []);
      assert.equal(await offline().count('alice'), 0);
    });

    it('keeps messages in arrival order with distinct ids and the time they were stored', async () => {
      const before = Date.now();
      for (let i = 1; i <= 12; i++) assert.equal(await offline().push('alice', msg(i), 100), true);
      const list = await offline().list('alice');
      assert.deepEqual(list.map((m) => m.stanza), Array.from({ length: 12 }, (_, i) => msg(i + 1)));
      assert.equal(new Set(list.map((m) => m.id)).size, 12);
      for (const m of list) {
        assert.equal(typeof m.id, 'string');
        assert.ok(m.storedAt >= before - 1000 && m.storedAt <= Date.now() + 1000, 'storedAt is about now');
      }
      assert.equal(await offline().count('alice'), 12);
    });

    it('lists the oldest first up to a limit', async () => {
      for (let i = 1; i <= 5; i++) await offline().push('alice', msg(i), 100);
      assert.deepEqual((await offline().list('alice', 2)).map((m) => m.stanza), [msg(1), msg(2)]);
      assert.deepEqual((await offline().list('alice', 50)).map((m) => m.stanza), [1, 2, 3, 4, 5].map(msg));
      assert.deepEqual(await offline().list('alice', 0), []);
    });

    it('keeps messages until they are removed', async () => {
      await offline().push('alice', msg(1), 100);
      await offline().push('alice', msg(2), 100);
      const first = await offline().list('alice');
      assert.deepEqual(await offline().list('alice'), first, 'listing does not consume');
      await offline().remove('alice', [first[0]?.id ?? '']);
      assert.deepEqual(await offline().list('alice'), first.slice(1));
      assert.equal(await offline().count('alice'), 1);
    });

    it('removes exactly the ids given and ignores unknown or malformed ones', async () => {
      for (let i = 1; i <= 6; i++) await offline().push('alice', msg(i), 100);
      const ids = (await offline().list('alice')).map((m) => m.id);
      await offline().remove('alice', [ids[1] ?? '', ids[3] ?? '', ids[5] ?? '', 'nonsense', '', '-1', '99999999999999999999999']);
      assert.deepEqual((await offline().list('alice')).map((m) => m.stanza), [msg(1), msg(3), msg(5)]);
      await offline().remove('alice', []);
      await offline().remove('alice', [ids[1] ?? '']); // already gone
      assert.equal(await offline().count('alice'), 3);
    });

    it('never hands out an id twice, also after the queue was emptied', async () => {
      await offline().push('alice', msg(1), 100);
      await offline().push('alice', msg(2), 100);
      const old = await offline().list('alice');
      await offline().remove('alice', old.map((m) => m.id));
      await offline().push('alice', msg(3), 100);
      const [fresh] = await offline().list('alice');
      assert.ok(fresh);
      assert.ok(!old.some((m) => m.id === fresh.id), 'a new message does not reuse an old id');
      // A late removal of the old ids leaves the new message alone.
      await offline().remove('alice', old.map((m) => m.id));
      assert.deepEqual((await offline().list('alice')).map((m) => m.stanza), [msg(3)]);
    });

    it('orders new messages after the ones still queued', async () => {
      for (let i = 1; i <= 3; i++) await offline().push('alice', msg(i), 100);
      const [oldest] = await offline().list('alice', 1);
      await offline().remove('alice', [oldest?.id ?? '']);
      await offline().push('alice', msg(4), 100);
      assert.deepEqual((await offline().list('alice')).map((m) => m.stanza), [msg(2), msg(3), msg(4)]);
    });

    it('refuses a message when the queue holds the limit, and accepts again after a removal', async () => {
      for (let i = 1; i <= 3; i++) assert.equal(await offline().push('alice', msg(i), 3), true);
      assert.equal(await offline().push('alice', msg(4), 3), false);
      assert.equal(await offline().push('alice', msg(5), 2), false, 'a lower limit than the queue holds');
      assert.equal(await offline().count('alice'), 3);
      const [oldest] = await offline().list('alice', 1);
      await offline().remove('alice', [oldest?.id ?? '']);
      assert.equal(await offline().push('alice', msg(6), 3), true);
      assert.deepEqual((await offline().list('alice')).map((m) => m.stanza), [msg(2), msg(3), msg(6)]);
      assert.equal(await offline().push('bob', msg(7), 0), false, 'a limit of 0 stores nothing');
      assert.equal(await offline().count('bob'), 0);
    });

    it('keeps the limit when many pushes race', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => offline().push('alice', msg(i), 5)));
      assert.equal(results.filter((r) => r).length, 5);
      assert.equal(await offline().count('alice'), 5);
      const stored = (await offline().list('alice')).map((m) => m.stanza);
      assert.deepEqual(stored.slice().sort(), results.flatMap((ok, i) => (ok ? [msg(i)] : [])).sort(), 'the accepted ones are the ones stored');

      // A queue one short of the limit takes exactly one of the racers.
      for (let i = 0; i < 4; i++) await offline().push('bob', msg(`b${i}`), 5);
      const more = await Promise.all(Array.from({ length: 10 }, (_, i) => offline().push('bob', msg(`r${i}`), 5)));
      assert.equal(more.filter((r) => r).length, 1);
      assert.equal(await offline().count('bob'), 5);
    });

    it('keeps users’ queues apart', async () => {
      await offline().push('alice', msg('a1'), 100);
      await offline().push('bob', msg('b1'), 100);
      await offline().push('alice', msg('a2'), 100);
      assert.deepEqual((await offline().list('alice')).map((m) => m.stanza), [msg('a1'), msg('a2')]);
      assert.deepEqual((await offline().list('bob')).map((m) => m.stanza), [msg('b1')]);
      // Another user's ids do not remove anything here.
      await offline().remove('bob', (await offline().list('alice')).map((m) => m.id));
      assert.equal(await offline().count('alice'), 2);
      assert.equal(await offline().count('bob'), 1);
      // The limit counts only the user's own queue.
      assert.equal(await offline().push('bob', msg('b2'), 2), true);
      assert.equal(await offline().count('bob'), 2);
    });

    it('does not mix up users whose names share a prefix', async () => {
      await fixture.stores.accounts.create('al', fakeCredentials('al'));
      await offline().push('al', msg('x'), 100);
      await offline().push('alice', msg('y'), 100);
      assert.deepEqual((await offline().list('al')).map((m) => m.stanza), [msg('x')]);
      assert.equal(await offline().count('al'), 1);
      await fixture.stores.accounts.delete('al');
      assert.equal(await offline().count('alice'), 1);
    });

    it('take: hands the oldest up to the limit and removes exactly what was delivered', async () => {
      for (let i = 1; i <= 5; i++) await offline().push('alice', msg(i), 100);
      let seen: string[] = [];
      // The session went away after two: the third and later stay, in order.
      const first = await offline().take('alice', 4, (messages) => {
        seen = messages.map((m) => m.stanza);
        return messages.slice(0, 2).map((m) => m.id);
      });
      assert.deepEqual(first, { listed: 4, removed: 2 });
      assert.deepEqual(seen, [1, 2, 3, 4].map(msg));
      assert.deepEqual((await offline().list('alice')).map((m) => m.stanza), [3, 4, 5].map(msg));
      // Ids that were not handed out (another user's, unknown, repeated) remove nothing more.
      await offline().push('bob', msg('b'), 100);
      const [bobs] = await offline().list('bob');
      const second = await offline().take('alice', 100, (messages) => [messages[0]?.id ?? '', messages[0]?.id ?? '', bobs?.id ?? '', 'nonsense']);
      assert.deepEqual(second, { listed: 3, removed: 1 });
      assert.deepEqual((await offline().list('alice')).map((m) => m.stanza), [4, 5].map(msg));
      assert.equal(await offline().count('bob'), 1);
      assert.deepEqual(await offline().take('carol', 10, () => assert.fail('nothing to hand')), { listed: 0, removed: 0 });
      assert.deepEqual(await offline().take('alice', 0, () => assert.fail('a limit of 0 hands nothing')), { listed: 0, removed: 0 });
    });

    it('take: a delivery that fails leaves every message, and its error is its own', async () => {
      for (let i = 1; i <= 3; i++) await offline().push('alice', msg(i), 100);
      const failure = new Error('the session broke');
      await assert.rejects(
        offline().take('alice', 10, () => {
          throw failure;
        }),
        (err) => err === failure,
      );
      assert.deepEqual((await offline().list('alice')).map((m) => m.stanza), [1, 2, 3].map(msg));
    });

    it('take: racing takes of one queue hand every message once (two resources coming online at once)', async () => {
      for (let i = 1; i <= 30; i++) await offline().push('alice', msg(i), 100);
      // Connections to hand: the takes then start together instead of one after the other as each connects.
      await Promise.all(Array.from({ length: 4 }, () => offline().count('alice')));
      const handed: string[][] = [[], [], [], []];
      const takes = await Promise.all(
        handed.map((mine) =>
          offline().take('alice', 100, (messages) => {
            for (const m of messages) mine.push(m.stanza);
            return messages.map((m) => m.id);
          }),
        ),
      );
      const all = handed.flat();
      assert.equal(all.length, 30, `handed ${handed.map((h) => h.length).join(' + ')} messages in all; takes ${JSON.stringify(takes)}`);
      assert.equal(new Set(all).size, 30, 'no message handed twice');
      assert.equal(await offline().count('alice'), 0);
      // Each take handed a run of the queue in order.
      for (const mine of handed) assert.deepEqual(mine, [...mine].sort((a, b) => Number(/id="m(\d+)"/.exec(a)?.[1]) - Number(/id="m(\d+)"/.exec(b)?.[1])));
    });

    it('keeps stanzas exactly as given', async () => {
      const odd = '<message xmlns="jabber:client"><body>ünïcödé 🦊 &amp; &lt;tags&gt;\n\ttabs</body></message>';
      const big = `<message><body>${'x'.repeat(200_000)}</body></message>`;
      await offline().push('alice', odd, 10);
      await offline().push('alice', big, 10);
      assert.deepEqual((await offline().list('alice')).map((m) => m.stanza), [odd, big]);
    });

    it('deleting an account removes its offline messages and no one else’s', async () => {
      for (let i = 1; i <= 3; i++) await offline().push('alice', msg(i), 100);
      await offline().push('bob', msg('b'), 100);
      assert.equal(await fixture.stores.accounts.delete('alice'), true);
      assert.equal(await offline().count('alice'), 0);
      assert.deepEqual(await offline().list('alice'), []);
      assert.equal(await offline().count('bob'), 1);
      // A new account of the same name starts with an empty queue.
      await fixture.stores.accounts.create('alice', fakeCredentials('again'));
      assert.deepEqual(await offline().list('alice'), []);
      assert.equal(await offline().push('alice', msg('new'), 1), true);
    });
  });
}
