// The image, built without a Docker engine: docker/Dockerfile's stages are replayed from its own COPY
// and RUN lines on a build context made by .dockerignore's rules (git's files plus uncommitted ones),
// the runtime stage is assembled as its COPY lines say, and the pruned tree serves: its CLI adds a
// user, a real client logs in, /healthz and the image's HEALTHCHECK answer, the STOPSIGNAL stops it
// cleanly. A dependency that only dev installs have (or a dev-only import in dist/) fails the start.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { MODULE_STORES } from '../src/main.js';
import { loadMigrations, migrationsDir } from '../src/storage/postgres/migrate.js';
import { createTestSchema, requirePostgres, TEST_DATABASE_URL } from '../src/storage/postgres/test-fixture.js';
import { connect, type TestClient } from './support/clients.js';
import { copyLikeDocker, dockerignore, execForm, keyValues, parseCopy, parseDockerfile, type Stage } from './support/dockerfile.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCKERFILE = join(ROOT, 'docker', 'Dockerfile');
const run = promisify(execFile);

interface PackageJson {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

const readJson = async <T>(path: string): Promise<T> => JSON.parse(await readFile(path, 'utf8')) as T;

/** The environment of a child without this test run's npm and Ratatosk variables. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|RATATOSK_|NODE_OPTIONS$|NODE_PATH$|INIT_CWD$)/i.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** The build context: git's files (tracked and untracked, not ignored) that exist, filtered by .dockerignore. */
async function makeContext(dir: string): Promise<string[]> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  const ignored = dockerignore(await readFile(join(ROOT, '.dockerignore'), 'utf8'));
  const files = [...new Set(stdout.split('\0'))].filter((f) => f !== '' && !ignored(f) && existsSync(join(ROOT, f)));
  for (const file of files) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await cp(join(ROOT, file), join(dir, file));
  }
  return files;
}

interface Replayed {
  /** Each stage's file system root, standing for its WORKDIR. */
  roots: Map<string, string>;
  /** The final stage: where the image's files are. */
  runtime: { stage: Stage; root: string; env: Record<string, string>; workdir: string };
  /** Seconds per RUN line, for the report. */
  timings: { run: string; seconds: number }[];
}

/**
 * Replays the Dockerfile on a context: every stage's COPY lines, and the RUN lines of every stage but
 * the last (the runtime's RUN acts on / as root, which the test checks instead of running).
 */
async function replay(stages: Stage[], context: string, work: string, buildArgs: Record<string, string>): Promise<Replayed> {
  const roots = new Map<string, string>();
  const workdirs = new Map<string, string>();
  const timings: { run: string; seconds: number }[] = [];
  let last: Replayed['runtime'] | undefined;
  for (const [index, stage] of stages.entries()) {
    const root = join(work, `stage-${stage.name}`);
    await mkdir(root, { recursive: true });
    roots.set(stage.name, root);
    const env: Record<string, string> = {};
    let workdir = '/';
    const inStage = (path: string, stageRoot: string, stageWorkdir: string): string => {
      const absolute = posix.resolve(stageWorkdir, path);
      const rel = posix.relative(stageWorkdir, absolute);
      if (rel.startsWith('..')) throw new Error(`${path} is outside WORKDIR ${stageWorkdir}: the replay maps only the WORKDIR`);
      return join(stageRoot, ...rel.split('/').filter((p) => p !== ''));
    };
    for (const instruction of stage.instructions) {
      switch (instruction.keyword) {
        case 'WORKDIR':
          workdir = posix.resolve(workdir, instruction.args);
          workdirs.set(stage.name, workdir);
          break;
        case 'ARG':
          for (const [key, value] of keyValues(instruction.args)) env[key] = buildArgs[key] ?? value ?? '';
          break;
        case 'ENV':
          for (const [key, value] of keyValues(instruction.args)) env[key] = value ?? '';
          break;
        case 'COPY': {
          const copy = parseCopy(instruction.args);
          const fromRoot = copy.from === undefined ? undefined : roots.get(copy.from);
          if (copy.from !== undefined && fromRoot === undefined) throw new Error(`COPY --from=${copy.from}: no such stage before line ${instruction.line}`);
          const sources = copy.sources.map((s) =>
            fromRoot === undefined ? join(context, ...s.split('/')) : inStage(s, fromRoot, workdirs.get(copy.from ?? '') ?? '/'),
          );
          await copyLikeDocker(sources, inStage(copy.dest, root, workdir), copy.sources.length > 1 || copy.dest.endsWith('/'));
          break;
        }
        case 'RUN': {
          if (index === stages.length - 1) break;
          const started = Date.now();
          await new Promise<void>((resolveRun, reject) => {
            const child = spawn('/bin/sh', ['-c', instruction.args], {
              cwd: inStage('.', root, workdir),
              // npm ci from the local cache, as a CI machine with a warm cache would; otherwise the image's own environment.
              env: cleanEnv({ ...env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' }),
              stdio: ['ignore', 'pipe', 'pipe'],
            });
            let output = '';
            child.stdout.on('data', (c: Buffer) => (output += c.toString()));
            child.stderr.on('data', (c: Buffer) => (output += c.toString()));
            child.on('error', reject);
            child.on('exit', (code) => (code === 0 ? resolveRun() : reject(new Error(`Dockerfile line ${instruction.line} (RUN ${instruction.args}) exited with ${code}:\n${output}`))));
          });
          timings.push({ run: instruction.args, seconds: (Date.now() - started) / 1000 });
          break;
        }
        default:
          break;
      }
    }
    last = { stage, root, env, workdir };
  }
  assert.ok(last, 'the Dockerfile has stages');
  return { roots, runtime: last, timings };
}

/** The value of the last instruction `keyword` of a stage. */
function lastOf(stage: Stage, keyword: string): string | undefined {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1)?.args;
}

interface Served {
  child: ChildProcess;
  ports: { c2s: number; c2sTls: number; http: number };
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the image's ENTRYPOINT + CMD in the runtime tree, on free loopback ports and the given data directory. */
async function serveImage(replayed: Replayed, dataDir: string): Promise<Served> {
  const { stage, root, env } = replayed.runtime;
  const command = [...(execForm(lastOf(stage, 'ENTRYPOINT') ?? '[]') ?? []), ...(execForm(lastOf(stage, 'CMD') ?? '[]') ?? [])];
  assert.equal(command[0], 'node', `ENTRYPOINT + CMD: ${command.join(' ')}`);
  const child = spawn(process.execPath, command.slice(1), {
    cwd: root,
    env: cleanEnv({
      ...env,
      RATATOSK_DATA_DIR: dataDir,
      RATATOSK_C2S_HOST: '127.0.0.1',
      RATATOSK_C2S_PORT: '0',
      RATATOSK_C2S_TLS_PORT: '0',
      RATATOSK_HTTP_HOST: '127.0.0.1',
      RATATOSK_HTTP_PORT: '0',
      RATATOSK_ADMIN_PORT: '0',
      RATATOSK_NODE_ID: 'image',
      RATATOSK_LOG_LEVEL: 'info',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => child.once('exit', (code, signal) => resolveExit({ code, signal })));
  const ready = new Promise<Served['ports']>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "Ratatosk is ready" within 60 s; stderr:\n${stderr}`)), 60_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      for (const line of stderr.split('\n')) {
        if (!line.includes('Ratatosk is ready')) continue;
        const entry = JSON.parse(line) as { c2s: number; c2sTls: number; http: number };
        clearTimeout(timer);
        resolveReady({ c2s: entry.c2s, c2sTls: entry.c2sTls, http: entry.http });
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code ?? signal}) before it was ready; stderr:\n${stderr}`));
    });
  });
  child.stdout.resume();
  return { child, ports: await ready, stderr: () => stderr, exited };
}

/** Runs the pruned tree's CLI, as `docker exec <container> node bin/ratatosk.js ...` would. */
function imageCli(replayed: Replayed, dataDir: string, args: string[], stdin = '', env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolveCli, reject) => {
    const child = spawn(process.execPath, ['bin/ratatosk.js', ...args], {
      cwd: replayed.runtime.root,
      env: cleanEnv({ ...replayed.runtime.env, RATATOSK_DATA_DIR: dataDir, RATATOSK_LOG_LEVEL: 'error', ...env }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolveCli({ code, out, err }));
    child.stdin.end(stdin);
  });
}

/** The Dockerfile's HEALTHCHECK command, run as Docker would inside the container. */
async function healthcheck(replayed: Replayed, httpPort: number): Promise<number | null> {
  const args = lastOf(replayed.runtime.stage, 'HEALTHCHECK') ?? '';
  const cmd = execForm(args.slice(args.indexOf('CMD') + 3).trim());
  assert.ok(cmd && cmd[0] === 'node', `HEALTHCHECK in exec form with node: ${args}`);
  return new Promise((resolveCheck) => {
    const child = spawn(process.execPath, cmd.slice(1), { cwd: replayed.runtime.root, env: cleanEnv({ ...replayed.runtime.env, RATATOSK_HTTP_PORT: String(httpPort) }), stdio: 'ignore' });
    child.on('exit', (code) => resolveCheck(code));
  });
}

/** Top-level names below a directory. */
const entries = async (dir: string): Promise<string[]> => (await readdir(dir)).sort();

/** Makes a context in `work` (after `edit`, if given), replays the Dockerfile on it; the seconds it took. */
async function contextAndReplay(stages: Stage[], work: string, version: string, edit?: (context: string) => Promise<void>): Promise<{ replayed: Replayed; seconds: number }> {
  // Nothing above the replay may lend it packages: Node would find a node_modules in any parent directory.
  for (let dir = work; dir !== dirname(dir); dir = dirname(dir)) assert.ok(!existsSync(join(dirname(dir), 'node_modules')), `${dirname(dir)}/node_modules would leak into the replay`);
  const context = join(work, 'context');
  const started = Date.now();
  await makeContext(context);
  await edit?.(context);
  const replayed = await replay(stages, context, work, { VERSION: version });
  return { replayed, seconds: (Date.now() - started) / 1000 };
}

/** Moves pino from dependencies to devDependencies in a context, and its lock file with it, as a developer would. */
async function pinoDevOnly(context: string): Promise<void> {
  const manifest = await readJson<PackageJson>(join(context, 'package.json'));
  assert.ok(manifest.dependencies.pino, 'pino is a runtime dependency today');
  manifest.devDependencies = { ...manifest.devDependencies, pino: manifest.dependencies.pino };
  delete manifest.dependencies.pino;
  await writeFile(join(context, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  // The lock file follows package.json (else npm ci refuses, which the lock check covers).
  await run('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: context, env: cleanEnv({ npm_config_prefer_offline: 'true' }) });
}

describe('the image (docker/Dockerfile), replayed without Docker', function () {
  this.timeout(600_000);
  let stages: Stage[];
  let pkg: PackageJson;
  // Both replays (the image, and a copy with pino dev-only) start at once: each is mostly one child process
  // (npm ci, tsc) at a time, so together they keep two cores busy. The tests that need one await it.
  let imageWork = '';
  let devOnlyWork = '';
  let imageReplay: Promise<{ replayed: Replayed; seconds: number }>;
  let devOnlyReplay: Promise<{ replayed: Replayed; seconds: number }>;

  before(async () => {
    stages = parseDockerfile(await readFile(DOCKERFILE, 'utf8'));
    pkg = await readJson<PackageJson>(join(ROOT, 'package.json'));
    imageWork = await mkdtemp(join(tmpdir(), 'ratatosk-image-'));
    devOnlyWork = await mkdtemp(join(tmpdir(), 'ratatosk-image-dev-only-'));
    imageReplay = contextAndReplay(stages, imageWork, pkg.version);
    devOnlyReplay = contextAndReplay(stages, devOnlyWork, pkg.version, pinoDevOnly);
    // Awaited by the tests that use them; until then a failure must not count as an unhandled rejection.
    imageReplay.catch(() => undefined);
    devOnlyReplay.catch(() => undefined);
  });

  after(async () => {
    // A replay still running (a test failed before awaiting it) finishes before its folder goes.
    await Promise.allSettled([imageReplay, devOnlyReplay]);
    for (const work of [imageWork, devOnlyWork]) if (work) await rm(work, { recursive: true, force: true });
  });

  it('has a build stage and a runtime stage: non-root user, the data directory as a volume, health check, stop signal, labels', () => {
    assert.deepEqual(stages.map((s) => s.name), ['build', 'runtime']);
    const [build, runtime] = stages as [Stage, Stage];
    assert.match(build.instructions.map((i) => i.args).join('\n'), /npm ci[\s\S]*npm run build[\s\S]*npm prune --omit=dev/);
    assert.ok(runtime.instructions.every((i) => i.keyword !== 'RUN' || !/npm (ci|install)/.test(i.args)), 'the runtime stage installs nothing: it takes the pruned node_modules');
    const user = lastOf(runtime, 'USER');
    assert.ok(user !== undefined && !/^(root|0)(:|$)/.test(user), `USER ${user}`);
    const env = keyValues(runtime.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' '));
    const dataDir = env.get('RATATOSK_DATA_DIR');
    assert.equal(env.get('NODE_ENV'), 'production');
    assert.ok(dataDir, 'ENV RATATOSK_DATA_DIR');
    assert.equal(lastOf(runtime, 'VOLUME'), dataDir);
    // The one RUN of the runtime stage (not replayed: it acts on / as root) makes the volume the user's.
    const runs = runtime.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    assert.deepEqual(runs, [`mkdir -p ${dataDir} && chown ${user}:${user} ${dataDir}`]);
    assert.equal(lastOf(runtime, 'STOPSIGNAL'), 'SIGTERM');
    assert.match(lastOf(runtime, 'HEALTHCHECK') ?? '', /\/healthz/);
    assert.match(lastOf(runtime, 'EXPOSE') ?? '', /^5222 5223 5280$/);
  });

  it('labels the image with the version from the VERSION build argument, which the documented command takes from package.json', async () => {
    const runtime = stages.at(-1) as Stage;
    const labels = keyValues(runtime.instructions.filter((i) => i.keyword === 'LABEL').map((i) => i.args).join(' '));
    assert.equal(labels.get('org.opencontainers.image.version'), '${VERSION}');
    assert.equal(labels.get('org.opencontainers.image.title'), 'Ratatosk');
    assert.equal(labels.get('org.opencontainers.image.licenses'), 'Apache-2.0');
    // The ARG must be declared in the stage that uses it (Docker scopes ARGs per stage).
    const argIndex = runtime.instructions.findIndex((i) => i.keyword === 'ARG' && keyValues(i.args).has('VERSION'));
    const labelIndex = runtime.instructions.findIndex((i) => i.keyword === 'LABEL');
    assert.ok(argIndex !== -1 && argIndex < labelIndex, 'ARG VERSION before LABEL in the runtime stage');
    // The documented build command (in the Dockerfile's header and in the README) derives the value from package.json.
    const text = await readFile(DOCKERFILE, 'utf8');
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    for (const [where, doc] of [['Dockerfile', text], ['README.md', readme]] as const) {
      const command = /docker build -f docker\/Dockerfile --build-arg VERSION="(\$\(.+?\))"\s/.exec(doc);
      assert.ok(command?.[1], `${where} documents docker build --build-arg VERSION="$(...)"`);
      const { stdout } = await run('/bin/sh', ['-c', `printf %s ${command[1]}`], { cwd: ROOT });
      assert.equal(stdout, pkg.version, `${where}: the documented VERSION comes out as package.json's version`);
    }
  });

  it('refuses to build with a VERSION that is not package.json\'s (the build stage checks it)', async () => {
    const build = stages[0] as Stage;
    const check = build.instructions.find((i) => i.keyword === 'RUN' && i.args.includes('$VERSION'));
    assert.ok(check, 'a RUN line of the build stage checks $VERSION');
    const dir = await mkdtemp(join(tmpdir(), 'ratatosk-version-arg-'));
    try {
      await cp(join(ROOT, 'package.json'), join(dir, 'package.json'));
      const attempt = (version: string): Promise<number> =>
        new Promise((resolveAttempt) => spawn('/bin/sh', ['-c', check.args], { cwd: dir, env: cleanEnv({ VERSION: version }), stdio: 'ignore' }).on('exit', (c) => resolveAttempt(c ?? -1)));
      assert.equal(await attempt(pkg.version), 0);
      assert.equal(await attempt(''), 0, 'without the argument (docker compose build) the build goes on');
      assert.notEqual(await attempt('9.9.9-not-it'), 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('.dockerignore keeps node_modules, data, dist, .git and test artefacts out, and lets in what the COPY lines take', async () => {
    const ignored = dockerignore(await readFile(join(ROOT, '.dockerignore'), 'utf8'));
    for (const path of ['node_modules/ws/index.js', 'data/tls/key.pem', 'dist/src/main.js', '.git/HEAD', 'test-artifacts/x.log', 'test/c2s.test.ts', 'src/xml/parser.test.ts', 'src/a/node_modules/x.js', 'x.cpuprofile', 'loadtest/run', 'ratatosk.toml', '.env']) {
      assert.equal(ignored(path), true, `${path} stays out of the context`);
    }
    for (const stage of stages) {
      for (const copy of stage.instructions.filter((i) => i.keyword === 'COPY').map((i) => parseCopy(i.args)).filter((c) => c.from === undefined)) {
        for (const source of copy.sources) {
          assert.equal(ignored(source), false, `COPY ${source}: in the context`);
          assert.ok(existsSync(join(ROOT, source)), `COPY ${source}: in the repository`);
        }
      }
    }
    assert.equal(ignored('src/main.ts'), false);
    assert.equal(ignored('xeps/0092-version/index.ts'), false);
  });

  describe('the replayed build and the pruned tree it serves from', function () {
    let replayed: Replayed;
    let dataDir: string;
    let served: Served | undefined;
    let client: TestClient | undefined;
    const streamErrors: string[] = [];

    before(async function () {
      const done = await imageReplay;
      replayed = done.replayed;
      console.log(`      replay: ${done.seconds.toFixed(1)} s (${replayed.timings.map((t) => `${t.run.split(' ').slice(0, 3).join(' ')}: ${t.seconds.toFixed(1)} s`).join('; ')})`);
      dataDir = join(imageWork, 'data');
      await mkdir(dataDir);
    });

    after(async function () {
      await client?.stop();
      if (served && served.child.exitCode === null) served.child.kill('SIGKILL');
    });

    it('holds only the runtime files: dist without tests, production packages, bin, migrations (the core\'s and the modules\'), package.json', async () => {
      const { root } = replayed.runtime;
      assert.deepEqual(await entries(root), ['bin', 'dist', 'migrations', 'node_modules', 'package.json', 'xeps']);
      // xeps/ holds the modules' SQL migrations and nothing else, each where the built module looks for it.
      const shipped = (await readdir(join(root, 'xeps'), { recursive: true })).map(String).filter((f) => f.endsWith('.sql')).sort();
      const sources = MODULE_STORES.flatMap((m) => (m.stores.migrations === undefined ? [] : [m.stores.migrations]));
      const expected = (await Promise.all(sources.map(async (dir) => (await readdir(dir)).filter((f) => f.endsWith('.sql')).map((f) => join(relative(join(ROOT, 'xeps'), dir), f))))).flat().sort();
      assert.ok(expected.includes(join('0045-muc', 'migrations', '0006_muc_rooms.sql')));
      assert.deepEqual(shipped, expected);
      assert.deepEqual((await readdir(join(root, 'xeps'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length, shipped.length, 'only SQL files under xeps/');
      assert.deepEqual(await entries(join(root, 'dist')), ['src', 'xeps']);
      const modules = new Set(await entries(join(root, 'node_modules')));
      for (const dep of Object.keys(pkg.dependencies)) assert.ok(modules.has(dep.split('/')[0] ?? dep), `production dependency ${dep} is there`);
      for (const dev of Object.keys(pkg.devDependencies)) assert.ok(!existsSync(join(root, 'node_modules', dev)), `dev dependency ${dev} is not`);
      const built = (await readdir(join(root, 'dist'), { recursive: true })).map(String);
      assert.ok(built.includes(join('src', 'main.js')));
      assert.ok(!built.some((f) => f.endsWith(`.test.js`)), 'no test files in dist/');
      // The web client's assets, which the server serves from node_modules.
      assert.ok(existsSync(join(root, 'node_modules', 'converse.js', 'dist', 'converse.min.js')));
    });

    it('applies the core\'s and every module\'s migrations from the packaged tree on PostgreSQL (`ratatosk migrate`)', async function () {
      await requirePostgres(this);
      const { schema, drop } = await createTestSchema();
      try {
        const url = new URL(TEST_DATABASE_URL);
        url.searchParams.set('options', `-c search_path=${schema}`);
        const migrated = await imageCli(replayed, dataDir, ['migrate'], '', { RATATOSK_DATABASE_URL: url.toString() });
        assert.equal(migrated.code, 0, migrated.err);
        const applied = migrated.out.split('\n').filter((l) => l.startsWith('applied ')).map((l) => l.slice('applied '.length));
        const all = await loadMigrations([migrationsDir(), ...MODULE_STORES.flatMap((m) => (m.stores.migrations === undefined ? [] : [m.stores.migrations]))]);
        assert.deepEqual(applied, all.map((m) => m.name));
        assert.ok(applied.includes('0006_muc_rooms.sql') && applied.includes('0009_private_xml.sql'), applied.join(', '));
      } finally {
        await drop();
      }
    });

    it('serves: the CLI adds a user, a client logs in over TCP, /healthz and the HEALTHCHECK answer, the version is package.json\'s', async () => {
      served = await serveImage(replayed, dataDir);
      const { ports } = served;
      const added = await imageCli(replayed, dataDir, ['user', 'add', 'alice@localhost', '--password-stdin'], 'wonderland\n');
      assert.equal(added.code, 0, added.err);
      assert.deepEqual(await imageCli(replayed, dataDir, ['--version']), { code: 0, out: `ratatosk ${pkg.version}\n`, err: '' });
      const status = await imageCli(replayed, dataDir, ['status']);
      assert.equal(status.code, 0, status.err);
      assert.match(status.out, new RegExp(`^version: ${pkg.version.replace(/\./g, '\\.')}$`, 'm'));

      client = await connect({ ports, domain: 'localhost' }, { transport: 'tcp', username: 'alice', password: 'wonderland', resource: 'image' });
      client.xmpp.on('element', (element: Element) => {
        if (element.is('error', 'http://etherx.jabber.org/streams')) streamErrors.push(element.children.filter((c): c is Element => typeof c !== 'string').map((c) => c.name).join(','));
      });
      // The image offers SASL2 by default and xmpp.js takes it: Bind2 makes the resource from the client's tag
      // (XEP-0386 §3: "<tag>.<suffix>").
      assert.match(client.jid, /^alice@localhost\/image\.[A-Za-z0-9_-]+$/);
      // XEP-0092 from the built layout (dist/src/version.js reads package.json two levels up).
      const answer = await client.xmpp.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'jabber:iq:version' })));
      assert.equal(answer.getChild('query')?.getChildText('version'), pkg.version);

      const health = await fetch(`http://127.0.0.1:${ports.http}/healthz`);
      assert.equal(health.status, 200);
      const body = (await health.json()) as Record<string, unknown>;
      assert.deepEqual({ ...body, uptimeSeconds: typeof body.uptimeSeconds }, { status: 'ok', node: 'image', sessions: 1, store: 'embedded', uptimeSeconds: 'number' });
      assert.equal(await healthcheck(replayed, ports.http), 0);
    });

    it('stops on the STOPSIGNAL: the client gets system-shutdown, the process exits 0, and the HEALTHCHECK then fails', async function () {
      assert.ok(served && client, 'the server of the previous test runs');
      const signal = lastOf(replayed.runtime.stage, 'STOPSIGNAL') as NodeJS.Signals;
      const started = Date.now();
      served.child.kill(signal);
      const timer = setTimeout(() => served?.child.kill('SIGKILL'), 20_000);
      const exit = await served.exited;
      clearTimeout(timer);
      console.log(`      ${signal} to exit: ${Date.now() - started} ms`);
      assert.deepEqual(exit, { code: 0, signal: null }, served.stderr());
      assert.deepEqual(streamErrors, ['system-shutdown']);
      assert.match(served.stderr(), /"msg":"stopped"/);
      assert.equal(await healthcheck(replayed, served.ports.http), 1, 'positive control of the HEALTHCHECK: nothing answers now');
    });
  });

  it('fails to start when a package dist/ imports is only a dev dependency (pino moved to devDependencies in a copy)', async function () {
    const { replayed: replayedDev } = await devOnlyReplay;
    const manifest = await readJson<PackageJson>(join(devOnlyWork, 'context', 'package.json'));
    assert.ok(manifest.devDependencies.pino && !manifest.dependencies.pino, 'the copy has pino among the dev dependencies only');
    assert.ok(!existsSync(join(replayedDev.runtime.root, 'node_modules', 'pino')), 'the pruned tree has no pino');
    const dataDir = join(devOnlyWork, 'data');
    await mkdir(dataDir);
    await assert.rejects(serveImage(replayedDev, dataDir), /serve exited \(1\) before it was ready[\s\S]*Cannot find package 'pino'/);
  });
});
