// changedKeys names what differs between two configurations as the file does; a reload reports these paths.
import assert from 'node:assert/strict';
import { changedKeys, coreValueAt, setCoreValue } from './diff.js';
import { loadConfig, type LoadConfigOptions } from './load.js';
import { configTypes, moduleConfig } from '../modules/config.js';

// Two module tables of the shape the built-in modules have (src/ does not import xeps/).
const registration = moduleConfig({ section: 'registration', shape: { allow: configTypes.bool.default(false) }, resolve: (t) => t });
const muc = moduleConfig({ section: 'muc', shape: { max_occupants: configTypes.integer(1, 1000).default(100) }, resolve: (t) => t });

const load = (overrides: LoadConfigOptions['overrides']) => loadConfig({ file: false, env: {}, modules: [registration, muc], overrides });

describe('config diff (changedKeys)', function () {
  it('two loads of the same settings differ in nothing', function () {
    assert.deepEqual(changedKeys(load({}), load({})), { core: [], modules: [] });
  });

  it('names core keys snake_case under their table, module keys under their section, lists whole', function () {
    const before = load({});
    const after = load({
      logLevel: 'debug',
      admins: ['root@localhost'],
      c2s: { port: 5999 },
      limits: { maxConnectionsPerAddress: 50, maxPreAuthPerAddress: 10 },
      tls: { cert: '/etc/x.crt', key: '/etc/x.key' },
      registration: { allow: true },
      muc: { maxOccupants: 7 },
    });
    assert.deepEqual(changedKeys(before, after), {
      core: ['admins', 'c2s.port', 'limits.max_connections_per_address', 'limits.max_pre_auth_per_address', 'log_level', 'tls.cert', 'tls.key'],
      modules: ['muc.max_occupants', 'registration.allow'],
    });
  });

  it('reads and writes a core key by its file path', function () {
    const config = load({});
    assert.equal(coreValueAt(config, 'limits.max_connections_per_address'), 100);
    setCoreValue(config, 'limits.max_connections_per_address', 3);
    assert.equal(config.limits.maxConnectionsPerAddress, 3);
    setCoreValue(config, 'tls.cert', '/etc/x.crt');
    assert.equal(config.tls.cert, '/etc/x.crt');
    setCoreValue(config, 'tls.cert', undefined);
    assert.equal('cert' in config.tls, false);
  });
});
