// The module contract (issue #14): start order from `depends` (stable, missing and cyclic
// dependencies refused by name), a module's own configuration table validated with the core's keys
// (unknown keys and bad values named by their path) and handed to the module as ctx.settings.
import assert from 'node:assert/strict';
import { loadConfig, type LoadConfigOptions } from '../config/index.js';
import { ServerError } from '../errors.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { configTypes, defineModule, moduleConfig, type ModuleDefinition } from './api.js';
import type { CoreHooks } from '../hooks/core-hooks.js';
import { HookBus } from '../hooks/bus.js';
import { IqRegistry } from '../router/iq-registry.js';
import { Router } from '../router/router.js';
import { LocalSessionRegistry } from '../sessions/local-registry.js';
import { DiscoRegistry } from './disco-registry.js';
import { ModuleHost } from './host.js';
import { startOrder } from './order.js';

const mod = (name: string, ...depends: string[]): { name: string; depends: string[] } => ({ name, depends });
const names = (list: ReadonlyArray<{ name: string }>): string[] => list.map((m) => m.name);

function rejects(fn: () => unknown, code: string, ...fragments: string[]): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ServerError, `expected a ServerError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const f of fragments) assert.ok(err.message.includes(f), `"${err.message}" should mention ${f}`);
    return err.message;
  }
  assert.fail('expected an error');
}

describe('module contract', () => {
  describe('start order (depends)', () => {
    it('starts a module after what it depends on, and otherwise keeps the given order', () => {
      assert.deepEqual(names(startOrder([mod('a'), mod('b'), mod('c')])), ['a', 'b', 'c']);
      assert.deepEqual(names(startOrder([mod('muc', 'disco'), mod('ping'), mod('disco')])), ['ping', 'disco', 'muc']);
      assert.deepEqual(names(startOrder([mod('d', 'c'), mod('c', 'b', 'a'), mod('b', 'a'), mod('a')])), ['a', 'b', 'c', 'd']);
    });

    it('refuses a missing dependency, naming the module and what it lacks', () => {
      rejects(() => startOrder([mod('a'), mod('muc', 'disco')]), 'MODULE_DEPENDENCY_MISSING', '"muc" depends on "disco"');
    });

    it('refuses a cycle, naming the modules in it', () => {
      const message = rejects(() => startOrder([mod('x'), mod('a', 'b'), mod('b', 'c'), mod('c', 'a')]), 'MODULE_DEPENDENCY_CYCLE', 'a -> b -> c -> a');
      assert.ok(!message.includes('x'), message);
      rejects(() => startOrder([mod('self', 'self')]), 'MODULE_DEPENDENCY_CYCLE', 'self -> self');
      rejects(() => startOrder([mod('a'), mod('a')]), 'MODULE_DUPLICATE', '"a"');
    });
  });

  describe('configuration table', () => {
    const demo = moduleConfig({
      section: 'demo',
      shape: { max_items: configTypes.integer(1, 100).default(10), service: configTypes.domain.optional() },
      resolve: (t, server) => ({ maxItems: t.max_items, service: t.service ?? `demo.${server.domain}` }),
      check: (settings, server) => (settings.service === server.domain ? [{ path: ['service'], message: `must differ from the server's domain, got ${settings.service}` }] : []),
    });
    const load = (options: LoadConfigOptions = {}) => loadConfig({ file: false, env: {}, modules: [demo], ...options });

    it('applies its defaults and resolves against the server configuration', () => {
      const config = load({ overrides: { domain: 'example.org' } });
      const parsed = demo.parse(config.sections?.demo, config);
      assert.deepEqual(parsed, { ok: true, settings: { maxItems: 10, service: 'demo.example.org' } });
      const set = load({ overrides: { demo: { maxItems: 3 } } });
      assert.deepEqual(demo.parse(set.sections?.demo, set), { ok: true, settings: { maxItems: 3, service: 'demo.localhost' } });
    });

    it('an unknown key in the table is named with its path (and a hint), as for the core keys', () => {
      rejects(() => load({ overrides: { demo: { maxItem: 3 } } }), 'CONFIG_UNKNOWN_KEY', '"demo.max_item"', '"demo.max_items"');
      rejects(() => load({ overrides: { dmeo: { maxItems: 3 } } }), 'CONFIG_UNKNOWN_KEY', '"dmeo"', '"demo"');
      // Without the module, its table is an unknown key too.
      rejects(() => loadConfig({ file: false, env: {}, overrides: { demo: { maxItems: 3 } } }), 'CONFIG_UNKNOWN_KEY', '"demo"');
    });

    it('a bad value is named with its path, what was expected and what was given', () => {
      rejects(() => load({ overrides: { demo: { maxItems: 0 } } }), 'CONFIG_INVALID', 'demo.max_items: expected an integer between 1 and 100, got 0');
      rejects(() => load({ overrides: { demo: { service: 'not a domain!' } } }), 'CONFIG_INVALID', 'demo.service');
      rejects(() => load({ overrides: { domain: 'demo.example', demo: { service: 'demo.example' } } }), 'CONFIG_INVALID', "demo.service: must differ from the server's domain");
    });
  });

  describe('module host', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer();
    });
    after(async () => {
      await server.stop();
    });

    it('starts modules in dependency order with their settings, and stops them in reverse', async () => {
      const events: string[] = [];
      const make = (name: string, depends: string[] = []): ModuleDefinition<{ label: string }> =>
        defineModule({
          name,
          specs: [],
          depends,
          config: moduleConfig({ section: `t_${name}`, shape: {}, resolve: () => ({ label: `${name}-settings` }) }),
          setup(ctx) {
            events.push(`start ${ctx.name} ${ctx.settings.label}`);
            ctx.onStop(() => {
              events.push(`stop ${ctx.name}`);
            });
          },
        });
      const host = server.server.modules;
      await host.startAll([make('top', ['middle']), make('middle', ['base']), make('base')]);
      assert.deepEqual(events, ['start base base-settings', 'start middle middle-settings', 'start top top-settings']);
      for (const name of ['top', 'middle', 'base']) await host.stop(name);
      assert.deepEqual(events.slice(3), ['stop top', 'stop middle', 'stop base']);
    });

    it('refuses a missing dependency or a cycle before starting anything', async () => {
      const started: string[] = [];
      const plain = (name: string, depends: string[] = []): ModuleDefinition =>
        defineModule({ name, specs: [], depends, setup: (ctx) => void started.push(ctx.name) });
      const host = server.server.modules;
      await assert.rejects(host.startAll([plain('first'), plain('needy', ['absent'])]), (err: unknown) => err instanceof ServerError && err.code === 'MODULE_DEPENDENCY_MISSING' && /"needy" depends on "absent"/.test(err.message));
      await assert.rejects(host.startAll([plain('first'), plain('p', ['q']), plain('q', ['p'])]), (err: unknown) => err instanceof ServerError && err.code === 'MODULE_DEPENDENCY_CYCLE' && /p -> q -> p/.test(err.message));
      await assert.rejects(host.start(plain('alone', ['absent'])), (err: unknown) => err instanceof ServerError && err.code === 'MODULE_DEPENDENCY_MISSING');
      assert.deepEqual(started, []);
      // Positive control: the same modules start once what they need is there.
      await host.startAll([plain('absent'), plain('needy', ['absent'])]);
      assert.deepEqual(started, ['absent', 'needy']);
      await host.stop('needy');
      await host.stop('absent');
    });

    it('a bad table in the configuration it is given is a start error naming its key path, before any module starts', async () => {
      const started: string[] = [];
      const strict = defineModule({
        name: 'strict',
        specs: [],
        config: moduleConfig({ section: 'strict', shape: { only: configTypes.bool.default(true) }, resolve: (t) => ({ only: t.only }) }),
        setup: (ctx) => void started.push(`${ctx.name} ${String(ctx.settings.only)}`),
      });
      const first = defineModule({ name: 'first', specs: [], setup: (ctx) => void started.push(ctx.name) });
      const hostWith = (sections: Record<string, unknown>): ModuleHost => {
        const { stores, log } = server.server;
        const config = { ...server.server.config, sections };
        const hooks = new HookBus<CoreHooks>(log);
        const sessions = new LocalSessionRegistry();
        const iqs = new IqRegistry();
        const router = new Router({ domain: config.domain, sessions, accounts: stores.accounts, hooks, iqs, log });
        return new ModuleHost({ config, server: { name: 'test', version: '0', startedAt: 0 }, log, stores, sessions, hooks, iqs, router, disco: new DiscoRegistry() });
      };
      await assert.rejects(hostWith({ strict: { only: 'yes' } }).startAll([first, strict]), (err: unknown) => err instanceof ServerError && err.code === 'CONFIG_INVALID' && /strict\.only: expected true or false, got "yes"/.test(err.message));
      await assert.rejects(hostWith({ strict: { olny: true } }).startAll([first, strict]), (err: unknown) => err instanceof ServerError && err.code === 'CONFIG_UNKNOWN_KEY' && /"strict\.olny"/.test(err.message));
      assert.deepEqual(started, []);
      // Positive control: a good table starts both, the settings resolved from it.
      const good = hostWith({ strict: { only: false } });
      await good.startAll([first, strict]);
      assert.deepEqual(started, ['first', 'strict false']);
      await good.stopAll();
    });
  });
});
