// The cache on its own, over in-memory stores whose answers the tests hold back: one load per user
// however many sessions bind at once, state dropped with the last session and remembered for offline
// checks, roster changes that arrive during a load, and changes serialised with loads.
import assert from 'node:assert/strict';
import { Jid } from '../../src/jid.js';
import type { BoundSession } from '../../src/sessions/types.js';
import type { Roster, RosterItem, RosterStore } from '../../src/storage/types.js';
import type { BlockListStore, PrivacyItem, PrivacyStore } from './store/types.js';
import { PrivacyCache, type PrivacyStores } from './cache.js';
import { decide, peerFrom } from './engine.js';

function session(full: string): BoundSession {
  return {
    id: full,
    jid: Jid.parse(full),
    transport: 'tcp',
    remoteAddress: '127.0.0.1',
    startedAt: 0,
    presence: { available: false, priority: 0 },
    lastActivity: 0,
    flags: new Set(),
    send: () => undefined,
    sendText: () => undefined,
    close: () => undefined,
  };
}

const deny = (order: number, fields: Partial<PrivacyItem>): PrivacyItem => ({ action: 'deny', order, message: false, iq: false, presenceIn: false, presenceOut: false, ...fields });
const rosterItem = (jid: string, groups: string[]): RosterItem => ({ jid, subscription: 'both', ask: false, approved: false, groups });

/** In-memory stores that count reads and can hold their answers until released. */
class FakeStores implements PrivacyStores {
  reads = 0;
  gate: Promise<void> | undefined;
  lists = new Map<string, PrivacyItem[]>();
  defaultName: string | undefined;
  blocked: string[] = [];
  rosterItems: RosterItem[] = [];

  private async wait(): Promise<void> {
    this.reads++;
    await this.gate;
  }

  readonly privacy: PrivacyStore = {
    names: async () => {
      await this.wait();
      return this.defaultName === undefined ? { lists: [...this.lists.keys()] } : { lists: [...this.lists.keys()], default: this.defaultName };
    },
    getList: async (_u, name) => {
      await this.wait();
      return this.lists.get(name);
    },
    setList: async () => undefined,
    deleteList: async () => false,
    setDefault: async () => false,
  };

  readonly blocklist: BlockListStore = {
    list: async () => {
      await this.wait();
      return [...this.blocked];
    },
    block: async () => [],
    unblock: async () => [],
  };

  /** Holds only the roster read. */
  rosterGate: Promise<void> | undefined;

  readonly roster: RosterStore = {
    get: async (): Promise<Roster> => {
      await this.wait();
      await this.rosterGate;
      return { version: 1, items: this.rosterItems.map((i) => ({ ...i, groups: [...i.groups] })) };
    },
    getItem: async () => undefined,
    setItem: async () => 1,
    removeItem: async () => undefined,
    version: async () => 1,
    count: async () => 0,
  };
}

function gate(stores: FakeStores): () => void {
  let open = (): void => undefined;
  stores.gate = new Promise<void>((resolve) => (open = resolve));
  return () => {
    stores.gate = undefined;
    open();
  };
}

const tybalt = peerFrom('tybalt@example.com/pda')!;

describe('XEP-0016 cache', function () {
  it('loads a user once for sessions that bind together, and drops the state with the last session', async function () {
    const stores = new FakeStores();
    stores.blocked = ['tybalt@example.com'];
    const cache = new PrivacyCache(stores);
    const open = gate(stores);
    const a = session('romeo@localhost/a');
    const b = session('romeo@localhost/b');
    const both = Promise.all([cache.attach(a), cache.attach(b)]);
    assert.equal(cache.get('romeo'), undefined, 'not there before the load ends');
    open();
    const [ua, ub] = await both;
    assert.equal(ua, ub);
    assert.equal(stores.reads, 2, 'names and block list, once');
    assert.equal(cache.get('romeo')?.sessions.size, 2);

    cache.detach(a);
    assert.ok(cache.get('romeo'));
    cache.detach(b);
    assert.equal(cache.get('romeo'), undefined);
    // The default policy stays for offline checks, without reading again.
    const policy = await cache.policyOf('romeo');
    assert.equal(decide(policy, 'in', 'message', tybalt), 'blocked');
    assert.equal(stores.reads, 2);
  });

  it('forgets a session that ended while its user loaded', async function () {
    const stores = new FakeStores();
    const cache = new PrivacyCache(stores);
    const open = gate(stores);
    const a = session('romeo@localhost/a');
    const attaching = cache.attach(a);
    cache.detach(a);
    open();
    await attaching;
    assert.equal(cache.get('romeo'), undefined);
  });

  it('loads the roster only for a default list with group or subscription items, and keeps changes made meanwhile', async function () {
    const stores = new FakeStores();
    stores.lists.set('feud', [deny(1, { type: 'group', value: 'Enemies' })]);
    stores.defaultName = 'feud';
    stores.rosterItems = [rosterItem('tybalt@example.com', ['Capulets'])];
    const cache = new PrivacyCache(stores);
    let open = (): void => undefined;
    stores.rosterGate = new Promise<void>((resolve) => (open = resolve));
    const attaching = cache.attach(session('romeo@localhost/a'));
    // Wait until the roster read has started, then change the roster before it answers.
    while (stores.reads < 4) await new Promise((resolve) => setImmediate(resolve));
    cache.rosterChanged('romeo', rosterItem('tybalt@example.com', ['Enemies']));
    open();
    const user = await attaching;
    assert.deepEqual(user.roster?.get('tybalt@example.com')?.groups, ['Enemies']);
    assert.equal(decide(user.policy(), 'in', 'message', tybalt), 'denied');
    cache.rosterChanged('romeo', { jid: 'tybalt@example.com', subscription: 'remove' });
    assert.equal(decide(user.policy(), 'in', 'message', tybalt), 'allow');

    const plain = new FakeStores();
    plain.lists.set('jids', [deny(1, { type: 'jid', value: 'tybalt@example.com' })]);
    plain.defaultName = 'jids';
    const other = await new PrivacyCache(plain).attach(session('juliet@localhost/a'));
    assert.equal(other.roster, undefined);
    assert.equal(plain.reads, 3, 'names, block list, default list: no roster');
  });

  it('runs a change after a load in progress and before the next load', async function () {
    const stores = new FakeStores();
    const cache = new PrivacyCache(stores);
    const a = session('romeo@localhost/a');
    await cache.attach(a);
    const order: string[] = [];
    const first = cache.change(a, async () => {
      order.push('first starts');
      await new Promise((resolve) => setTimeout(resolve, 20));
      order.push('first ends');
    });
    const second = cache.change(a, async () => {
      order.push('second');
    });
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first starts', 'first ends', 'second']);
  });

  it('reads an offline user once, then serves the LRU; a roster change drops a roster-dependent entry', async function () {
    const stores = new FakeStores();
    stores.lists.set('feud', [deny(1, { type: 'group', value: 'Enemies' })]);
    stores.defaultName = 'feud';
    stores.rosterItems = [rosterItem('tybalt@example.com', ['Enemies'])];
    const cache = new PrivacyCache(stores, 2);
    assert.equal(decide(await cache.policyOf('romeo'), 'in', 'message', tybalt), 'denied');
    const reads = stores.reads;
    await cache.policyOf('romeo');
    assert.equal(stores.reads, reads);
    cache.rosterChanged('romeo', rosterItem('tybalt@example.com', []));
    stores.rosterItems = [rosterItem('tybalt@example.com', [])];
    assert.equal(decide(await cache.policyOf('romeo'), 'in', 'message', tybalt), 'allow');
    // Bounded: the oldest entry goes.
    await cache.policyOf('a');
    await cache.policyOf('b');
    const before = stores.reads;
    await cache.policyOf('romeo');
    assert.ok(stores.reads > before, 'romeo was evicted');
  });
});
