// A module's part in a configuration reload (ModuleHost.prepareReload): keys its table declares `reloadable` reach
// ctx.settings and its onSettingsChange handlers at commit, and not before; other changed keys wait for a restart;
// a value the module's checks refuse applies nothing of that module.
import assert from 'node:assert/strict';
import type { Config } from '../config/types.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { configTypes, defineModule, moduleConfig, type ModuleContext } from './api.js';

interface DemoSettings {
  readonly level: number;
  readonly label: string;
}

const demoConfig = moduleConfig({
  section: 'demo',
  shape: { level: configTypes.integer(1, 10).default(1), label: configTypes.text.default('first') },
  reloadable: ['level'],
  resolve: (t): DemoSettings => ({ level: t.level, label: t.label }),
});

describe('module settings on reload (ModuleHost.prepareReload)', () => {
  let server: TestServer;
  let ctx: ModuleContext<DemoSettings> | undefined;
  const seen: DemoSettings[] = [];

  /** The running configuration with [demo] as given. */
  const withDemo = (table: Record<string, unknown>): Config => ({ ...server.config, sections: { ...server.config.sections, demo: table } });

  before(async () => {
    server = await startTestServer();
    const demo = defineModule({
      name: 'demo',
      specs: [],
      config: demoConfig,
      setup(context) {
        ctx = context;
        context.onSettingsChange((settings) => void seen.push(settings));
      },
    });
    await server.server.modules.start(demo);
  });
  after(async () => {
    await server?.stop();
  });

  it('applies a reloadable key at commit and leaves the others for a restart', async () => {
    const prepared = server.server.modules.prepareReload(withDemo({ level: 5, label: 'second' }), ['demo.label', 'demo.level']);
    assert.deepEqual(prepared.applied, ['demo.level']);
    assert.deepEqual(prepared.needsRestart, ['demo.label']);
    assert.equal(ctx?.settings.level, 1, 'nothing changes before commit');
    await prepared.commit();
    assert.deepEqual(ctx?.settings, { level: 5, label: 'first' });
    assert.deepEqual(seen, [{ level: 5, label: 'first' }]);
    assert.deepEqual(server.config.sections?.demo, { level: 5 });
  });

  it('a reloadable value the module refuses waits for a restart, and changes nothing', async () => {
    const prepared = server.server.modules.prepareReload(withDemo({ level: 50 }), ['demo.level']);
    assert.deepEqual(prepared.applied, []);
    assert.deepEqual(prepared.needsRestart, ['demo.level']);
    await prepared.commit();
    assert.equal(ctx?.settings.level, 5);
    assert.equal(seen.length, 1);
  });
});
