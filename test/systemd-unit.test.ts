// deploy/ratatosk.service, its user (deploy/ratatosk.sysusers.conf) and its environment file
// (deploy/ratatosk.env.example): systemd's own tools accept them, and the server starts with that
// environment and stops on the unit's KillSignal well within its TimeoutStopSec.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const UNIT = join(ROOT, 'deploy', 'ratatosk.service');
const ENV_FILE = join(ROOT, 'deploy', 'ratatosk.env.example');
const SYSUSERS = join(ROOT, 'deploy', 'ratatosk.sysusers.conf');

/** The settings of each section of a unit file; a key set twice keeps every value. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1] ?? '', current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current && eq > 0, `unit line outside a section or without "=": ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

/** An EnvironmentFile as systemd reads it: VAR=value lines, comments and blank lines ignored. */
function parseEnvFile(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    assert.ok(m, `not VAR=value: ${line}`);
    env.set(m[1] ?? '', m[2] ?? '');
  }
  return env;
}

function runTool(file: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(file, args, (err, out, errText) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out, err: errText }));
  });
}

function findTool(name: string): string | undefined {
  return ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin'].map((dir) => join(dir, name)).find((p) => existsSync(p));
}

/** The tool, or the suite skipped (failed under CI=true, where .ci/run installs Debian's systemd package). */
function requireTool(ctx: Mocha.Context, name: string): string {
  const path = findTool(name);
  if (path) return path;
  const message = `${name} is missing (apt-get install systemd)`;
  if (process.env.CI === 'true') throw new Error(`${message}; it is required under CI=true`);
  console.warn(`\n  !!! ${message}: SKIPPING the systemd unit checks !!!\n`);
  ctx.skip();
}

describe('systemd unit (deploy/ratatosk.service)', function () {
  this.timeout(90_000);
  let unitText: string;
  let unit: Map<string, Map<string, string[]>>;
  let service: Map<string, string[]>;
  const one = (key: string): string | undefined => {
    const values = service.get(key);
    return values?.at(-1);
  };

  before(async () => {
    unitText = await readFile(UNIT, 'utf8');
    unit = parseUnit(unitText);
    const s = unit.get('Service');
    assert.ok(s, '[Service] section');
    service = s;
  });

  it('runs serve as a dedicated user, with the environment file, a high LimitNOFILE and Restart=on-failure; ExecReload sends SIGHUP', async () => {
    assert.equal(one('User'), 'ratatosk');
    assert.equal(one('Group'), 'ratatosk');
    assert.match(one('ExecStart') ?? '', /^\/usr\/bin\/node \/opt\/ratatosk\/bin\/ratatosk\.js serve$/);
    assert.equal(one('WorkingDirectory'), '/opt/ratatosk');
    assert.equal(one('EnvironmentFile'), '/etc/ratatosk/ratatosk.env');
    assert.equal(one('Restart'), 'on-failure');
    assert.ok(Number(one('LimitNOFILE')) >= 65536, `LimitNOFILE=${one('LimitNOFILE')}`);
    assert.equal(one('KillSignal'), 'SIGTERM');
    assert.ok(Number.parseInt(one('TimeoutStopSec') ?? '0', 10) >= 10, 'time for the graceful shutdown');
    assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
    assert.deepEqual(unit.get('Install')?.get('WantedBy'), ['multi-user.target']);
    // Options that would break V8's JIT or the listeners stay out; the data directory is the writable state directory.
    assert.equal(service.has('MemoryDenyWriteExecute'), false);
    assert.equal(one('StateDirectory'), 'ratatosk');
    assert.equal(one('ProtectSystem'), 'strict');
    assert.match(one('RestrictAddressFamilies') ?? '', /AF_INET AF_INET6/);
    // The user the unit runs as is the one sysusers creates.
    assert.match(await readFile(SYSUSERS, 'utf8'), /^u ratatosk - /m);
  });

  it('the example environment file uses the state directory and only variables the server knows', async () => {
    const text = await readFile(ENV_FILE, 'utf8');
    const env = parseEnvFile(text);
    assert.equal(env.get('RATATOSK_DATA_DIR'), `/var/lib/${one('StateDirectory') ?? ''}`);
    const loader = await readFile(join(ROOT, 'src', 'config', 'load.ts'), 'utf8');
    const known = new Set(loader.match(/RATATOSK_[A-Z0-9_]+/g));
    // Commented examples too: an operator uncomments them as they are.
    const mentioned = new Set(text.match(/RATATOSK_[A-Z0-9_]+/g));
    assert.ok(mentioned.size >= 10);
    for (const name of mentioned) assert.ok(known.has(name), `${name} is read by src/config/load.ts`);
    // Positive control for the check above.
    assert.equal(known.has('RATATOSK_NO_SUCH_THING'), false);
  });

  it('systemd-analyze verify accepts it (a copy pointing at this machine\'s node and this checkout), and flags a broken copy', async function () {
    const analyze = requireTool(this, 'systemd-analyze');
    const dir = await mkdtemp(join(tmpdir(), 'ratatosk-unit-'));
    try {
      const local = unitText
        .replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `)
        .replaceAll('/opt/ratatosk', ROOT.replace(/\/$/, ''))
        .replace(/^EnvironmentFile=.*$/m, `EnvironmentFile=${ENV_FILE}`);
      const good = join(dir, 'ratatosk.service');
      await writeFile(good, local);
      const verified = await runTool(analyze, ['verify', good]);
      const aboutUnit = (text: string): string[] => text.split('\n').filter((l) => l.includes('ratatosk'));
      assert.equal(verified.code, 0, verified.err);
      assert.deepEqual(aboutUnit(verified.err), [], 'no warnings about the unit');
      // Positive control: systemd-analyze says so (mostly with exit status 0) when a key or a value is wrong.
      const bad = join(dir, 'ratatosk-broken.service');
      await writeFile(bad, local.replace(/^Restart=on-failure$/m, 'Restart=sometimes').replace(/^ProtectSystem=strict$/m, 'ProtectSystm=strict'));
      const flagged = await runTool(analyze, ['verify', bad]);
      assert.match(aboutUnit(flagged.err).join('\n'), /restart specifier[\s\S]*ProtectSystm/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('systemd-sysusers creates the ratatosk user and group (in a scratch root)', async function () {
    const sysusers = requireTool(this, 'systemd-sysusers');
    const root = await mkdtemp(join(tmpdir(), 'ratatosk-sysusers-'));
    try {
      await mkdir(join(root, 'etc'));
      const made = await runTool(sysusers, [`--root=${root}`, SYSUSERS]);
      assert.equal(made.code, 0, made.err);
      assert.match(await readFile(join(root, 'etc', 'passwd'), 'utf8'), /^ratatosk:x:\d+:\d+:Ratatosk XMPP server:\/var\/lib\/ratatosk:\/usr\/sbin\/nologin$/m);
      assert.match(await readFile(join(root, 'etc', 'group'), 'utf8'), /^ratatosk:x:\d+:/m);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('serve starts with the example environment, reloads on ExecReload\'s SIGHUP, and exits 0 on the KillSignal well within TimeoutStopSec', async function () {
    const env = parseEnvFile(await readFile(ENV_FILE, 'utf8'));
    const dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-unit-data-'));
    try {
      const childEnv: NodeJS.ProcessEnv = {};
      for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('RATATOSK_')) childEnv[key] = value;
      for (const key of (service.get('Environment') ?? []).flatMap((e) => e.split(/\s+/))) {
        const [name, value] = key.split('=');
        if (name) childEnv[name] = value ?? '';
      }
      Object.assign(childEnv, Object.fromEntries(env), {
        // This machine's free ports and a scratch data directory instead of the service's.
        RATATOSK_DATA_DIR: dataDir,
        RATATOSK_C2S_PORT: '0',
        RATATOSK_C2S_TLS_PORT: '0',
        RATATOSK_HTTP_PORT: '0',
        RATATOSK_ADMIN_PORT: '0',
      });
      const child = spawn(process.execPath, ['--import', 'tsx', 'loadtest/tsung/ratatosk-cli.ts', 'serve'], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      const exited = new Promise<[number | null, string | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready in 40 s:\n${stderr}`)), 40_000);
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          if (stderr.includes('Ratatosk is ready')) {
            clearTimeout(timer);
            resolve();
          }
        });
        void exited.then(([code]) => {
          clearTimeout(timer);
          reject(new Error(`serve exited with ${code} before it was ready:\n${stderr}`));
        });
      });
      // ExecReload: the signal it sends reloads the configuration; the process keeps running.
      const reloadSignal = /kill -(\w+) \$MAINPID/.exec(one('ExecReload') ?? '')?.[1];
      assert.equal(reloadSignal, 'HUP');
      child.kill(`SIG${reloadSignal}` as NodeJS.Signals);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reload in 20 s:\n${stderr}`)), 20_000);
        const check = (): void => {
          if (!stderr.includes('"msg":"configuration reloaded')) return;
          clearTimeout(timer);
          child.stderr.off('data', check);
          resolve();
        };
        child.stderr.on('data', check);
        check();
      });
      assert.equal(child.exitCode, null);
      const timeoutSeconds = Number.parseInt(one('TimeoutStopSec') ?? '0', 10);
      const started = Date.now();
      child.kill((one('KillSignal') ?? 'SIGTERM') as NodeJS.Signals);
      const kill = setTimeout(() => child.kill('SIGKILL'), timeoutSeconds * 1000);
      const [code, signal] = await exited;
      clearTimeout(kill);
      const took = Date.now() - started;
      assert.deepEqual([code, signal], [0, null], stderr);
      assert.ok(took < (timeoutSeconds * 1000) / 3, `stopped in ${took} ms, TimeoutStopSec=${timeoutSeconds}`);
      assert.match(stderr, /"msg":"stopped"/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
