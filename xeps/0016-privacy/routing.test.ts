// The in-memory side of privacy and blocking, against a real server on both back ends: routing
// reads no store (the key requirement: esl/MongooseIM#4371), stanzas that arrive while a new
// session's lists load wait for them, a store that fails closes the session instead of letting
// blocked stanzas through, and roster changes (through the IM module or the 'roster:changed' hook) reach the cache.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { defineModule, type ModuleContext } from '../../src/modules/api.js';
import { describeBackends } from '../../test/support/backends.js';
import { rawLogin } from '../../test/support/raw-stream.js';
import type { TestServer } from '../../test/support/server.js';
import { activate, chat, Clients, contacts, errorOf, freshUsers, isError, isMessage, item, jid, PASSWORD, query, list, request } from './test-kit.js';
import { privacyStores } from './store/index.js';

type Methods = Record<string, unknown>;

/** Counts calls to the interface methods of the given stores until `restore` is called. */
function spy(stores: Record<string, { store: object; methods: readonly string[] }>): { calls: string[]; restore(): void } {
  const calls: string[] = [];
  const undo: Array<() => void> = [];
  for (const [storeName, { store, methods }] of Object.entries(stores)) {
    const target = store as Methods;
    for (const name of methods) {
      const original = target[name];
      const own = Object.prototype.hasOwnProperty.call(target, name);
      assert.equal(typeof original, 'function', `${storeName}.${name}`);
      target[name] = (...args: unknown[]): unknown => {
        calls.push(`${storeName}.${name}`);
        return (original as (...a: unknown[]) => unknown).apply(store, args);
      };
      undo.push(() => (own ? (target[name] = original) : delete target[name]));
    }
  }
  return { calls, restore: () => undo.forEach((u) => u()) };
}

/** Replaces one method of a store; returns the undo. */
function patch(store: object, name: string, replacement: (...args: never[]) => unknown): () => void {
  const target = store as Methods;
  const own = Object.prototype.hasOwnProperty.call(target, name);
  const original = target[name];
  target[name] = replacement;
  return () => {
    if (own) target[name] = original;
    else delete target[name];
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describeBackends('Privacy and blocking from memory', (backend) => {
  let server: TestServer;
  const clients = new Clients(() => server);

  before(async function () {
    server = await backend.start({ c2s: { requireTls: false } });
  });
  afterEach(async function () {
    await clients.stopAll();
  });
  after(async function () {
    await server?.stop();
  });

  it('routes 200 messages between two users with lists, a block list and a roster snapshot without reading any store', async function () {
    const { romeo, juliet, tybalt } = await freshUsers(server, 'romeo', 'juliet', 'tybalt');
    await contacts(server, romeo, juliet, { a: 'both', b: 'both', groupsOfB: ['Capulets'] });
    await contacts(server, romeo, tybalt, { a: 'both', b: 'both', groupsOfB: ['Capulets', 'Enemies'] });
    const r = await clients.login(romeo, 'orchard');
    const j = await clients.login(juliet, 'balcony', 'tcp');
    const t = await clients.login(tybalt, 'pda');
    // Every kind of rule: group, subscription, JID, fall-through; a default list and a block list on the other side.
    await activate(r, 'guarded', item({ type: 'group', value: 'Enemies', action: 'deny', order: '1' }), item({ type: 'subscription', value: 'both', action: 'allow', order: '2' }), item({ type: 'jid', value: 'paris@localhost', action: 'deny', order: '3' }), item({ action: 'deny', order: '4' }, 'iq'));
    await request(j, 'set', query(list('default', item({ type: 'jid', value: 'iago@localhost', action: 'deny', order: '1' }))));
    await request(j, 'set', query(xml('default', { name: 'default' })));
    await request(j, 'set', xml('block', { xmlns: 'urn:xmpp:blocking' }, xml('item', { jid: 'iago@localhost' }), xml('item', { jid: 'example.org' })));

    const { privacy, blocklist } = server.server.stores.module('privacy', privacyStores);
    const { roster } = server.server.stores;
    const spied = spy({
      privacy: { store: privacy, methods: ['names', 'getList', 'setList', 'deleteList', 'setDefault'] },
      blocklist: { store: blocklist, methods: ['list', 'block', 'unblock'] },
      roster: { store: roster, methods: ['get', 'getItem', 'setItem', 'removeItem', 'version', 'count'] },
    });
    try {
      // The spy sees calls (and the stores still answer through it).
      await Promise.all([privacy.names(romeo), blocklist.list(juliet), roster.get(romeo)]);
      assert.deepEqual(spied.calls.splice(0), ['privacy.names', 'blocklist.list', 'roster.get']);
      const received = { r: 0, j: 0 };
      const all = Promise.all([
        (async () => {
          for (let i = 0; i < 100; i++) await r.next(isMessage(j.jid, `j${i}`));
          received.r = 100;
        })(),
        (async () => {
          for (let i = 0; i < 100; i++) await j.next(isMessage(r.jid, `r${i}`));
          received.j = 100;
        })(),
      ]);
      for (let i = 0; i < 100; i++) {
        await r.xmpp.send(chat(j.jid, `r${i}`));
        await j.xmpp.send(chat(r.jid, `j${i}`));
      }
      await all;
      // And the denials are decided from memory too.
      await t.xmpp.send(chat(r.jid, 'enemy'));
      assert.equal(errorOf(await t.next(isError('message', r.jid))).condition, 'service-unavailable');
      assert.deepEqual(received, { r: 100, j: 100 });
      assert.deepEqual(spied.calls, [], 'routing read the store');
    } finally {
      spied.restore();
    }
  });

  it('holds stanzas for a session whose lists are still loading, then applies them', async function () {
    const { juliet, romeo, tybalt } = await freshUsers(server, 'juliet', 'romeo', 'tybalt');
    await server.server.stores.module('privacy', privacyStores).blocklist.block(juliet, [jid(tybalt)]);
    const r = await clients.login(romeo, 'orchard');
    const t = await clients.login(tybalt, 'pda');

    const blocklist = server.server.stores.module('privacy', privacyStores).blocklist;
    const original = blocklist.list.bind(blocklist);
    let loads = 0;
    const restore = patch(blocklist, 'list', async (username: string): Promise<string[]> => {
      if (username === juliet) {
        loads++;
        await sleep(500);
      }
      return original(username);
    });
    try {
      // The bind result comes before the lists are loaded; the client is online at once.
      const j = await clients.login(juliet, 'balcony');
      await t.xmpp.send(chat(j.jid, 'from a blocked JID'));
      await r.xmpp.send(chat(j.jid, 'from a friend'));
      await j.next(isMessage(r.jid, 'from a friend'), 3000);
      assert.equal(errorOf(await t.next(isError('message', j.jid), 3000)).condition, 'service-unavailable');
      assert.equal(loads, 1, 'one load for the session');
    } finally {
      restore();
    }
  });

  it('closes a new session whose lists cannot be loaded, rather than deliver what it blocked', async function () {
    const { juliet } = await freshUsers(server, 'juliet');
    const restore = patch(server.server.stores.module('privacy', privacyStores).privacy, 'names', async (): Promise<never> => {
      throw new Error('disk on fire');
    });
    try {
      const { stream } = await rawLogin(server.ports.c2s, juliet, PASSWORD, 'balcony');
      await stream.expect(/<stream:error><internal-server-error xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
      await stream.waitClosed();
    } finally {
      restore();
    }
  });

  it('sees a roster set made through the IM module (its pushes emit roster:changed)', async function () {
    const { romeo, tybalt, paris } = await freshUsers(server, 'romeo', 'tybalt', 'paris');
    await contacts(server, romeo, paris, { a: 'both', b: 'both', groupsOfB: ['Enemies'] });
    const r = await clients.login(romeo, 'orchard');
    const t = await clients.login(tybalt, 'pda');
    await activate(r, 'feud', item({ type: 'group', value: 'Enemies', action: 'deny', order: '1' }, 'message'));
    await t.xmpp.send(chat(r.jid, 'before'));
    await r.next(isMessage(t.jid, 'before'));
    await request(r, 'set', xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: jid(tybalt) }, xml('group', {}, 'Enemies'))));
    await t.xmpp.send(chat(r.jid, 'after'));
    assert.equal(errorOf(await t.next(isError('message', r.jid))).condition, 'service-unavailable');
  });

  it("follows the roster through 'roster:changed': group and subscription items see the change at once", async function () {
    const { romeo, tybalt, paris } = await freshUsers(server, 'romeo', 'tybalt', 'paris');
    await contacts(server, romeo, tybalt, { a: 'both', b: 'both', groupsOfB: ['Capulets'] });
    await contacts(server, romeo, paris, { a: 'both', b: 'both', groupsOfB: ['Enemies'] });
    let emitter: ModuleContext | undefined;
    const name = `roster-emitter-${romeo}`;
    await server.server.modules.start(defineModule({ name, specs: [], setup: (ctx) => void (emitter = ctx) }));
    try {
      const r = await clients.login(romeo, 'orchard');
      const t = await clients.login(tybalt, 'pda');
      await activate(r, 'feud', item({ type: 'group', value: 'Enemies', action: 'deny', order: '1' }, 'message'), item({ type: 'subscription', value: 'none', action: 'deny', order: '2' }, 'message'));
      await t.xmpp.send(chat(r.jid, 'cousin'));
      await r.next(isMessage(t.jid, 'cousin'));

      const roster = server.server.stores.roster;
      const enemy = { jid: jid(tybalt), subscription: 'both' as const, ask: false, approved: false, groups: ['Enemies'] };
      await roster.setItem(romeo, enemy);
      await emitter?.emit('roster:changed', romeo, enemy);
      await t.xmpp.send(chat(r.jid, 'draw'));
      assert.equal(errorOf(await t.next(isError('message', r.jid))).condition, 'service-unavailable');

      // Removed from the roster: now 'none', which the second item denies.
      await roster.removeItem(romeo, jid(tybalt));
      await emitter?.emit('roster:changed', romeo, { jid: jid(tybalt), subscription: 'remove' });
      await t.xmpp.send(chat(r.jid, 'stranger'));
      assert.equal(errorOf(await t.next(isError('message', r.jid))).condition, 'service-unavailable');

      const friend = { ...enemy, groups: ['Capulets'] };
      await roster.setItem(romeo, friend);
      await emitter?.emit('roster:changed', romeo, friend);
      await t.xmpp.send(chat(r.jid, 'friends again'));
      await r.next(isMessage(t.jid, 'friends again'));
    } finally {
      await server.server.modules.stop(name);
    }
  });
});
