// `ratatosk auth locks` and `ratatosk auth unlock` in a child process against a running server
// (through its local admin API): a brute force locks an account, the list shows the lock and the
// guessing addresses, unlocking lets the owner in from a new address, and bad calls are usage errors.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SaslPeer, type Outcome } from './support/sasl-peer.js';
import { runCliProcess, type CliResult } from './support/cli.js';
import { startTestServer, type TestServer } from './support/server.js';


describe('CLI: auth locks and auth unlock against a running server', function () {
  this.timeout(60_000);
  let server: TestServer;
  let configFile: string;
  const peers: SaslPeer[] = [];

  /** Runs `ratatosk <args>` with the server's data directory and domain. */
  const ratatosk = (...args: string[]): Promise<CliResult> => runCliProcess(configFile, server.config.dataDir, args);
  const login = async (address: string, username: string, password: string): Promise<Outcome> => {
    const peer = await SaslPeer.open(server.ports.c2s, address);
    peers.push(peer);
    return peer.plain(username, password);
  };
  const rows = (stdout: string): string[][] => stdout.split('\n').filter(Boolean).map((line) => line.split('\t'));

  before(async function () {
    server = await startTestServer({ c2s: { requireTls: false }, auth: { lockoutFailures: 3, lockoutSeconds: 600 } });
    await server.addUser('zoe', 'zoe-password');
    configFile = join(server.config.dataDir, 'cli-test.toml');
    await writeFile(configFile, '# settings come from RATATOSK_DATA_DIR and RATATOSK_DOMAIN\n');
  });

  afterEach(function () {
    for (const peer of peers.splice(0)) peer.destroy();
  });

  after(async function () {
    await server?.stop();
  });

  it('lists a locked account and the addresses that guessed, and unlocking it lets the owner in', async function () {
    assert.deepEqual((await ratatosk('auth', 'locks')), { code: 0, stdout: '', stderr: '' });
    for (const address of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) assert.equal((await login(address, 'zoe', 'guess')).result, 'not-authorized');
    assert.equal((await login('127.0.0.9', 'zoe', 'zoe-password')).result, 'temporary-auth-failure');

    const listed = await ratatosk('auth', 'locks');
    assert.equal(listed.code, 0, listed.stderr);
    const table = rows(listed.stdout);
    const [first] = table;
    assert.deepEqual(first?.slice(0, 4), ['zoe@localhost', '-', '3', 'locked'], listed.stdout);
    assert.ok(Date.parse(first?.[4] ?? '') > Date.now() + 500_000, `locked until about ten minutes from now: ${first?.[4]}`);
    assert.equal(first?.[5], 'node');
    for (const address of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
      assert.ok(table.some((r) => r[0] === 'zoe@localhost' && r[1] === address && r[2] === '1'), `the pair from ${address} is listed:\n${listed.stdout}`);
      assert.ok(table.some((r) => r[0] === '-' && r[1] === address), `the address ${address} is listed:\n${listed.stdout}`);
    }

    const unlocked = await ratatosk('auth', 'unlock', 'zoe@localhost');
    assert.equal(unlocked.code, 0, unlocked.stderr);
    assert.match(unlocked.stdout, /^cleared 4 entries for zoe@localhost\n$/);
    assert.ok(!rows((await ratatosk('auth', 'locks')).stdout).some((r) => r[0] === 'zoe@localhost'), 'nothing left for zoe');
    assert.equal((await login('127.0.0.9', 'zoe', 'zoe-password')).result, 'success');
  });

  it('clears an address, then everything', async function () {
    assert.equal((await login('127.0.0.5', 'zoe', 'guess')).result, 'not-authorized');
    assert.equal((await login('127.0.0.6', 'ghost', 'guess')).result, 'not-authorized');
    const byAddress = await ratatosk('auth', 'unlock', '--address', '127.0.0.5');
    assert.equal(byAddress.code, 0, byAddress.stderr);
    assert.match(byAddress.stdout, /^cleared 2 entries for 127\.0\.0\.5\n$/);
    const left = rows((await ratatosk('auth', 'locks')).stdout);
    assert.ok(!left.some((r) => r[1] === '127.0.0.5'), `nothing left for 127.0.0.5: ${JSON.stringify(left)}`);
    assert.ok(left.some((r) => r[0] === 'ghost@localhost'), 'an unknown account is counted and listed like any other');
    assert.equal((await ratatosk('auth', 'unlock', '--all')).code, 0);
    assert.deepEqual(await ratatosk('auth', 'locks'), { code: 0, stdout: '', stderr: '' });
  });

  it('answers malformed calls with a usage error naming what is wrong', async function () {
    const none = await ratatosk('auth', 'unlock');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /give exactly one of <jid>, --address <ip> or --all/);
    const two = await ratatosk('auth', 'unlock', 'zoe', '--all');
    assert.equal(two.code, 2);
    const bad = await ratatosk('auth', 'unlock', '--address', 'not-an-ip');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--address.*must be an IP address, got "not-an-ip"/);
    const other = await ratatosk('auth', 'unlock', 'zoe@elsewhere.example');
    assert.equal(other.code, 1);
    assert.match(other.stderr, /not on this server/);
  });
});
