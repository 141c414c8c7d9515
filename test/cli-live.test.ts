// The `ratatosk user …` commands in a child process against the data directory of a running
// server: the server sees accounts the CLI creates, changes and deletes (both open the same LMDB
// environment), and clients log in accordingly.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type TestClient } from './support/clients.js';
import { runCliProcess, type CliResult } from './support/cli.js';
import { startTestServer, type TestServer } from './support/server.js';


// The tests build on each other and run in order: add, list, passwd, del.
describe('CLI against a running server', function () {
  let server: TestServer;
  let configFile: string;
  const clients: TestClient[] = [];

  /** Runs `ratatosk <args>` with the server's data directory and domain. */
  const ratatosk = (...args: string[]): Promise<CliResult> => runCliProcess(configFile, server.config.dataDir, args);

  const login = async (password: string): Promise<TestClient> => {
    const client = await connect(server, { transport: 'websocket', username: 'carol', password, resource: 'cli' });
    clients.push(client);
    return client;
  };

  before(async function () {
    server = await startTestServer();
    // An empty file, so that a ratatosk.toml in the working directory cannot change the test.
    configFile = join(server.config.dataDir, 'cli-test.toml');
    await writeFile(configFile, '# settings come from RATATOSK_DATA_DIR and RATATOSK_DOMAIN\n');
  });

  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
  });

  after(async function () {
    await server?.stop();
  });

  it('user add: the new account can log in over WebSocket at once', async function () {
    const added = await ratatosk('user', 'add', 'carol@localhost', '--password', 'secret');
    assert.deepEqual(added, { code: 0, stdout: 'created carol@localhost\n', stderr: '' });
    const carol = await login('secret');
    assert.equal(carol.jid, 'carol@localhost/cli');
  });

  it('user list: lists the account', async function () {
    const listed = await ratatosk('user', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(listed.stdout.split('\n').filter(Boolean), ['carol@localhost']);
  });

  it('user add of an existing account fails and names the way out', async function () {
    const again = await ratatosk('user', 'add', 'carol@localhost', '--password', 'other');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /user carol@localhost already exists \(use "user passwd"/);
    await login('secret');
  });

  it('user passwd: the new password works and the old one no longer does', async function () {
    const changed = await ratatosk('user', 'passwd', 'carol@localhost', '--password', 'n3w-s3cret');
    assert.deepEqual(changed, { code: 0, stdout: 'password changed for carol@localhost\n', stderr: '' });
    await assert.rejects(connect(server, { transport: 'websocket', username: 'carol', password: 'secret' }), /not-authorized/);
    const carol = await login('n3w-s3cret');
    assert.equal(carol.jid, 'carol@localhost/cli');
  });

  it('user del: the account can no longer log in and is no longer listed', async function () {
    const deleted = await ratatosk('user', 'del', 'carol@localhost');
    assert.deepEqual(deleted, { code: 0, stdout: 'deleted carol@localhost\n', stderr: '' });
    await assert.rejects(connect(server, { transport: 'websocket', username: 'carol', password: 'n3w-s3cret' }), /not-authorized/);
    const listed = await ratatosk('user', 'list');
    assert.deepEqual(listed, { code: 0, stdout: '', stderr: '' });
  });
});
