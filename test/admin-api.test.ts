// The local admin API of a running server, and the CLI routing through it: discovery through
// <dataDir>/admin.json, the bearer token, loopback only, live sessions, stale files.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import { parseAdminFile, type AdminFile } from '../src/admin/api-protocol.js';
import { startAdminApi } from '../src/admin/http-api.js';
import { ServerError } from '../src/errors.js';
import { runCliCaptured, type CliOutcome } from './support/cli.js';
import { connect, type TestClient } from './support/clients.js';
import { startTestServer, type TestServer } from './support/server.js';
import { mucStores } from '../xeps/0045-muc/store/index.js';

async function adminFile(server: TestServer): Promise<AdminFile> {
  const parsed = parseAdminFile(JSON.parse(await readFile(join(server.config.dataDir, 'admin.json'), 'utf8')));
  assert.ok(parsed, 'admin.json is valid');
  return parsed;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid;
  await once(child, 'exit');
  assert.ok(pid !== undefined);
  return pid;
}

describe('admin API', function () {
  let server: TestServer;
  let endpoint: AdminFile;
  const clients: TestClient[] = [];

  /** The CLI pointed at the server's data directory. Local store access fails (unreachable database), so only the API path works. */
  const cli = (argv: string[], stdin?: string): Promise<CliOutcome> =>
    runCliCaptured(argv, { RATATOSK_DATA_DIR: server.config.dataDir, RATATOSK_DOMAIN: 'localhost', RATATOSK_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }, stdin);

  const call = (body: unknown, headers: Record<string, string> = {}, method = 'POST', path = '/v1/commands'): Promise<Response> =>
    fetch(`${endpoint.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${endpoint.token}`, 'Content-Type': 'application/json', ...headers },
      ...(method === 'POST' ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });

  before(async function () {
    server = await startTestServer();
    endpoint = await adminFile(server);
    await server.addUser('alice', 'wonderland');
  });

  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
  });

  after(async function () {
    await server.stop();
  });

  describe('discovery file and binding', () => {
    it('writes admin.json with mode 0600: url, a 32-byte token, pid and node id', async () => {
      const file = join(server.config.dataDir, 'admin.json');
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.match(endpoint.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(Buffer.from(endpoint.token, 'base64url').length, 32);
      assert.equal(endpoint.pid, process.pid);
      assert.equal(endpoint.nodeId, 'test');
    });

    it('listens on loopback only', async function () {
      const port = Number(new URL(endpoint.url).port);
      // 127.0.0.2 reaches this machine on every Linux (all of 127/8 is loopback) but not a socket bound to 127.0.0.1
      // alone, so the check holds on a machine without any other interface; the machine's own addresses come on top.
      const external = Object.values(networkInterfaces()).flat().filter((i): i is NonNullable<typeof i> => i !== undefined && i.family === 'IPv4' && !i.internal);
      const elsewhere = ['127.0.0.2', ...external.map((i) => i.address)];
      // Positive control: the announced address does answer.
      const reached = net.connect({ host: '127.0.0.1', port });
      await once(reached, 'connect');
      reached.destroy();
      for (const host of elsewhere) {
        const socket = net.connect({ host, port });
        const [err] = (await once(socket, 'error')) as [Error & { code?: string }];
        assert.equal(err.code, 'ECONNREFUSED', `${host}:${port} must not answer`);
      }
    });

    it('refuses to bind to a non-loopback address even when the schema is bypassed', async () => {
      const config = { ...server.config, admin: { host: '0.0.0.0', port: 0 } };
      await assert.rejects(
        startAdminApi({ config, log: server.server.log, stores: server.server.stores, sessions: server.server.sessions, modules: server.server.modules, startedAt: Date.now(), ports: {} }),
        (err: unknown) => err instanceof ServerError && err.code === 'CONFIG_INVALID' && err.message.startsWith('admin.host: expected a loopback address'),
      );
    });

    it('uses a new token at each start and removes the file at stop; -1 disables the API', async () => {
      const other = await startTestServer();
      const file = join(other.config.dataDir, 'admin.json');
      try {
        assert.notEqual((await adminFile(other)).token, endpoint.token);
      } finally {
        await other.server.stop();
      }
      assert.equal(await exists(file), false, 'removed at stop');
      await other.stop();

      const disabled = await startTestServer({ admin: { port: -1 } });
      try {
        assert.equal(await exists(join(disabled.config.dataDir, 'admin.json')), false);
        const status = await runCliCaptured(['status'], { RATATOSK_DATA_DIR: disabled.config.dataDir });
        assert.deepEqual(status, { code: 3, out: 'not running\n', err: '' });
      } finally {
        await disabled.stop();
      }
    });
  });

  describe('requests', () => {
    it('answers 401 without the token, with a wrong one, and with a wrong scheme', async () => {
      const bad: Array<Record<string, string>> = [
        {},
        { Authorization: `Bearer ${'A'.repeat(endpoint.token.length)}` },
        { Authorization: `Bearer ${endpoint.token}x` },
        { Authorization: `bearer ${endpoint.token}` },
        { Authorization: endpoint.token },
      ];
      for (const headers of bad) {
        const res = await fetch(`${endpoint.url}/v1/commands`, { method: 'POST', headers, body: JSON.stringify({ command: 'user list' }) });
        assert.equal(res.status, 401, JSON.stringify(headers));
        assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="ratatosk-admin"');
        const body = (await res.json()) as { error?: { code?: string } };
        assert.equal(body.error?.code, 'UNAUTHORIZED');
      }
      // Nothing else is revealed before authentication either.
      assert.equal((await fetch(`${endpoint.url}/nowhere`)).status, 401);
    });

    it('runs a registry command and answers its result as JSON', async () => {
      const res = await call({ command: 'user add', args: ['carol'], options: { password: 'pw' } });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { exitCode: 0, lines: ['created carol@localhost'], notices: [], data: { jid: 'carol@localhost' } });
      assert.equal(await server.server.stores.accounts.exists('carol'), true);

      const again = await call({ command: 'user add', args: ['carol'], options: { password: 'pw' } });
      assert.equal(again.status, 200);
      assert.deepEqual(await again.json(), { exitCode: 1, lines: [], notices: [], error: { code: 'USER_EXISTS', message: 'user carol@localhost already exists (use "user passwd" to change the password)' } });

      const stdin = await call({ command: 'user check', args: ['carol'], options: { 'password-stdin': true }, stdin: 'pw\nignored' });
      assert.equal(((await stdin.json()) as { exitCode: number }).exitCode, 0);
    });

    it('answers 400 for malformed JSON, a bad shape, an unknown command, a malformed call and CLI-only commands', async () => {
      const cases: Array<[unknown, string, RegExp]> = [
        ['{"command": ', 'BAD_REQUEST', /^malformed JSON/],
        [[1, 2], 'BAD_REQUEST', /expected a JSON object/],
        [{ command: 'user list', args: 'alice' }, 'BAD_REQUEST', /"args" must be a list of strings/],
        [{ command: 'user list', options: { domain: 5 } }, 'BAD_REQUEST', /option "domain" must be a string/],
        [{ command: 'user list', extra: 1 }, 'BAD_REQUEST', /unknown field "extra"/],
        [{ command: 'user frobnicate' }, 'UNKNOWN_COMMAND', /^unknown command "user frobnicate"$/],
        [{ command: 'user add', args: ['dave'], options: { password: 'pw', x: true } }, 'USAGE', /^unknown option "--x" for "user add"$/],
        [{ command: 'user del', args: ['a', 'b'] }, 'USAGE', /^unexpected argument "b" for "user del"$/],
        [{ command: 'user add', args: ['dave'], options: { 'password-stdin': true } }, 'USAGE', /only available from the command line/],
        [{ command: 'user add-many', options: {} }, 'CLI_ONLY', /runs in the ratatosk CLI process/],
        [{ command: 'export' }, 'CLI_ONLY', /runs in the ratatosk CLI process/],
      ];
      for (const [body, code, message] of cases) {
        const res = await call(body);
        assert.equal(res.status, 400, JSON.stringify(body));
        const answer = (await res.json()) as { exitCode: number; error: { code: string; message: string } };
        assert.equal(answer.exitCode, 2);
        assert.equal(answer.error.code, code, JSON.stringify(body));
        assert.match(answer.error.message, message);
      }
      assert.equal(await server.server.stores.accounts.exists('dave'), false);
    });

    it('answers 404 elsewhere, 405 for other methods, 413 past 1 MiB', async () => {
      assert.equal((await call({}, {}, 'POST', '/v2/commands')).status, 404);
      const get = await call(undefined, {}, 'GET');
      assert.equal(get.status, 405);
      assert.equal(get.headers.get('allow'), 'POST');
      const big = await call({ command: 'user list', stdin: 'x'.repeat(1024 * 1024) });
      assert.equal(big.status, 413);
    });
  });

  describe('the CLI while the server runs', () => {
    it('sends store commands through the API (local store access would fail here)', async () => {
      const add = await cli(['user', 'add', 'erin', '--password-stdin'], 'secret\n');
      assert.deepEqual(add, { code: 0, out: 'created erin@localhost\n', err: '' });
      assert.equal(await server.server.stores.accounts.exists('erin'), true);
      assert.equal((await cli(['user', 'check', 'erin', '--password', 'secret'])).code, 0);
      const wrong = await cli(['user', 'check', 'erin', '--password', 'nope']);
      assert.deepEqual(wrong, { code: 1, out: '', err: 'password is wrong for erin@localhost\n' });
      const exists = await cli(['user', 'add', 'erin', '--password', 'x']);
      assert.equal(exists.code, 1);
      assert.match(exists.err, /^ratatosk: user erin@localhost already exists/);
      const usage = await cli(['user', 'add', 'erin']);
      assert.equal(usage.code, 2);
      assert.match(usage.err, /give --password <password> or --password-stdin/);
      assert.match(usage.err, /Usage: ratatosk user add <jid>/);
      assert.match((await cli(['user', 'list'])).out, /^alice@localhost\n(.*\n)*erin@localhost\n/);
    });

    it('destroys a stored room through the server', async () => {
      await server.server.stores.module('muc', mucStores).save({ jid: 'den@conference.localhost', config: {}, createdAt: Date.now() });
      assert.equal((await cli(['room', 'list'])).out, 'den@conference.localhost\n');
      assert.deepEqual(await cli(['room', 'destroy', 'den@conference.localhost', '--reason', 'done']), { code: 0, out: 'destroyed den@conference.localhost\n', err: '' });
      assert.equal(await server.server.stores.module('muc', mucStores).get('den@conference.localhost'), undefined);
    });

    it('reports status: node, version, sessions by transport, uptime, store and ports', async () => {
      const res = await cli(['status']);
      assert.equal(res.code, 0, res.err);
      const lines = res.out.trim().split('\n');
      const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
      assert.equal(lines[0], 'running: node test, domain localhost');
      assert.equal(lines[1], `version: ${pkg.version}`);
      assert.match(lines[2] ?? '', /^uptime: \d+s \(since \d{4}-\d\d-\d\dT/);
      assert.equal(lines[3], 'sessions: 0 (tcp 0, websocket 0, bosh 0)');
      assert.equal(lines[4], 'store: embedded');
      assert.equal(lines[5], `ports: c2s ${server.ports.c2s}, c2sTls ${server.ports.c2sTls}, http ${server.ports.http}, admin ${new URL(endpoint.url).port}`);
      assert.match(lines[6] ?? '', /^modules: .*disco/);
    });

    it('lists live sessions, and kicks one with a policy-violation the client sees', async () => {
      const tcp = await connect(server, { transport: 'tcp', username: 'alice', password: 'wonderland', resource: 'laptop' });
      clients.push(tcp);
      const ws = await connect(server, { transport: 'websocket', username: 'alice', password: 'wonderland', resource: 'phone' });
      clients.push(ws);
      await ws.xmpp.send(xml('presence', {}, xml('show', {}, 'away'), xml('priority', {}, '5')));
      // The presence is handled once the server has answered something sent after it.
      await ws.xmpp.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));

      const list = await cli(['session', 'list']);
      assert.equal(list.code, 0, list.err);
      const rows = list.out.trim().split('\n').map((l) => l.split('\t'));
      assert.equal(rows.length, 2);
      const [laptop, phone] = rows;
      assert.deepEqual([laptop?.[0], laptop?.[1], laptop?.[2], laptop?.[4], laptop?.[5]], ['alice@localhost/laptop', 'tcp', '127.0.0.1', 'unavailable', '0']);
      assert.deepEqual([phone?.[0], phone?.[1], phone?.[4], phone?.[5]], ['alice@localhost/phone', 'websocket', 'away', '5']);
      assert.ok(Math.abs(Date.parse(laptop?.[3] ?? '') - Date.now()) < 60_000, 'since is a recent ISO time');
      assert.equal((await cli(['session', 'list', '--user', 'bob'])).out, '');
      assert.equal((await cli(['session', 'list', '--user', 'Alice@localhost'])).out, list.out);
      assert.match((await cli(['status'])).out, /sessions: 2 \(tcp 1, websocket 1, bosh 0\)/);

      const streamError = new Promise<{ condition?: string; text?: string }>((resolve) => {
        tcp.xmpp.on('error', (err: { condition?: string; text?: string }) => resolve(err));
      });
      const kicked = await cli(['session', 'kick', 'alice@localhost/laptop', '--reason', 'maintenance window']);
      assert.deepEqual(kicked, { code: 0, out: 'kicked alice@localhost/laptop\n', err: '' });
      const error = await streamError;
      assert.equal(error.condition, 'policy-violation');
      assert.equal(error.text, 'maintenance window');
      for (let i = 0; i < 50 && server.server.sessions.size > 1; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal((await cli(['session', 'list'])).out.split('\t')[0], 'alice@localhost/phone');

      const unknown = await cli(['session', 'kick', 'alice@localhost/laptop']);
      assert.deepEqual(unknown, { code: 1, out: '', err: 'ratatosk: no session alice@localhost/laptop on this server\n' });
      const bare = await cli(['session', 'kick', 'alice@localhost']);
      assert.equal(bare.code, 1);
      assert.match(bare.err, /is not a full JID/);
      const elsewhere = await cli(['session', 'kick', 'alice@elsewhere.org/x']);
      assert.match(elsewhere.err, /not on this server/);
    });
  });

  describe('stale admin.json', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ratatosk-stale-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    const writeStale = async (pid: number, port: number): Promise<string> => {
      const file = join(dir, 'admin.json');
      await writeFile(file, JSON.stringify({ url: `http://127.0.0.1:${port}`, token: 'x'.repeat(43), pid, nodeId: 'gone' }), { mode: 0o600 });
      return file;
    };

    it('removes the file of a process that is gone and runs the command locally', async () => {
      const file = await writeStale(await deadPid(), await closedPort());
      const res = await runCliCaptured(['user', 'add', 'frank', '--password', 'pw'], { RATATOSK_DATA_DIR: dir });
      assert.equal(res.code, 0, res.err);
      assert.equal(res.out, 'created frank@localhost\n');
      assert.match(res.err, /^ratatosk: removed stale .*admin\.json: server process \d+ is gone\n$/);
      assert.equal(await exists(file), false);
    });

    it('removes the file when nothing answers at its URL; status then says not running', async () => {
      const file = await writeStale(process.pid, await closedPort());
      const res = await runCliCaptured(['status'], { RATATOSK_DATA_DIR: dir });
      assert.equal(res.code, 3);
      assert.equal(res.out, 'not running\n');
      assert.match(res.err, /removed stale .*admin\.json: nothing answers at http:\/\/127\.0\.0\.1:\d+/);
      assert.equal(await exists(file), false);
      const sessions = await runCliCaptured(['session', 'list'], { RATATOSK_DATA_DIR: dir });
      assert.equal(sessions.code, 1);
      assert.match(sessions.err, /^ratatosk: no running server found for data dir /);
    });

    it('removes an unreadable file', async () => {
      const file = join(dir, 'admin.json');
      await writeFile(file, '{"url": 5}');
      const res = await runCliCaptured(['user', 'list'], { RATATOSK_DATA_DIR: dir });
      assert.equal(res.code, 0);
      assert.match(res.err, /removed .*admin\.json: it is not a valid admin file/);
      assert.equal(await exists(file), false);
    });
  });
});
