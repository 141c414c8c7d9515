// The version comes from package.json alone, in the source layout and in the built one, and the
// CLI prints it for --version and -V.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runCliCaptured } from '../test/support/cli.js';
import { readPackageVersion, VERSION } from './version.js';

const packageJson = async (): Promise<{ name: string; version: string }> =>
  JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

describe('version', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ratatosk-version-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is the version in package.json', async () => {
    const pkg = await packageJson();
    assert.equal(pkg.name, 'ratatosk');
    assert.match(VERSION, /^\d+\.\d+\.\d+/);
    assert.equal(VERSION, pkg.version);
  });

  it('is found two levels up, as from dist/src/version.js, past a package.json of another package', async () => {
    await mkdir(join(dir, 'dist', 'src'), { recursive: true });
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'ratatosk', version: '7.8.9' }));
    // dist/package.json of something else must not be taken for ours.
    await writeFile(join(dir, 'dist', 'package.json'), JSON.stringify({ name: 'other', version: '1.0.0' }));
    const base = pathToFileURL(join(dir, 'dist', 'src', 'version.js'));
    assert.equal(readPackageVersion(base), '7.8.9');
  });

  it('fails naming where it looked when there is no package.json, rather than inventing a version', () => {
    const base = pathToFileURL(join(dir, 'a', 'b', 'version.js'));
    assert.throws(() => readPackageVersion(base), (err: unknown) => err instanceof Error && err.message.includes(join(dir, 'a', 'package.json')) && err.message.includes(join(dir, 'package.json')));
  });

  it('fails when our package.json has no version', async () => {
    await mkdir(join(dir, 'src'));
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'ratatosk' }));
    assert.throws(() => readPackageVersion(pathToFileURL(join(dir, 'src', 'version.js'))), /has no "version"/);
  });

  it('ratatosk --version and -V print it and exit 0, before or after a command', async () => {
    const { version } = await packageJson();
    const env = { RATATOSK_DATA_DIR: dir };
    for (const argv of [['--version'], ['-V'], ['user', 'list', '--version']]) {
      assert.deepEqual(await runCliCaptured(argv, env), { code: 0, out: `ratatosk ${version}\n`, err: '' }, argv.join(' '));
    }
    const wrong = await runCliCaptured(['--version=1'], env);
    assert.equal(wrong.code, 2);
    assert.match(wrong.err, /option "--version" takes no value/);
    const help = await runCliCaptured(['--help'], env);
    assert.match(help.out, /--version\s+Print the version/);
  });
});
