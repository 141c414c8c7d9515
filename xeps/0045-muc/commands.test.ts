// `ratatosk room list|destroy`, the MUC module's administration commands (commands.ts): in the CLI
// process on the stores, and with a live server's hooks as the admin API runs them.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliCaptured, type CliOutcome } from '../../test/support/cli.js';
import { commandRegistry, commands, runCommand } from '../../src/admin/commands.js';
import type { LiveServer } from '../../src/admin/live.js';
import { loadConfig } from '../../src/config/index.js';
import { HookBus } from '../../src/hooks/bus.js';
import type { CoreHooks } from '../../src/hooks/core-hooks.js';
import { MODULE_COMMANDS } from '../../src/main.js';
import { createLogger } from '../../src/observability/log.js';
import { openEmbeddedStores } from '../../src/storage/embedded/index.js';
import type { Stores } from '../../src/storage/types.js';
import './hooks.js';
import { mucStores } from './store/index.js';

describe('MUC admin commands', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ratatosk-muc-admin-'));
    env = { RATATOSK_DATA_DIR: dir, RATATOSK_DOMAIN: 'example.org' };
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cli = (argv: string[]): Promise<CliOutcome> => runCliCaptured(argv, env);

  async function withStores<T>(work: (stores: Stores) => Promise<T>): Promise<T> {
    const stores = await openEmbeddedStores(dir);
    try {
      return await work(stores);
    } finally {
      await stores.close();
    }
  }

  it('are the module\'s: the core\'s registry has no room command, the composed one has both', () => {
    assert.equal([...commands.keys()].some((name) => name.startsWith('room')), false);
    const all = commandRegistry(MODULE_COMMANDS);
    assert.ok(all.get('room list'));
    assert.ok(all.get('room destroy'));
  });

  describe('room list and destroy', () => {
    beforeEach(async () => {
      await withStores(async (stores) => {
        await stores.module('muc', mucStores).save({ jid: 'lounge@conference.example.org', config: { 'muc#roomconfig_roomname': 'The Lounge' }, createdAt: 1 });
        await stores.module('muc', mucStores).save({ jid: 'attic@conference.example.org', config: {}, createdAt: 2 });
        await stores.module('muc', mucStores).save({ jid: 'other@muc.example.org', config: {}, createdAt: 3 });
      });
    });

    it('lists the rooms of conference.<domain>, or of another service', async () => {
      assert.deepEqual(await cli(['room', 'list']), { code: 0, out: 'attic@conference.example.org\nlounge@conference.example.org\tThe Lounge\n', err: '' });
      assert.equal((await cli(['room', 'list', '--service', 'MUC.example.org'])).out, 'other@muc.example.org\n');
      assert.equal((await cli(['room', 'list', '--service', 'none.example.org'])).out, '');
      const bad = await cli(['room', 'list', '--service', 'a b']);
      assert.equal(bad.code, 1);
      assert.match(bad.err, /invalid --service "a b"/);
    });

    it('destroys a stored room, and says so for an unknown or malformed one', async () => {
      assert.deepEqual(await cli(['room', 'destroy', 'Lounge@conference.example.org', '--reason', 'closing']), { code: 0, out: 'destroyed lounge@conference.example.org\n', err: '' });
      assert.equal((await cli(['room', 'list'])).out, 'attic@conference.example.org\n');
      const again = await cli(['room', 'destroy', 'lounge@conference.example.org']);
      assert.deepEqual(again, { code: 1, out: '', err: 'ratatosk: no such room: lounge@conference.example.org\n' });
      const full = await cli(['room', 'destroy', 'attic@conference.example.org/nick']);
      assert.equal(full.code, 1);
      assert.match(full.err, /is not a room JID: give room@conference\.example\.org/);
      const domainOnly = await cli(['room', 'destroy', 'conference.example.org']);
      assert.equal(domainOnly.code, 1);
    });

    it('asks the live MUC service first when the server has one', async () => {
      const calls: Array<[string, string | undefined]> = [];
      // The server's hooks, where the live MUC service answers 'muc:destroy-room' (true when the room was live).
      const hooks = new HookBus<CoreHooks>(createLogger('silent'));
      hooks.on('muc:destroy-room', (jid, reason) => {
        calls.push([jid, reason]);
        return jid === 'live@conference.example.org';
      });
      const live: LiveServer = {
        nodeId: 'n',
        startedAt: Date.now(),
        storeKind: 'embedded',
        ports: {},
        modules: () => [],
        sessions: () => Promise.resolve({ sessions: [], unanswered: [] }),
        stats: () => ({ sessions: 0, byTransport: { tcp: 0, websocket: 0, bosh: 0 }, memory: { rss: 0, heapUsed: 0, heapTotal: 0, external: 0 } }),
        kick: () => Promise.resolve(false),
        fire: (name, ...args) => hooks.fire(name, ...args),
      };
      const command = commandRegistry(MODULE_COMMANDS).get('room destroy');
      assert.ok(command);
      const config = loadConfig({ file: false, env });
      await withStores(async (stores) => {
        const ctx = { config, stores, live, notice: () => undefined };
        const stored = await runCommand(command, ctx, { args: { 'room-jid': 'attic@conference.example.org' }, options: { reason: 'bye' } });
        assert.deepEqual(stored.data, { jid: 'attic@conference.example.org', stored: true, live: false });
        const onlyLive = await runCommand(command, ctx, { args: { 'room-jid': 'live@conference.example.org' }, options: {} });
        assert.deepEqual(onlyLive.data, { jid: 'live@conference.example.org', stored: false, live: true });
      });
      assert.deepEqual(calls, [['attic@conference.example.org', 'bye'], ['live@conference.example.org', undefined]]);
    });
  });

});
