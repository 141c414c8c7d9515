// .ci/check-lockfile.mjs: CI installs with `npm ci`, which needs a lock file that `npm install`
// would leave as it is. The check passes on the repository and fails, naming the package, when
// package.json gains or changes a dependency without the lock file following (in a temporary copy).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHECK = join(ROOT, '.ci', 'check-lockfile.mjs');

interface Outcome {
  code: number;
  out: string;
  err: string;
}

function check(dir: string): Promise<Outcome> {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_prefer_offline: 'true' };
  // `npm run test:file` sets npm_* variables of this repository; the check must see only the copy's files.
  for (const key of Object.keys(env)) if (/^npm_(package|lifecycle|config_local_prefix)/i.test(key)) delete env[key];
  return new Promise((resolve) => {
    execFile(process.execPath, [CHECK, dir], { env }, (err, out, errText) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out, err: errText }));
  });
}

const sha = async (path: string): Promise<string> => createHash('sha256').update(await readFile(path)).digest('hex');

describe('lock file check (.ci/check-lockfile.mjs)', function () {
  this.timeout(120_000);
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ratatosk-lockfile-'));
    await copyFile(join(ROOT, 'package.json'), join(dir, 'package.json'));
    await copyFile(join(ROOT, 'package-lock.json'), join(dir, 'package-lock.json'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function editPackage(edit: (pkg: { dependencies: Record<string, string> }) => void): Promise<void> {
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    edit(pkg);
    await writeFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  }

  it('passes on the repository as it is, and leaves its lock file alone', async () => {
    const before = await sha(join(ROOT, 'package-lock.json'));
    const outcome = await check(ROOT);
    assert.equal(outcome.code, 0, outcome.err);
    assert.match(outcome.out, /in sync/);
    assert.equal(await sha(join(ROOT, 'package-lock.json')), before);
  });

  it('fails naming the package when a dependency is added to package.json without updating the lock', async () => {
    const before = await sha(join(dir, 'package-lock.json'));
    // msgpackr is in the lock file already (lmdb needs it), so this needs no registry: only package.json changes.
    await editPackage((pkg) => (pkg.dependencies.msgpackr = '^1.11.0'));
    const outcome = await check(dir);
    assert.equal(outcome.code, 1, outcome.out);
    assert.match(outcome.err, /out of sync/);
    assert.match(outcome.err, /~ msgpackr: dependencies in package\.json says \^1\.11\.0, the lock file \(absent\)/);
    assert.equal(await sha(join(dir, 'package-lock.json')), before, 'the checked lock file is not rewritten');
  });

  it('fails naming the package when a dependency\'s range leaves the locked version behind', async () => {
    await editPackage((pkg) => (pkg.dependencies.ws = '^7.5.0'));
    const outcome = await check(dir);
    assert.equal(outcome.code, 1, outcome.out);
    assert.match(outcome.err, /~ ws: dependencies in package\.json says \^7\.5\.0, the lock file \^8/);
    assert.match(outcome.err, /~ ws: version "8\.[^"]+" -> "7\./);
  });

  it('fails when the lock file is missing', async () => {
    await rm(join(dir, 'package-lock.json'));
    const outcome = await check(dir);
    assert.equal(outcome.code, 1);
    assert.match(outcome.err, /package-lock\.json is missing/);
  });
});
