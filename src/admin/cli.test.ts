import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { Config } from '../config/index.js';
import { ServerError } from '../errors.js';
import { openEmbeddedStores } from '../storage/embedded/index.js';
import { runCli, type CliIo, type StartServer } from './cli.js';
import { parseUserJid } from './commands.js';

class Collect extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    done();
  }
}

interface Outcome {
  code: number;
  out: string;
  err: string;
}

describe('ratatosk CLI', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ratatosk-cli-'));
    env = { RATATOSK_DATA_DIR: dir, RATATOSK_DOMAIN: 'example.org' };
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function cli(argv: string[], options: { stdin?: string; extra?: Partial<CliIo> } = {}): Promise<Outcome> {
    const stdout = new Collect();
    const stderr = new Collect();
    const stdin = Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]);
    const code = await runCli(argv, { stdout, stderr, stdin, env, ...options.extra });
    return { code, out: stdout.text, err: stderr.text };
  }

  function assertNoStack(text: string): void {
    assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
  }

  describe('user add and list', () => {
    it('adds a user and lists it', async () => {
      const add = await cli(['user', 'add', 'alice@example.org', '--password', 'secret']);
      assert.deepEqual(add, { code: 0, out: 'created alice@example.org\n', err: '' });
      const list = await cli(['user', 'list']);
      assert.deepEqual(list, { code: 0, out: 'alice@example.org\n', err: '' });
    });

    it('refuses a duplicate with exit status 1 and no stack trace', async () => {
      assert.equal((await cli(['user', 'add', 'alice@example.org', '--password', 'one'])).code, 0);
      const again = await cli(['user', 'add', 'Alice@Example.org', '--password', 'two']);
      assert.equal(again.code, 1);
      assert.match(again.err, /^ratatosk: user alice@example\.org already exists/);
      assertNoStack(again.err);
      // The first password still holds.
      assert.equal((await cli(['user', 'check', 'alice', '--password', 'one'])).code, 0);
    });

    it('takes a bare localpart as a user of the configured domain, normalised', async () => {
      assert.equal((await cli(['user', 'add', 'Bob', '--password=pw'])).code, 0);
      assert.equal((await cli(['user', 'list'])).out, 'bob@example.org\n');
    });

    it('lists users in order, and only for the served domain', async () => {
      for (const u of ['carol', 'alice', 'bob']) assert.equal((await cli(['user', 'add', u, '--password', 'pw'])).code, 0);
      const expected = 'alice@example.org\nbob@example.org\ncarol@example.org\n';
      assert.equal((await cli(['user', 'list'])).out, expected);
      assert.equal((await cli(['user', 'list', '--domain', 'EXAMPLE.org'])).out, expected);
      const other = await cli(['user', 'list', '--domain', 'other.org']);
      assert.equal(other.code, 1);
      assert.match(other.err, /serves example\.org, not other\.org/);
    });

    it('prints nothing for an empty list', async () => {
      assert.deepEqual(await cli(['user', 'list']), { code: 0, out: '', err: '' });
    });

    it('adds while another opener (the server) has the store open, which sees the account', async () => {
      const server = await openEmbeddedStores(dir);
      try {
        assert.equal((await cli(['user', 'add', 'dave', '--password', 'pw'])).code, 0);
        assert.equal(await server.accounts.exists('dave'), true);
      } finally {
        await server.close();
      }
    });
  });

  describe('user passwd, check and del', () => {
    beforeEach(async () => {
      assert.equal((await cli(['user', 'add', 'alice', '--password', 'old'])).code, 0);
    });

    it('checks a right password with 0 and a wrong one with 1', async () => {
      assert.deepEqual(await cli(['user', 'check', 'alice@example.org', '--password', 'old']), {
        code: 0,
        out: 'password is correct for alice@example.org\n',
        err: '',
      });
      const wrong = await cli(['user', 'check', 'alice@example.org', '--password', 'nope']);
      assert.equal(wrong.code, 1);
      assert.equal(wrong.out, '');
      assert.equal(wrong.err, 'password is wrong for alice@example.org\n');
    });

    it('says so when checking an unknown user', async () => {
      const res = await cli(['user', 'check', 'zed', '--password', 'x']);
      assert.equal(res.code, 1);
      assert.equal(res.err, 'ratatosk: no such user: zed@example.org\n');
    });

    it('changes a password', async () => {
      assert.deepEqual(await cli(['user', 'passwd', 'alice', '--password', 'new']), { code: 0, out: 'password changed for alice@example.org\n', err: '' });
      assert.equal((await cli(['user', 'check', 'alice', '--password', 'new'])).code, 0);
      assert.equal((await cli(['user', 'check', 'alice', '--password', 'old'])).code, 1);
    });

    it('refuses to set the password of an unknown user', async () => {
      const res = await cli(['user', 'passwd', 'zed', '--password', 'x']);
      assert.equal(res.code, 1);
      assert.equal(res.err, 'ratatosk: no such user: zed@example.org\n');
    });

    it('deletes a user, and fails for an unknown one', async () => {
      assert.deepEqual(await cli(['user', 'del', 'alice@example.org']), { code: 0, out: 'deleted alice@example.org\n', err: '' });
      assert.equal((await cli(['user', 'list'])).out, '');
      const again = await cli(['user', 'del', 'alice@example.org']);
      assert.equal(again.code, 1);
      assert.equal(again.err, 'ratatosk: no such user: alice@example.org\n');
    });
  });

  describe('JIDs and passwords', () => {
    it('names the invalid part of a JID', async () => {
      const local = await cli(['user', 'add', 'a b@example.org', '--password', 'pw']);
      assert.equal(local.code, 1);
      assert.match(local.err, /^ratatosk: invalid JID "a b@example\.org": .*localpart/);
      assertNoStack(local.err);

      const domain = await cli(['user', 'add', 'alice@exa<mple.org', '--password', 'pw']);
      assert.equal(domain.code, 1);
      assert.match(domain.err, /domainpart/);

      const resource = await cli(['user', 'add', 'alice@example.org/phone', '--password', 'pw']);
      assert.equal(resource.code, 1);
      assert.match(resource.err, /resourcepart/);

      const emptyLocal = await cli(['user', 'del', '@example.org']);
      assert.equal(emptyLocal.code, 1);
      assert.match(emptyLocal.err, /empty localpart/);
    });

    it('refuses a JID of another domain, naming the domain served', async () => {
      const res = await cli(['user', 'add', 'alice@elsewhere.net', '--password', 'pw']);
      assert.equal(res.code, 1);
      assert.match(res.err, /^ratatosk: "alice@elsewhere\.net" is not on this server: it serves example\.org/);
      assert.equal((await cli(['user', 'list'])).out, '');
    });

    it('refuses an empty password', async () => {
      const res = await cli(['user', 'add', 'alice', '--password', '']);
      assert.equal(res.code, 1);
      assert.equal(res.err, 'ratatosk: the password is empty\n');
      const fromStdin = await cli(['user', 'add', 'alice', '--password-stdin'], { stdin: '\nsecond line\n' });
      assert.equal(fromStdin.code, 1);
      assert.equal(fromStdin.err, 'ratatosk: the password is empty\n');
      const noInput = await cli(['user', 'add', 'alice', '--password-stdin'], { stdin: '' });
      assert.equal(noInput.code, 1);
      assert.equal((await cli(['user', 'list'])).out, '');
    });

    it('reads the password from the first line of stdin, without its line ending', async () => {
      assert.equal((await cli(['user', 'add', 'alice', '--password-stdin'], { stdin: 'sécret pass\nnot this\n' })).code, 0);
      assert.equal((await cli(['user', 'check', 'alice', '--password', 'sécret pass'])).code, 0);
      assert.equal((await cli(['user', 'check', 'alice', '--password-stdin'], { stdin: 'sécret pass\r\n' })).code, 0);
      assert.equal((await cli(['user', 'check', 'alice', '--password-stdin'], { stdin: 'sécret pass' })).code, 0);
      assert.equal((await cli(['user', 'check', 'alice', '--password-stdin'], { stdin: 'sécret pass \n' })).code, 1);
      assert.equal((await cli(['user', 'passwd', 'alice', '--password-stdin'], { stdin: 'other\n' })).code, 0);
      assert.equal((await cli(['user', 'check', 'alice', '--password', 'other'])).code, 0);
    });

    it('parses JIDs for other callers too', () => {
      assert.deepEqual(parseUserJid('Émile', 'example.org'), { username: 'émile', jid: 'émile@example.org' });
      assert.throws(() => parseUserJid('', 'example.org'), (err: unknown) => err instanceof ServerError && err.code === 'INVALID_JID');
      assert.throws(() => parseUserJid('a@b.org', 'example.org'), (err: unknown) => err instanceof ServerError && err.code === 'WRONG_DOMAIN');
    });
  });

  describe('command line parsing', () => {
    it('rejects an unknown option with exit status 2 and the usage', async () => {
      const res = await cli(['user', 'add', 'alice', '--password', 'pw', '--x']);
      assert.equal(res.code, 2);
      assert.match(res.err, /^ratatosk: unknown option "--x" for "user add"\n/);
      assert.match(res.err, /Usage: ratatosk user add <jid> \[--password <password> \| --password-stdin\]/);
      assert.equal((await cli(['user', 'list'])).out, '', 'nothing was created');
    });

    it('rejects missing arguments, extra arguments and missing values with exit status 2', async () => {
      const noJid = await cli(['user', 'add', '--password', 'pw']);
      assert.equal(noJid.code, 2);
      assert.match(noJid.err, /missing <jid> for "user add"/);

      const extra = await cli(['user', 'del', 'alice', 'bob']);
      assert.equal(extra.code, 2);
      assert.match(extra.err, /unexpected argument "bob" for "user del"/);

      const noValue = await cli(['user', 'add', 'alice', '--password']);
      assert.equal(noValue.code, 2);
      assert.match(noValue.err, /option "--password" for "user add" needs a value/);

      const flagValue = await cli(['user', 'add', 'alice', '--password-stdin=yes']);
      assert.equal(flagValue.code, 2);
      assert.match(flagValue.err, /takes no value/);
    });

    it('wants exactly one way of giving the password', async () => {
      const neither = await cli(['user', 'add', 'alice']);
      assert.equal(neither.code, 2);
      assert.match(neither.err, /give --password <password> or --password-stdin/);
      const both = await cli(['user', 'add', 'alice', '--password', 'pw', '--password-stdin'], { stdin: 'pw\n' });
      assert.equal(both.code, 2);
      assert.match(both.err, /not both/);
    });

    it('lists the commands for an unknown command', async () => {
      const res = await cli(['user', 'frobnicate']);
      assert.equal(res.code, 2);
      assert.match(res.err, /^ratatosk: unknown command "user frobnicate"/);
      for (const name of ['serve', 'user add', 'user del', 'user passwd', 'user list', 'user check']) assert.ok(res.err.includes(`  ${name}`), name);

      const none = await cli([]);
      assert.equal(none.code, 2);
      assert.match(none.err, /Commands:/);
    });

    it('prints help on --help, for the tool and for a command, without reading configuration', async () => {
      env = { RATATOSK_DOMAIN: 'not a domain' };
      const general = await cli(['--help']);
      assert.equal(general.code, 0);
      assert.match(general.out, /^Usage: ratatosk \[--config <file>\] <command>/);
      assert.match(general.out, /user check <jid>/);

      const command = await cli(['user', 'passwd', '--help']);
      assert.equal(command.code, 0);
      assert.match(command.out, /^Usage: ratatosk user passwd <jid>/);
      assert.match(command.out, /--password-stdin/);
      assert.equal((await cli(['help', 'user', 'list'])).out.split('\n')[0], 'Usage: ratatosk user list [--domain <domain>]');
    });

    it('accepts an argument that looks like an option after --', async () => {
      const res = await cli(['user', 'add', '--password', 'pw', '--', '-dash']);
      assert.equal(res.code, 0);
      assert.equal((await cli(['user', 'list'])).out, '-dash@example.org\n');
    });
  });

  describe('configuration', () => {
    it('reports a configuration error as one line with exit status 1', async () => {
      env = { ...env, RATATOSK_DOMAIN: 'bad domain!' };
      const res = await cli(['user', 'list']);
      assert.equal(res.code, 1);
      assert.match(res.err, /^ratatosk: .*domain/);
      assertNoStack(res.err);
    });

    it('reports a missing --config file', async () => {
      const res = await cli(['--config', join(dir, 'missing.toml'), 'user', 'list']);
      assert.equal(res.code, 1);
      assert.match(res.err, /^ratatosk: .*missing\.toml/);
    });

    it('names database.url when PostgreSQL cannot be reached', async () => {
      env = { ...env, RATATOSK_DATABASE_URL: 'postgres://ratatosk@127.0.0.1:1/ratatosk' };
      const res = await cli(['user', 'list']);
      assert.equal(res.code, 1);
      assert.match(res.err, /^ratatosk: cannot open PostgreSQL at database\.url \(RATATOSK_DATABASE_URL\)/);
      assertNoStack(res.err);
    });
  });

  describe('serve', () => {
    it('starts the server with the configuration and stops it on SIGTERM', async () => {
      const signals = new EventEmitter();
      const events: string[] = [];
      let seen: Config | undefined;
      const startServer: StartServer = async (config) => {
        seen = config;
        events.push('start');
        setImmediate(() => signals.emit('SIGTERM'));
        return { stop: async () => void events.push('stop') };
      };
      const res = await cli(['serve'], { extra: { signals, startServer } });
      assert.deepEqual(res, { code: 0, out: '', err: '' });
      assert.deepEqual(events, ['start', 'stop']);
      assert.equal(seen?.domain, 'example.org');
      assert.equal(seen?.dataDir, dir);
      assert.equal(signals.listenerCount('SIGINT') + signals.listenerCount('SIGTERM'), 0, 'signal handlers removed');
    });

    it('prints a ServerError from start-up as one line, and an unexpected error with its stack', async () => {
      const signals = new EventEmitter();
      const failing = await cli(['serve'], {
        extra: { signals, startServer: async () => { throw new ServerError('LISTEN_FAILED', 'port 5222 is in use'); } },
      });
      assert.deepEqual(failing, { code: 1, out: '', err: 'ratatosk: port 5222 is in use\n' });

      const crashing = await cli(['serve'], {
        extra: { signals, startServer: async () => { throw new TypeError('boom'); } },
      });
      assert.equal(crashing.code, 1);
      assert.match(crashing.err, /^TypeError: boom\n\s+at /);
    });
  });
});
