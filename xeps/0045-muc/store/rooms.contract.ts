// The RoomStore contract (persistent XEP-0045 rooms): every back end runs these same tests.
// Run on both back ends by store.test.ts.
import assert from 'node:assert/strict';
import { ServerError } from '../../../src/errors.js';
import { fakeCredentials } from '../../../src/storage/contract/accounts.contract.js';
import type { ModuleContractFixture, OpenModuleFixture } from '../../../src/storage/contract/module-fixture.js';
import type { RoomConfigValue, RoomStore, StoredRoom } from './types.js';

const SERVICE = 'conference.example.org';

function room(local: string, fields: Partial<StoredRoom> = {}, service = SERVICE): StoredRoom {
  return {
    jid: `${local}@${service}`,
    config: { 'muc#roomconfig_roomname': local, 'muc#roomconfig_persistentroom': true },
    createdAt: 1_700_000_000_123,
    ...fields,
  };
}

/** Code point order (as UTF-8 bytes compare), the order stores sort JIDs in. */
function byCodePoint(values: readonly string[]): string[] {
  return [...values].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

export function roomStoreContract(name: string, open: OpenModuleFixture<RoomStore>): void {
  describe(`RoomStore contract: ${name}`, () => {
    let fixture: ModuleContractFixture<RoomStore>;
    const rooms = () => fixture.store;

    beforeEach(async () => {
      fixture = await open();
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it('returns undefined for an unknown room', async () => {
      assert.equal(await rooms().get(`nowhere@${SERVICE}`), undefined);
    });

    it('saves a room and reads it back with every kind of configuration value', async () => {
      const config: Record<string, RoomConfigValue> = {
        'muc#roomconfig_roomname': 'The Lounge ☕',
        'muc#roomconfig_roomdesc': '',
        'muc#roomconfig_persistentroom': true,
        'muc#roomconfig_membersonly': false,
        'muc#roomconfig_maxusers': 30,
        'x-ratatosk#ratio': -2.5,
        'muc#roomconfig_roomowners': ['alice@example.org', 'bob@example.org'],
        'muc#roomconfig_presencebroadcast': ['moderator', 'participant', 'visitor'],
        'muc#roomconfig_roomadmins': [],
      };
      const saved = room('lounge', { config, subject: 'Welcome ✨', subjectBy: 'lounge@conference.example.org/alice' });
      await rooms().save(saved);
      assert.deepEqual(await rooms().get(saved.jid), saved);
    });

    it('leaves out a subject that was not given', async () => {
      const saved = room('quiet');
      await rooms().save(saved);
      const stored = await rooms().get(saved.jid);
      assert.deepEqual(stored, saved);
      assert.ok(stored);
      assert.equal('subject' in stored, false);
      assert.equal('subjectBy' in stored, false);
    });

    it('keeps any configuration field name, including ones that look like object internals', async () => {
      const config: Record<string, RoomConfigValue> = Object.fromEntries<RoomConfigValue>([
        ['__proto__', 'not a prototype'],
        ['constructor', 1],
        ['toString', ['a']],
        ['with space & ünïcode', true],
      ]);
      const saved = room('odd', { config });
      await rooms().save(saved);
      const stored = await rooms().get(saved.jid);
      assert.ok(stored);
      assert.deepEqual(Object.entries(stored.config).sort(), Object.entries(config).sort());
      assert.equal(Object.getPrototypeOf(stored.config), Object.prototype);
    });

    it('replaces configuration, subject and creation time on save, and keeps the affiliations', async () => {
      const first = room('lounge', { subject: 'Old', subjectBy: 'lounge@conference.example.org/alice', config: { a: 'x', b: 1 } });
      await rooms().save(first);
      await rooms().setAffiliation(first.jid, { jid: 'alice@example.org', affiliation: 'owner', nick: 'alice' });
      await rooms().setAffiliation(first.jid, { jid: 'eve@example.org', affiliation: 'outcast', reason: 'spam' });

      const second = room('lounge', { config: { b: 2 }, createdAt: 1_600_000_000_000 });
      await rooms().save(second);
      assert.deepEqual(await rooms().get(first.jid), second, 'no field of the old record survives, the subject included');
      assert.deepEqual(await rooms().affiliations(first.jid), [
        { jid: 'alice@example.org', affiliation: 'owner', nick: 'alice' },
        { jid: 'eve@example.org', affiliation: 'outcast', reason: 'spam' },
      ]);
      assert.equal(await rooms().countOwned('alice@example.org'), 1);
    });

    it('deletes a room with its affiliations, and says false when there was none', async () => {
      const lounge = room('lounge');
      const other = room('other');
      await rooms().save(lounge);
      await rooms().save(other);
      await rooms().setAffiliation(lounge.jid, { jid: 'alice@example.org', affiliation: 'owner' });
      await rooms().setAffiliation(lounge.jid, { jid: 'bob@example.org', affiliation: 'member', nick: 'bobby' });
      await rooms().setAffiliation(other.jid, { jid: 'alice@example.org', affiliation: 'owner' });
      assert.equal(await rooms().countOwned('alice@example.org'), 2);

      assert.equal(await rooms().delete(lounge.jid), true);
      assert.equal(await rooms().get(lounge.jid), undefined);
      assert.deepEqual(await rooms().affiliations(lounge.jid), []);
      assert.equal(await rooms().countOwned('alice@example.org'), 1);
      assert.equal(await rooms().delete(lounge.jid), false);
      assert.equal(await rooms().delete(`never@${SERVICE}`), false);

      // A room saved again under the same JID starts without affiliations.
      await rooms().save(lounge);
      assert.deepEqual(await rooms().affiliations(lounge.jid), []);
      assert.equal(await rooms().countOwned('alice@example.org'), 1);
      // The other room is untouched.
      assert.deepEqual(await rooms().get(other.jid), other);
      assert.deepEqual(await rooms().affiliations(other.jid), [{ jid: 'alice@example.org', affiliation: 'owner' }]);
    });

    it('lists the rooms of one service sorted by JID', async () => {
      const locals = ['zulu', 'alpha', 'a.b', 'a', 'ünïcode', '日本', '🦊', '\uFFFD', 'a-b'];
      for (const local of locals) await rooms().save(room(local));
      // Services whose names share a prefix with SERVICE, or contain it, are different services.
      await rooms().save(room('alpha', {}, `${SERVICE}.evil`));
      await rooms().save(room('alpha', {}, 'conference.example'));
      await rooms().save(room('beta', {}, 'muc.example.org'));
      await rooms().save(room('conference', {}, 'example.org'));

      const listed = await rooms().list(SERVICE);
      assert.deepEqual(listed.map((r) => r.jid), byCodePoint(locals.map((l) => `${l}@${SERVICE}`)));
      assert.deepEqual(listed.find((r) => r.jid === `alpha@${SERVICE}`), room('alpha'), 'list returns whole rooms');
      assert.deepEqual((await rooms().list('muc.example.org')).map((r) => r.jid), ['beta@muc.example.org']);
      assert.deepEqual((await rooms().list(`${SERVICE}.evil`)).map((r) => r.jid), [`alpha@${SERVICE}.evil`]);
      assert.deepEqual((await rooms().list('example.org')).map((r) => r.jid), [`conference@example.org`]);
      assert.deepEqual(await rooms().list('nothing.example.org'), []);
      assert.deepEqual(await rooms().list('conference'), []);

      await rooms().delete(`zulu@${SERVICE}`);
      assert.equal((await rooms().list(SERVICE)).length, locals.length - 1);
      assert.deepEqual(await rooms().services(), byCodePoint([SERVICE, `${SERVICE}.evil`, 'conference.example', 'muc.example.org', 'example.org']), 'every service with rooms, once');
    });

    it('has no services before any room is stored, and loses one with its last room', async () => {
      assert.deepEqual(await rooms().services(), []);
      await rooms().save(room('solo', {}, 'muc.example.org'));
      assert.deepEqual(await rooms().services(), ['muc.example.org']);
      await rooms().delete('solo@muc.example.org');
      assert.deepEqual(await rooms().services(), []);
    });

    it('sets, changes and lists affiliations sorted by JID', async () => {
      const lounge = room('lounge');
      await rooms().save(lounge);
      assert.deepEqual(await rooms().affiliations(lounge.jid), []);
      await rooms().setAffiliation(lounge.jid, { jid: 'zoe@example.org', affiliation: 'member', nick: 'Zoë' });
      await rooms().setAffiliation(lounge.jid, { jid: 'alice@example.org', affiliation: 'owner', reason: 'creator', nick: 'alice' });
      await rooms().setAffiliation(lounge.jid, { jid: 'a.b@example.org', affiliation: 'admin' });
      await rooms().setAffiliation(lounge.jid, { jid: 'spam.example.com', affiliation: 'outcast', reason: 'the whole domain' });
      assert.deepEqual(await rooms().affiliations(lounge.jid), [
        { jid: 'a.b@example.org', affiliation: 'admin' },
        { jid: 'alice@example.org', affiliation: 'owner', reason: 'creator', nick: 'alice' },
        { jid: 'spam.example.com', affiliation: 'outcast', reason: 'the whole domain' },
        { jid: 'zoe@example.org', affiliation: 'member', nick: 'Zoë' },
      ]);

      // A new setting replaces the old one whole: fields it leaves out are gone.
      await rooms().setAffiliation(lounge.jid, { jid: 'zoe@example.org', affiliation: 'admin', reason: 'promoted' });
      await rooms().setAffiliation(lounge.jid, { jid: 'alice@example.org', affiliation: 'owner' });
      assert.deepEqual(await rooms().affiliations(lounge.jid), [
        { jid: 'a.b@example.org', affiliation: 'admin' },
        { jid: 'alice@example.org', affiliation: 'owner' },
        { jid: 'spam.example.com', affiliation: 'outcast', reason: 'the whole domain' },
        { jid: 'zoe@example.org', affiliation: 'admin', reason: 'promoted' },
      ]);
    });

    it('removes an affiliation with none, harmlessly when there is none', async () => {
      const lounge = room('lounge');
      await rooms().save(lounge);
      await rooms().setAffiliation(lounge.jid, { jid: 'bob@example.org', affiliation: 'member', nick: 'bob' });
      await rooms().setAffiliation(lounge.jid, { jid: 'carol@example.org', affiliation: 'member' });
      await rooms().setAffiliation(lounge.jid, { jid: 'bob@example.org', affiliation: 'none' });
      assert.deepEqual(await rooms().affiliations(lounge.jid), [{ jid: 'carol@example.org', affiliation: 'member' }]);
      await rooms().setAffiliation(lounge.jid, { jid: 'bob@example.org', affiliation: 'none' });
      await rooms().setAffiliation(`never@${SERVICE}`, { jid: 'bob@example.org', affiliation: 'none' });
      assert.deepEqual(await rooms().affiliations(lounge.jid), [{ jid: 'carol@example.org', affiliation: 'member' }]);
      assert.deepEqual(await rooms().affiliations(`never@${SERVICE}`), []);
    });

    it('keeps each room’s affiliations apart', async () => {
      const a = room('a');
      const ab = room('a.b');
      await rooms().save(a);
      await rooms().save(ab);
      await rooms().setAffiliation(a.jid, { jid: 'x@example.org', affiliation: 'member' });
      await rooms().setAffiliation(ab.jid, { jid: 'x@example.org', affiliation: 'outcast' });
      assert.deepEqual(await rooms().affiliations(a.jid), [{ jid: 'x@example.org', affiliation: 'member' }]);
      assert.deepEqual(await rooms().affiliations(ab.jid), [{ jid: 'x@example.org', affiliation: 'outcast' }]);
    });

    it('stores registered nicks as given, the same nick for two users included', async () => {
      const lounge = room('lounge');
      await rooms().save(lounge);
      await rooms().setAffiliation(lounge.jid, { jid: 'bob@example.org', affiliation: 'member', nick: 'bob' });
      await rooms().setAffiliation(lounge.jid, { jid: 'bob2@example.org', affiliation: 'member', nick: 'bob' });
      assert.deepEqual((await rooms().affiliations(lounge.jid)).map((a) => a.nick), ['bob', 'bob']);
    });

    it('refuses an affiliation in a room that is not stored', async () => {
      await assert.rejects(
        rooms().setAffiliation(`ghost@${SERVICE}`, { jid: 'alice@example.org', affiliation: 'owner' }),
        (err: unknown) => err instanceof ServerError && err.code === 'STORE_NO_SUCH_ROOM' && err.message.includes(`ghost@${SERVICE}`),
      );
      assert.deepEqual(await rooms().affiliations(`ghost@${SERVICE}`), []);
      assert.equal(await rooms().countOwned('alice@example.org'), 0);
    });

    it('counts the rooms a JID owns', async () => {
      const owner = 'alice@example.org';
      assert.equal(await rooms().countOwned(owner), 0);
      for (const local of ['one', 'two', 'three']) await rooms().save(room(local));
      await rooms().setAffiliation(room('one').jid, { jid: owner, affiliation: 'owner' });
      await rooms().setAffiliation(room('two').jid, { jid: owner, affiliation: 'owner' });
      await rooms().setAffiliation(room('three').jid, { jid: owner, affiliation: 'admin' });
      await rooms().setAffiliation(room('three').jid, { jid: 'bob@example.org', affiliation: 'owner' });
      // A JID whose text starts with the owner's is someone else.
      await rooms().setAffiliation(room('three').jid, { jid: `${owner}.evil`, affiliation: 'owner' });
      assert.equal(await rooms().countOwned(owner), 2);

      await rooms().setAffiliation(room('one').jid, { jid: owner, affiliation: 'owner', nick: 'boss' });
      assert.equal(await rooms().countOwned(owner), 2, 'setting owner again counts once');
      await rooms().setAffiliation(room('one').jid, { jid: owner, affiliation: 'member' });
      assert.equal(await rooms().countOwned(owner), 1, 'a demoted owner no longer counts');
      await rooms().setAffiliation(room('three').jid, { jid: owner, affiliation: 'owner' });
      assert.equal(await rooms().countOwned(owner), 2, 'a promoted admin counts');
      await rooms().setAffiliation(room('two').jid, { jid: owner, affiliation: 'none' });
      assert.equal(await rooms().countOwned(owner), 1);
      await rooms().delete(room('three').jid);
      assert.equal(await rooms().countOwned(owner), 0);
      assert.equal(await rooms().countOwned('bob@example.org'), 0);
      assert.equal(await rooms().countOwned(`${owner}.evil`), 0);
    });

    it('keeps rooms and affiliations when an owner’s account is deleted', async () => {
      const { accounts } = fixture.stores;
      await accounts.create('alice', fakeCredentials('alice'));
      const lounge = room('lounge');
      await rooms().save(lounge);
      await rooms().setAffiliation(lounge.jid, { jid: 'alice@example.org', affiliation: 'owner' });
      assert.equal(await accounts.delete('alice'), true);
      assert.deepEqual(await rooms().get(lounge.jid), lounge);
      assert.deepEqual(await rooms().affiliations(lounge.jid), [{ jid: 'alice@example.org', affiliation: 'owner' }]);
      assert.equal(await rooms().countOwned('alice@example.org'), 1);
    });
  });
}
