// The [registration] table of XEP-0077: the module's own (src/modules/config.ts), read from the file, the
// environment and test overrides, and every bad value a start error naming its key path.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type LoadConfigOptions } from '../../src/config/index.js';
import { MODULE_CONFIGS } from '../../src/main.js';
import { startTestServer } from '../../test/support/server.js';
import { registrationConfig, type RegistrationSettings } from './settings.js';

describe('XEP-0077 configuration: [registration]', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ratatosk-registration-config-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const load = (options: LoadConfigOptions = {}) => loadConfig({ env: {}, cwd: dir, file: false, modules: MODULE_CONFIGS, ...options });
  const settings = (options: LoadConfigOptions = {}): RegistrationSettings => {
    const config = load(options);
    const parsed = registrationConfig.parse(config.sections?.registration, config);
    assert.ok(parsed.ok, 'the table loaded but does not parse');
    return parsed.settings;
  };

  it('defaults to off, 3 registrations per address per 600 s', () => {
    assert.deepEqual(settings(), { allow: false, maxPerAddress: 3, windowSeconds: 600 });
  });

  it('reads the file, RATATOSK_ALLOW_REGISTRATION over it, and camelCase overrides', () => {
    const file = join(dir, 'ratatosk.toml');
    writeFileSync(file, '[registration]\nallow = false\nmax_per_address = 5\nwindow_seconds = 60\n');
    assert.deepEqual(settings({ file }), { allow: false, maxPerAddress: 5, windowSeconds: 60 });
    assert.deepEqual(settings({ file, env: { RATATOSK_ALLOW_REGISTRATION: 'yes' } }), { allow: true, maxPerAddress: 5, windowSeconds: 60 });
    assert.deepEqual(settings({ overrides: { registration: { allow: true, maxPerAddress: 9 } } }), { allow: true, maxPerAddress: 9, windowSeconds: 600 });
  });

  it('names the key path, the value and where it came from', () => {
    const file = join(dir, 'bad.toml');
    writeFileSync(file, '[registration]\nmax_per_address = 0\n');
    assert.throws(() => load({ file }), /registration\.max_per_address: expected an integer between 1 and 1000000, got 0 \(in .*bad\.toml\)/);
    assert.throws(() => load({ env: { RATATOSK_ALLOW_REGISTRATION: 'maybe' } }), /registration\.allow: expected true, false.*RATATOSK_ALLOW_REGISTRATION/);
    assert.throws(() => load({ overrides: { registration: { allow: 'yes' } } }), /registration\.allow: expected true or false, got "yes" \(from overrides\)/);
    assert.throws(() => load({ overrides: { registration: { windowSecond: 10 } } }), /unknown key "registration\.window_second".*did you mean "registration\.window_seconds"/);
  });

  it('without the module, [registration] and its variable are unknown: the core does not read them', () => {
    assert.throws(() => loadConfig({ env: {}, file: false, overrides: { registration: { allow: true } } }), /unknown key "registration"/);
    assert.throws(() => loadConfig({ env: { RATATOSK_ALLOW_REGISTRATION: 'yes' }, file: false }), /unknown environment variable RATATOSK_ALLOW_REGISTRATION/);
  });

  it('a bad value stops a real server from starting, naming its path', async () => {
    await assert.rejects(startTestServer({ registration: { windowSeconds: 0 } }), /registration\.window_seconds: expected an integer between 1 and/);
  });
});
