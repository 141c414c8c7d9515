// The RosterStore and SubscriptionRequestStore contracts: every back end runs these same tests.
// Usage, in a back end's test file:
//   rosterStoreContract('embedded', open);
//   subscriptionRequestStoreContract('embedded', open);
// Every back end's fixture can `reopen` its data, for the tests that data survives closing the stores.
import assert from 'node:assert/strict';
import { ServerError } from '../../errors.js';
import type { RosterItem, Stores } from '../types.js';
import { fakeCredentials, type ContractFixture } from './accounts.contract.js';

export interface ReopenableFixture extends ContractFixture {
  /**
   * Opens the fixture's data again through new stores, closing first whatever a real reopen needs
   * closed. The caller closes the stores returned; `stores` must not be used afterwards.
   */
  reopen(): Promise<Stores>;
}

/** Users every test starts with: 'al' and 'alice2' share a prefix with 'alice' on purpose. */
const USERS = ['alice', 'al', 'alice2', 'bob'];

function item(jid: string, extra: Partial<RosterItem> = {}): RosterItem {
  return { jid, subscription: 'none', ask: false, approved: false, groups: [], ...extra };
}

function isUserNotFound(err: unknown): boolean {
  return err instanceof ServerError && err.code === 'USER_NOT_FOUND';
}

/** Code-point order, which both back ends promise for JIDs. */
function byCodePoint(a: string, b: string): number {
  const ca = [...a].map((c) => c.codePointAt(0) ?? 0);
  const cb = [...b].map((c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) if (ca[i] !== cb[i]) return (ca[i] ?? 0) - (cb[i] ?? 0);
  return ca.length - cb.length;
}

function useFixture(open: () => Promise<ReopenableFixture>): () => ReopenableFixture {
  let fixture: ReopenableFixture | undefined;
  beforeEach(async () => {
    fixture = await open();
    for (const u of USERS) assert.equal(await fixture.stores.accounts.create(u, fakeCredentials(u)), true);
  });
  afterEach(async () => {
    await fixture?.cleanup();
    fixture = undefined;
  });
  return () => {
    if (fixture === undefined) throw new Error('no fixture is open');
    return fixture;
  };
}

export function rosterStoreContract(name: string, open: () => Promise<ReopenableFixture>): void {
  describe(`RosterStore contract: ${name}`, () => {
    const fixture = useFixture(open);
    const roster = () => fixture().stores.roster;

    it('has an empty roster at version 0 for a user who never wrote one', async () => {
      assert.deepEqual(await roster().get('alice'), { version: 0, items: [] });
      assert.equal(await roster().version('alice'), 0);
      assert.equal(await roster().count('alice'), 0);
      assert.equal(await roster().getItem('alice', 'bob@example.org'), undefined);
    });

    it('stores an item with its name, subscription, flags and groups, and reads it back', async () => {
      const full = item('bob@example.org', { name: 'Bob', subscription: 'both', ask: true, approved: true, groups: ['Work', 'Friends'] });
      const bare = item('carol@example.org', { subscription: 'from' });
      await roster().setItem('alice', full);
      await roster().setItem('alice', bare);
      assert.deepEqual(await roster().getItem('alice', 'bob@example.org'), full);
      // No name given: the item read back has no name property at all.
      assert.deepEqual(await roster().getItem('alice', 'carol@example.org'), bare);
      assert.deepEqual((await roster().get('alice')).items, [full, bare]);
      assert.equal(await roster().count('alice'), 2);
    });

    it('keeps every subscription state and both flags', async () => {
      const items = (['none', 'to', 'from', 'both'] as const).flatMap((subscription, i) => [
        item(`${subscription}-a@example.org`, { subscription, ask: i % 2 === 0, approved: false }),
        item(`${subscription}-b@example.org`, { subscription, ask: false, approved: i % 2 === 1 }),
      ]);
      for (const it of items) await roster().setItem('alice', it);
      assert.deepEqual((await roster().get('alice')).items, [...items].sort((a, b) => byCodePoint(a.jid, b.jid)));
    });

    it('replaces an item with the same JID, dropping a name and groups no longer given', async () => {
      await roster().setItem('alice', item('bob@example.org', { name: 'Bob', groups: ['A', 'B'], ask: true }));
      await roster().setItem('alice', item('bob@example.org', { subscription: 'to' }));
      assert.deepEqual(await roster().getItem('alice', 'bob@example.org'), item('bob@example.org', { subscription: 'to' }));
      assert.equal(await roster().count('alice'), 1);
    });

    it('keeps the order of groups and drops duplicates', async () => {
      await roster().setItem('alice', item('bob@example.org', { groups: ['Zeta', 'Alpha', 'Zeta', 'Mid', 'Alpha'] }));
      assert.deepEqual((await roster().getItem('alice', 'bob@example.org'))?.groups, ['Zeta', 'Alpha', 'Mid']);
      await roster().setItem('alice', item('bob@example.org', { groups: ['Ünïcødé', 'with "quotes"', 'back\\slash', 'comma, and {braces}', ''] }));
      assert.deepEqual((await roster().getItem('alice', 'bob@example.org'))?.groups, ['Ünïcødé', 'with "quotes"', 'back\\slash', 'comma, and {braces}', '']);
    });

    it('bumps the version with every change and returns it', async () => {
      const v1 = await roster().setItem('alice', item('bob@example.org'));
      assert.ok(v1 > 0);
      const v2 = await roster().setItem('alice', item('carol@example.org'));
      const v3 = await roster().setItem('alice', item('bob@example.org', { subscription: 'both' }));
      const v4 = await roster().removeItem('alice', 'carol@example.org');
      assert.ok(v4 !== undefined);
      assert.ok(v1 < v2 && v2 < v3 && v3 < v4, `versions ${v1}, ${v2}, ${v3}, ${v4} increase`);
      assert.equal(await roster().version('alice'), v4);
      assert.equal((await roster().get('alice')).version, v4);
      // Removing every item does not take the version back.
      const v5 = await roster().removeItem('alice', 'bob@example.org');
      assert.ok(v5 !== undefined && v5 > v4);
      assert.deepEqual(await roster().get('alice'), { version: v5, items: [] });
    });

    it('answers undefined for removing an unknown item, and leaves the version alone', async () => {
      assert.equal(await roster().removeItem('alice', 'nobody@example.org'), undefined);
      assert.equal(await roster().version('alice'), 0);
      const v = await roster().setItem('alice', item('bob@example.org'));
      assert.equal(await roster().removeItem('alice', 'nobody@example.org'), undefined);
      assert.equal(await roster().removeItem('bob', 'bob@example.org'), undefined);
      assert.equal(await roster().version('alice'), v);
      const removed = await roster().removeItem('alice', 'bob@example.org');
      assert.ok(removed !== undefined && removed > v);
      assert.equal(await roster().version('alice'), removed);
      assert.equal(await roster().removeItem('alice', 'bob@example.org'), undefined);
    });

    it('gives each concurrent change its own version', async () => {
      const jids = Array.from({ length: 20 }, (_, i) => `c${String(i).padStart(2, '0')}@example.org`);
      const versions = await Promise.all(jids.map((jid) => roster().setItem('alice', item(jid))));
      assert.equal(new Set(versions).size, versions.length, `distinct versions: ${versions.join(',')}`);
      assert.equal(await roster().version('alice'), Math.max(...versions));
      assert.equal(await roster().count('alice'), 20);
      const removed = await Promise.all(jids.slice(0, 10).map((jid) => roster().removeItem('alice', jid)));
      assert.equal(new Set(removed).size, 10);
      assert.ok(removed.every((v) => v !== undefined && v > Math.max(...versions)));
      assert.equal(await roster().count('alice'), 10);
    });

    it('returns items sorted by JID, by code point', async () => {
      const jids = ['zoe@example.org', 'Bob@example.org', 'bob@example.org', 'émile@example.fr', '日本@example.jp', 'alice@a.example', 'example.org', '🦊@fox.example', 'ñandú@example.ar', 'bob@example.org/res'];
      for (const jid of jids) await roster().setItem('alice', item(jid));
      assert.deepEqual((await roster().get('alice')).items.map((i) => i.jid), [...jids].sort(byCodePoint));
    });

    it('keeps users apart, also users whose names share a prefix', async () => {
      const aliceVersion = await roster().setItem('alice', item('x@example.org', { name: 'alice’s' }));
      await roster().setItem('al', item('x@example.org', { name: 'al’s' }));
      await roster().setItem('al', item('y@example.org'));
      await roster().setItem('alice2', item('z@example.org'));
      assert.deepEqual((await roster().get('alice')).items, [item('x@example.org', { name: 'alice’s' })]);
      assert.deepEqual((await roster().get('al')).items.map((i) => i.jid), ['x@example.org', 'y@example.org']);
      assert.equal((await roster().getItem('al', 'x@example.org'))?.name, 'al’s');
      assert.equal(await roster().count('al'), 2);
      assert.equal(await roster().count('alice'), 1);
      assert.equal(await roster().count('alice2'), 1);
      assert.equal(await roster().count('bob'), 0);
      assert.equal(await roster().version('bob'), 0);
      await roster().removeItem('al', 'x@example.org');
      assert.equal(await roster().count('alice'), 1);
      assert.equal(await roster().version('alice'), aliceVersion);
    });

    it('stores and removes unicode JIDs and names', async () => {
      const jids = ['émile@example.fr', '日本語@例え.jp', '🦊@fox.example', 'юлия@пример.рф', 'user@ñandú.example'];
      for (const jid of jids) await roster().setItem('alice', item(jid, { name: `name of ${jid} ✓`, groups: ['Ämter', '友達'] }));
      for (const jid of jids) assert.deepEqual(await roster().getItem('alice', jid), item(jid, { name: `name of ${jid} ✓`, groups: ['Ämter', '友達'] }));
      assert.equal(await roster().count('alice'), jids.length);
      assert.ok((await roster().removeItem('alice', '🦊@fox.example')) !== undefined);
      assert.equal(await roster().getItem('alice', '🦊@fox.example'), undefined);
      assert.equal(await roster().count('alice'), jids.length - 1);
    });

    it('keeps the roster and its version when the stores are closed and opened again', async function () {
      const f = fixture();
      await roster().setItem('alice', item('bob@example.org', { name: 'Bob', groups: ['G'] }));
      const v = await roster().setItem('alice', item('carol@example.org'));
      const again = await f.reopen();
      try {
        assert.deepEqual(await again.roster.get('alice'), { version: v, items: [item('bob@example.org', { name: 'Bob', groups: ['G'] }), item('carol@example.org')] });
        assert.ok((await again.roster.setItem('alice', item('dave@example.org'))) > v);
      } finally {
        await again.close();
      }
    });

    it('refuses to write the roster of a username without an account, also one just deleted', async () => {
      await assert.rejects(roster().setItem('ghost', item('bob@example.org')), isUserNotFound);
      assert.deepEqual(await roster().get('ghost'), { version: 0, items: [] });
      assert.equal(await roster().removeItem('ghost', 'bob@example.org'), undefined);
      await roster().setItem('bob', item('alice@example.org'));
      await fixture().stores.accounts.delete('bob');
      await assert.rejects(roster().setItem('bob', item('carol@example.org')), isUserNotFound);
      assert.equal(await fixture().stores.accounts.create('bob', fakeCredentials('again')), true);
      assert.deepEqual(await roster().get('bob'), { version: 0, items: [] });
    });

    it('removes the roster and its version with the account', async () => {
      await roster().setItem('alice', item('bob@example.org'));
      await roster().setItem('alice', item('carol@example.org'));
      const alVersion = await roster().setItem('al', item('bob@example.org'));
      const accounts = fixture().stores.accounts;
      assert.equal(await accounts.delete('alice'), true);
      assert.deepEqual(await roster().get('alice'), { version: 0, items: [] });
      assert.equal(await roster().count('alice'), 0);
      // A new account of the same name starts from nothing; others keep theirs.
      assert.equal(await accounts.create('alice', fakeCredentials('again')), true);
      assert.deepEqual(await roster().get('alice'), { version: 0, items: [] });
      assert.equal(await roster().count('al'), 1);
      assert.equal(await roster().version('al'), alVersion);
    });
  });
}

export function subscriptionRequestStoreContract(name: string, open: () => Promise<ReopenableFixture>): void {
  describe(`SubscriptionRequestStore contract: ${name}`, () => {
    const fixture = useFixture(open);
    const requests = () => fixture().stores.subscriptionRequests;
    const stanza = (from: string, text = ''): string => `<presence from="${from}" to="alice@example.org" type="subscribe"><status>${text}</status></presence>`;

    it('lists nothing for a user without requests', async () => {
      assert.deepEqual(await requests().list('alice'), []);
    });

    it('keeps requests and lists them oldest first', async () => {
      const base = 1_700_000_000_000;
      await requests().put('alice', { from: 'carol@example.org', stanza: stanza('carol@example.org'), createdAt: base + 2000 });
      await requests().put('alice', { from: 'bob@example.org', stanza: stanza('bob@example.org'), createdAt: base + 1000 });
      await requests().put('alice', { from: 'dave@example.org', stanza: stanza('dave@example.org'), createdAt: base + 3000 });
      assert.deepEqual(await requests().list('alice'), [
        { from: 'bob@example.org', stanza: stanza('bob@example.org'), createdAt: base + 1000 },
        { from: 'carol@example.org', stanza: stanza('carol@example.org'), createdAt: base + 2000 },
        { from: 'dave@example.org', stanza: stanza('dave@example.org'), createdAt: base + 3000 },
      ]);
    });

    it('lists requests of the same instant in the order they came', async () => {
      const at = 1_700_000_000_123;
      const froms = ['zed@example.org', 'amy@example.org', 'mia@example.org'];
      for (const from of froms) await requests().put('alice', { from, stanza: stanza(from), createdAt: at });
      assert.deepEqual((await requests().list('alice')).map((r) => r.from), froms);
    });

    it('replaces a request from the same JID', async () => {
      await requests().put('alice', { from: 'bob@example.org', stanza: stanza('bob@example.org', 'first'), createdAt: 1000 });
      await requests().put('alice', { from: 'carol@example.org', stanza: stanza('carol@example.org'), createdAt: 2000 });
      await requests().put('alice', { from: 'bob@example.org', stanza: stanza('bob@example.org', 'second'), createdAt: 3000 });
      assert.deepEqual(await requests().list('alice'), [
        { from: 'carol@example.org', stanza: stanza('carol@example.org'), createdAt: 2000 },
        { from: 'bob@example.org', stanza: stanza('bob@example.org', 'second'), createdAt: 3000 },
      ]);
    });

    it('removes a request, and says false when there was none', async () => {
      await requests().put('alice', { from: 'bob@example.org', stanza: stanza('bob@example.org'), createdAt: 1000 });
      await requests().put('alice', { from: 'carol@example.org', stanza: stanza('carol@example.org'), createdAt: 2000 });
      assert.equal(await requests().remove('alice', 'bob@example.org'), true);
      assert.equal(await requests().remove('alice', 'bob@example.org'), false);
      assert.equal(await requests().remove('alice', 'nobody@example.org'), false);
      assert.equal(await requests().remove('bob', 'carol@example.org'), false);
      assert.deepEqual((await requests().list('alice')).map((r) => r.from), ['carol@example.org']);
    });

    it('keeps users apart, also users whose names share a prefix', async () => {
      await requests().put('alice', { from: 'x@example.org', stanza: stanza('x@example.org', 'to alice'), createdAt: 1000 });
      await requests().put('al', { from: 'x@example.org', stanza: stanza('x@example.org', 'to al'), createdAt: 1000 });
      await requests().put('alice2', { from: 'y@example.org', stanza: stanza('y@example.org'), createdAt: 1000 });
      assert.deepEqual(await requests().list('alice'), [{ from: 'x@example.org', stanza: stanza('x@example.org', 'to alice'), createdAt: 1000 }]);
      assert.deepEqual(await requests().list('al'), [{ from: 'x@example.org', stanza: stanza('x@example.org', 'to al'), createdAt: 1000 }]);
      assert.equal(await requests().remove('al', 'x@example.org'), true);
      assert.equal((await requests().list('alice')).length, 1);
      assert.deepEqual(await requests().list('bob'), []);
    });

    it('keeps unicode JIDs and stanzas exactly', async () => {
      const from = '🦊émile@例え.jp';
      const text = 'Hallo, ich bin’s — <&> “quoted” \t tab\nnewline 日本語 🦊';
      const xml = `<presence from="${from}" type="subscribe"><status>${text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}</status></presence>`;
      await requests().put('alice', { from, stanza: xml, createdAt: 1_700_000_000_001 });
      assert.deepEqual(await requests().list('alice'), [{ from, stanza: xml, createdAt: 1_700_000_000_001 }]);
      assert.equal(await requests().remove('alice', from), true);
    });

    it('keeps requests when the stores are closed and opened again', async function () {
      const f = fixture();
      await requests().put('alice', { from: 'bob@example.org', stanza: stanza('bob@example.org'), createdAt: 5000 });
      const again = await f.reopen();
      try {
        assert.deepEqual(await again.subscriptionRequests.list('alice'), [{ from: 'bob@example.org', stanza: stanza('bob@example.org'), createdAt: 5000 }]);
      } finally {
        await again.close();
      }
    });

    it('refuses to keep a request for a username without an account', async () => {
      await assert.rejects(requests().put('ghost', { from: 'bob@example.org', stanza: stanza('bob@example.org'), createdAt: 1000 }), isUserNotFound);
      assert.deepEqual(await requests().list('ghost'), []);
      assert.equal(await requests().remove('ghost', 'bob@example.org'), false);
    });

    it('removes the requests with the account', async () => {
      await requests().put('alice', { from: 'bob@example.org', stanza: stanza('bob@example.org'), createdAt: 1000 });
      await requests().put('al', { from: 'bob@example.org', stanza: stanza('bob@example.org'), createdAt: 1000 });
      const accounts = fixture().stores.accounts;
      assert.equal(await accounts.delete('alice'), true);
      assert.equal(await accounts.create('alice', fakeCredentials('again')), true);
      assert.deepEqual(await requests().list('alice'), []);
      assert.equal((await requests().list('al')).length, 1);
    });
  });
}
