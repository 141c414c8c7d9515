// The XEP-0114 tables, [component] and [[components]]: read from the file, the environment and test overrides,
// and every bad value a start error naming its key path (the table is the module's: src/modules/config.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type LoadConfigOptions } from '../../src/config/index.js';
import { ServerError } from '../../src/errors.js';
import { MODULE_CONFIGS } from '../../src/main.js';
import { issuePath } from '../../src/modules/config.js';
import { startTestServer } from '../../test/support/server.js';
import { componentConfig, type ComponentSettings } from './settings.js';

describe('XEP-0114 configuration: [component] and [[components]]', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ratatosk-component-config-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const load = (options: LoadConfigOptions = {}) => loadConfig({ env: {}, cwd: dir, file: false, modules: MODULE_CONFIGS, ...options });
  const settings = (options: LoadConfigOptions = {}): ComponentSettings => {
    const config = load(options);
    const parsed = componentConfig.parse(config.sections?.component, config);
    assert.ok(parsed.ok, 'the tables loaded but do not parse');
    return parsed.settings;
  };
  function writeToml(text: string, name = 'ratatosk.toml'): string {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  }
  function rejects(fn: () => unknown, code: string, ...fragments: string[]): void {
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof ServerError, `expected a ServerError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      for (const fragment of fragments) assert.ok(err.message.includes(fragment), `"${err.message}" should mention ${fragment}`);
      return true;
    });
  }

  it('defaults to 127.0.0.1:5347, a 10 s handshake and no components', () => {
    assert.deepEqual(settings(), { host: '127.0.0.1', port: 5347, handshakeTimeout: 10, components: [] });
  });

  it('reads [component] and [[components]] from the file, normalising domains', () => {
    const file = writeToml(`
      [component]
      host = "::1"
      port = 15347
      handshake_timeout = 3

      [[components]]
      domain = "Gateway.Example.ORG"
      secret = "s3cret"
      name = "IRC gateway"

      [[components]]
      domain = "bot.example.org"
      secret = "other"
    `);
    assert.deepEqual(settings({ file }), {
      host: '::1',
      port: 15347,
      handshakeTimeout: 3,
      components: [
        { domain: 'gateway.example.org', secret: 's3cret', name: 'IRC gateway' },
        { domain: 'bot.example.org', secret: 'other' },
      ],
    });
  });

  it('reads RATATOSK_COMPONENTS as domain=secret pairs and the listener from RATATOSK_COMPONENT_PORT and _HOST', () => {
    const file = writeToml('[[components]]\ndomain = "file.example.org"\nsecret = "x"\n');
    const read = settings({ file, env: { RATATOSK_COMPONENTS: 'a.example.org=one, b.example.org=t=w=o', RATATOSK_COMPONENT_PORT: '-1', RATATOSK_COMPONENT_HOST: '0.0.0.0' } });
    assert.deepEqual(read.components, [
      { domain: 'a.example.org', secret: 'one' },
      { domain: 'b.example.org', secret: 't=w=o' },
    ], 'the variable replaces the list; a secret may contain "="');
    assert.deepEqual([read.host, read.port, read.handshakeTimeout], ['0.0.0.0', -1, 10]);
    assert.equal(settings({ env: { RATATOSK_COMPONENT_PORT: '0' } }).port, 0);
  });

  it('reads test overrides by section, camelCase', () => {
    const read = settings({ overrides: { component: { port: 0, handshakeTimeout: 2 }, components: [{ domain: 'gw.localhost', secret: 's' }] } });
    assert.deepEqual(read, { host: '127.0.0.1', port: 0, handshakeTimeout: 2, components: [{ domain: 'gw.localhost', secret: 's' }] });
  });

  it('names the entry and the variable when an entry is bad', () => {
    rejects(() => load({ env: { RATATOSK_COMPONENTS: 'a.example.org=one,b.example.org' } }), 'CONFIG_INVALID', 'components[1].secret: expected a non-empty string', 'RATATOSK_COMPONENTS');
    rejects(() => load({ env: { RATATOSK_COMPONENTS: 'a.example.org=' } }), 'CONFIG_INVALID', 'components[0].secret');
    rejects(() => load({ env: { RATATOSK_COMPONENTS: 'bad domain=x' } }), 'CONFIG_INVALID', 'components[0].domain: expected a domain name', 'RATATOSK_COMPONENTS');
    rejects(() => load({ env: { RATATOSK_COMPONENT_PORT: 'x' } }), 'CONFIG_INVALID', 'component.port', 'RATATOSK_COMPONENT_PORT');
    rejects(() => load({ env: { RATATOSK_COMPONENT_PROT: '1' } }), 'CONFIG_UNKNOWN_ENV', 'RATATOSK_COMPONENT_PROT', 'did you mean RATATOSK_COMPONENT_PORT');
  });

  it('refuses a duplicate domain, the server domain, an empty secret and unknown keys, naming the key path', () => {
    const twice = writeToml('[[components]]\ndomain = "gw.example.org"\nsecret = "a"\n[[components]]\ndomain = "GW.example.org"\nsecret = "b"\n');
    rejects(() => load({ file: twice }), 'CONFIG_INVALID', 'components[1].domain', 'components[0] has gw.example.org', twice);
    const own = writeToml('domain = "example.org"\n[[components]]\ndomain = "Example.org"\nsecret = "a"\n', 'own.toml');
    rejects(() => load({ file: own }), 'CONFIG_INVALID', "components[0].domain: must differ from the server's domain (example.org)", own);
    const empty = writeToml('[[components]]\ndomain = "gw.example.org"\nsecret = ""\n', 'empty.toml');
    rejects(() => load({ file: empty }), 'CONFIG_INVALID', 'components[0].secret: expected a non-empty string');
    const missing = writeToml('[[components]]\ndomain = "gw.example.org"\n', 'missing.toml');
    rejects(() => load({ file: missing }), 'CONFIG_INVALID', 'components[0].secret');
    const unknown = writeToml('[[components]]\ndomain = "gw.example.org"\nsecret = "a"\nport = 1\n', 'unknown.toml');
    rejects(() => load({ file: unknown }), 'CONFIG_UNKNOWN_KEY', 'components.0.port');
    const unknownInTable = writeToml('[component]\nprot = 1\n', 'unknown-table.toml');
    rejects(() => load({ file: unknownInTable }), 'CONFIG_UNKNOWN_KEY', 'component.prot', 'did you mean "component.port"');
    const notList = writeToml('components = "gw.example.org"\n', 'notlist.toml');
    rejects(() => load({ file: notList }), 'CONFIG_INVALID', 'components: expected a list of [[components]] tables');
    const timeout = writeToml('[component]\nhandshake_timeout = 0\n', 'timeout.toml');
    rejects(() => load({ file: timeout }), 'CONFIG_INVALID', 'component.handshake_timeout: expected an integer between 1 and');
  });

  it('refuses component.port on a port of the core, on the same address only (positive control: another address)', () => {
    const clash = writeToml('[c2s]\nhost = "127.0.0.1"\nport = 5347\n', 'clash.toml');
    rejects(() => load({ file: clash }), 'CONFIG_INVALID', 'component.port: must differ from c2s.port, both are 5347');
    const admin = writeToml('[component]\nport = 5281\n', 'admin.toml');
    rejects(() => load({ file: admin }), 'CONFIG_INVALID', 'component.port: must differ from admin.port, both are 5281');
    const elsewhere = writeToml('[c2s]\nhost = "127.0.0.2"\nport = 5347\n', 'elsewhere.toml');
    assert.equal(settings({ file: elsewhere }).port, 5347);
  });

  it('without the module, [[components]] is an unknown key: the core does not read it', () => {
    rejects(() => loadConfig({ env: {}, file: false, overrides: { components: [] } }), 'CONFIG_UNKNOWN_KEY', 'components');
    rejects(() => loadConfig({ env: { RATATOSK_COMPONENTS: 'a.example.org=x' }, file: false }), 'CONFIG_UNKNOWN_ENV', 'RATATOSK_COMPONENTS');
  });

  it('the module host reports a bad [[components]] entry under its own top-level key', () => {
    const config = { ...load(), sections: { components: [{ domain: 'gw.localhost', secret: '' }] } };
    const parsed = componentConfig.parse(undefined, config);
    assert.ok(!parsed.ok);
    assert.deepEqual(parsed.issues.map((i) => issuePath(componentConfig, i)), ['components[0].secret']);
    assert.ok(componentConfig.parse(undefined, { ...config, sections: { components: [{ domain: 'gw.localhost', secret: 's' }] } }).ok, 'control: a good entry parses');
  });

  it('a bad value stops a real server from starting, naming its path', async () => {
    await assert.rejects(startTestServer({ components: [{ domain: 'gw.localhost', secret: '' }] }), /components\[0\]\.secret: expected a non-empty string/);
    await assert.rejects(startTestServer({ component: { port: 70000 } }), /component\.port: expected an integer between -1 and 65535/);
  });
});
