import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliCaptured, type CliOutcome } from '../../test/support/cli.js';
import { openEmbeddedStores } from '../storage/embedded/index.js';
import { openPostgresStores } from '../storage/postgres/index.js';
import { createTestSchema, requirePostgres, TEST_DATABASE_URL } from '../storage/postgres/test-fixture.js';
import type { Stores } from '../storage/types.js';
import { contactOffsets } from './add-many.js';
import { parseImportLine } from './transfer.js';

/** A PostgreSQL URL whose connections use `schema`, as an operator could write it. */
function urlWithSchema(schema: string): string {
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

async function symmetricRosters(stores: Stores, prefix: string, domain: string, count: number, rosterSize: number): Promise<void> {
  for (let i = 1; i <= count; i++) {
    const roster = await stores.roster.get(`${prefix}${i}`);
    assert.equal(roster.items.length, rosterSize, `${prefix}${i} has ${rosterSize} contacts`);
    for (const item of roster.items) {
      assert.equal(item.subscription, 'both');
      assert.equal(item.ask, false);
      assert.notEqual(item.jid, `${prefix}${i}@${domain}`, 'not their own contact');
      const contact = item.jid.split('@')[0] ?? '';
      const back = await stores.roster.getItem(contact, `${prefix}${i}@${domain}`);
      assert.equal(back?.subscription, 'both', `${contact} has ${prefix}${i} back`);
    }
  }
}

describe('admin commands', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ratatosk-admin-'));
    env = { RATATOSK_DATA_DIR: dir, RATATOSK_DOMAIN: 'example.org' };
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cli = (argv: string[], stdin?: string): Promise<CliOutcome> => runCliCaptured(argv, env, stdin);

  async function withStores<T>(work: (stores: Stores) => Promise<T>): Promise<T> {
    const stores = await openEmbeddedStores(dir);
    try {
      return await work(stores);
    } finally {
      await stores.close();
    }
  }

  describe('user add-many', () => {
    it('pairs every user with the ±k/2 ring neighbours, and the opposite one for odd k', () => {
      assert.deepEqual(contactOffsets(50, 6), [1, -1, 2, -2, 3, -3]);
      assert.deepEqual(contactOffsets(10, 3), [1, -1, 5]);
      assert.deepEqual(contactOffsets(5, 0), []);
      for (const [n, k] of [[7, 6], [8, 7], [19, 18], [100, 18]] as const) {
        const offsets = contactOffsets(n, k);
        for (let i = 0; i < n; i++) {
          const contacts = new Set(offsets.map((o) => (((i + o) % n) + n) % n));
          assert.equal(contacts.size, k, `n=${n} k=${k}: ${k} distinct contacts`);
          assert.ok(!contacts.has(i));
          for (const c of contacts) assert.ok(offsets.some((o) => (((c + o) % n) + n) % n === i), `n=${n} k=${k}: ${c} has ${i} back`);
        }
      }
      assert.throws(() => contactOffsets(5, 5), RangeError);
      assert.throws(() => contactOffsets(9, 3), RangeError);
    });

    it('creates 50 users with symmetric rosters of 6, all with subscription both, and skips them on a rerun', async () => {
      const res = await cli(['user', 'add-many', '--prefix', 'load', '--count', '50', '--domain', 'example.org', '--password', 'pw', '--roster-size', '6']);
      assert.equal(res.code, 0, res.err);
      assert.match(res.out, /^created 50 users \(0 existed and were skipped\) with 6 contacts each in \d+\.\d s\n$/);
      assert.match(res.err, /^user add-many: 50 users load1\.\.load50@example\.org, 6 contacts each, own salts/);
      await withStores(async (stores) => {
        assert.equal(await stores.accounts.count(), 50);
        await symmetricRosters(stores, 'load', 'example.org', 50, 6);
        const [a, b] = await Promise.all([stores.accounts.get('load1'), stores.accounts.get('load2')]);
        assert.notEqual(a?.credentials.sha256?.salt, b?.credentials.sha256?.salt, 'own salts by default');
        assert.equal(a?.credentials.sha256?.iterations, 4096);
      });
      assert.equal((await cli(['user', 'check', 'load37', '--password', 'pw'])).code, 0);

      const again = await cli(['user', 'add-many', '--prefix', 'load', '--count', '50', '--domain', 'example.org', '--password', 'other', '--roster-size', '6']);
      assert.equal(again.code, 0);
      assert.match(again.out, /^created 0 users \(50 existed and were skipped\)/);
      assert.equal((await cli(['user', 'check', 'load37', '--password', 'pw'])).code, 0, 'existing users untouched');
    });

    it('shares one credential set with --same-salt, and starts where --start says', async () => {
      const res = await cli(['user', 'add-many', '--prefix', 'Bench', '--count', '10', '--start', '100', '--domain', 'EXAMPLE.org', '--password', 'pw', '--roster-size', '3', '--same-salt']);
      assert.equal(res.code, 0, res.err);
      assert.match(res.err, /one shared credential set \(--same-salt\)/);
      const list = await cli(['user', 'list']);
      assert.deepEqual(list.out.trim().split('\n'), Array.from({ length: 10 }, (_, i) => `bench${100 + i}@example.org`).sort());
      await withStores(async (stores) => {
        const [a, b] = await Promise.all([stores.accounts.get('bench100'), stores.accounts.get('bench109')]);
        assert.deepEqual(a?.credentials, b?.credentials);
        const roster = await stores.roster.get('bench100');
        assert.deepEqual(roster.items.map((i) => i.jid).sort(), ['bench101@example.org', 'bench105@example.org', 'bench109@example.org']);
      });
      assert.equal((await cli(['user', 'check', 'bench104', '--password', 'pw'])).code, 0);
    });

    it('counts right across batches written in parallel', async () => {
      const res = await cli(['user', 'add-many', '--prefix', 'p', '--count', '12001', '--domain', 'example.org', '--password', 'pw', '--roster-size', '2', '--same-salt']);
      assert.equal(res.code, 0, res.err);
      assert.match(res.out, /^created 12001 users \(0 existed and were skipped\) with 2 contacts each/);
      await withStores(async (stores) => {
        assert.equal(await stores.accounts.count(), 12001);
        assert.deepEqual((await stores.roster.get('p12001')).items.map((i) => i.jid).sort(), ['p12000@example.org', 'p1@example.org']);
      });
      const half = await cli(['user', 'add-many', '--prefix', 'p', '--count', '12000', '--start', '6002', '--domain', 'example.org', '--password', 'pw', '--same-salt']);
      assert.match(half.out, /^created 6000 users \(6000 existed and were skipped\)/);
    });

    it('names what is wrong with a call', async () => {
      const base = ['user', 'add-many', '--prefix', 'u', '--count', '10', '--domain', 'example.org', '--password', 'pw'];
      const cases: Array<[string[], number, RegExp]> = [
        [[...base.slice(0, 6), '--domain', 'other.org', '--password', 'pw'], 1, /--domain other\.org is not the domain this server serves: example\.org/],
        [base.slice(0, 8), 2, /missing required option "--password" for "user add-many"/],
        [[...base.slice(0, 4), '--count', 'ten', ...base.slice(6)], 2, /option "--count" for "user add-many" must be a whole number from 1 to 10000000, got "ten"/],
        [[...base.slice(0, 4), '--count', '0', ...base.slice(6)], 2, /"--count".*got "0"/],
        [[...base, '--roster-size', '10'], 2, /"--roster-size" for "user add-many" must be below --count \(10\)/],
        [[...base.slice(0, 4), '--count', '9', ...base.slice(6), '--roster-size', '3'], 2, /an odd --roster-size \(3\) needs an even --count, got 9/],
        [[...base, '--same-salt=yes'], 2, /option "--same-salt" for "user add-many" takes no value/],
        [[...base, '--salt'], 2, /unknown option "--salt" for "user add-many"/],
        [[...base.slice(0, 8), '--password', ''], 1, /^ratatosk: the password is empty\n$/],
        [['user', 'add-many', '--prefix', 'a b', ...base.slice(4)], 1, /--prefix "a b" cannot start a JID localpart: .*forbidden character/],
        [['user', 'add-many', '--prefix', '', ...base.slice(4)], 2, /"--prefix" for "user add-many" must not be empty/],
      ];
      for (const [argv, code, message] of cases) {
        const res = await cli(argv);
        assert.equal(res.code, code, `${argv.join(' ')}: ${res.err}`);
        assert.match(res.err, message);
        assert.doesNotMatch(res.err, /\n\s+at /, 'no stack trace');
      }
      assert.equal((await cli(['user', 'list'])).out, '', 'nothing was created');
    });

    it('has help that explains --same-salt', async () => {
      const help = await cli(['user', 'add-many', '--help']);
      assert.equal(help.code, 0);
      assert.match(help.out, /^Usage: ratatosk user add-many --prefix <prefix> --count <n> --domain <domain> --password <password> \[--roster-size <k>\] \[--start <s>\] \[--same-salt\]/);
      assert.match(help.out, /identical salts/);
    });
  });

  describe('without a running server', () => {
    it('status says "not running" with exit status 3', async () => {
      assert.deepEqual(await cli(['status']), { code: 3, out: 'not running\n', err: '' });
    });

    it('session list and kick fail naming the data directory', async () => {
      for (const argv of [['session', 'list'], ['session', 'kick', 'a@example.org/r', '--reason', 'bye']]) {
        const res = await cli(argv);
        assert.equal(res.code, 1);
        assert.equal(res.err.split(' (')[0], `ratatosk: no running server found for data dir ${dir}`);
      }
    });

    it('session commands check their arguments first', async () => {
      const res = await cli(['session', 'kick']);
      assert.equal(res.code, 2);
      assert.match(res.err, /missing <full-jid> for "session kick"/);
      assert.match(res.err, /policy-violation/, 'help names the stream error');
      assert.equal((await cli(['session', 'list', '--all'])).code, 2);
    });
  });

  describe('migrate', () => {
    it('has nothing to do on the embedded store', async () => {
      const res = await cli(['migrate']);
      assert.equal(res.code, 0);
      assert.match(res.out, /^nothing to migrate: the embedded store has no schema/);
    });

    it('fails naming database.url when PostgreSQL does not answer', async () => {
      env = { ...env, RATATOSK_DATABASE_URL: 'postgres://ratatosk@127.0.0.1:1/ratatosk' };
      const res = await cli(['migrate']);
      assert.equal(res.code, 1);
      assert.match(res.err, /^ratatosk: cannot migrate PostgreSQL at database\.url \(RATATOSK_DATABASE_URL\)/);
    });

    describe('on PostgreSQL', () => {
      let schema: { schema: string; drop(): Promise<void> };
      before(async function () {
        await requirePostgres(this);
      });
      beforeEach(async () => {
        schema = await createTestSchema();
      });
      afterEach(async () => {
        await schema.drop();
      });

      it('applies every migration once and prints their names and the version', async () => {
        env = { ...env, RATATOSK_DATABASE_URL: urlWithSchema(schema.schema) };
        const first = await cli(['migrate']);
        assert.equal(first.code, 0, first.err);
        const lines = first.out.trim().split('\n');
        assert.equal(lines[0], 'applied 0001_core_accounts.sql');
        assert.ok(lines.slice(0, -1).every((l) => /^applied \d{4}_[a-z0-9]+_[a-z0-9_]+\.sql$/.test(l)), first.out);
        const version = /^schema is now at version (\d+)$/.exec(lines.at(-1) ?? '');
        assert.ok(version, first.out);
        // The core's and the modules' migrations share one sequence of versions (numbers may skip): the schema
        // ends at the highest one applied.
        const applied = lines.slice(0, -1).map((l) => Number(/^applied (\d{4})_/.exec(l)?.[1]));
        assert.deepEqual(applied, [...applied].sort((a, b) => a - b), 'applied in version order');
        assert.equal(Number(version[1]), Math.max(...applied));
        assert.deepEqual(await cli(['migrate']), { code: 0, out: `schema is up to date at version ${version[1]}\n`, err: '' });
      });
    });
  });

  describe('export and import', () => {
    const GOOD = (username: string): string =>
      JSON.stringify({
        username,
        credentials: {
          sha1: { salt: 'c2FsdA==', iterations: 4096, storedKey: 'a2V5', serverKey: 'a2V5' },
          sha256: { salt: 'c2FsdA==', iterations: 4096, storedKey: 'a2V5', serverKey: 'a2V5' },
        },
        createdAt: 1_700_000_000_000,
        roster: [{ jid: 'friend@example.org', subscription: 'both', ask: false, approved: false, groups: ['Friends'] }],
      });

    it('exports JSON lines to stdout, and to a file of mode 0600', async () => {
      assert.equal((await cli(['user', 'add-many', '--prefix', 'x', '--count', '4', '--domain', 'example.org', '--password', 'pw', '--roster-size', '2', '--same-salt'])).code, 0);
      const res = await cli(['export']);
      assert.equal(res.code, 0);
      assert.equal(res.err, 'exported 4 users with 8 roster items\n');
      const lines = res.out.trim().split('\n');
      assert.equal(lines.length, 4);
      const first: unknown = JSON.parse(lines[0] ?? '');
      assert.ok(first !== null && typeof first === 'object');
      assert.deepEqual(Object.keys(first), ['username', 'credentials', 'createdAt', 'roster']);
      for (const line of lines) assert.equal(typeof parseImportLine(line), 'object', line);

      const file = join(dir, 'users.jsonl');
      const toFile = await cli(['export', '--output', file]);
      assert.deepEqual(toFile, { code: 0, out: `exported 4 users with 8 roster items to ${file}\n`, err: '' });
      assert.equal(await readFile(file, 'utf8'), res.out);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
    });

    it('reports every bad line and imports nothing, unless --skip-errors', async () => {
      const file = join(dir, 'bad.jsonl');
      const lines = [
        GOOD('alice'),
        '{"username": "bob",',
        GOOD('Carol'),
        '',
        GOOD('alice'),
        JSON.stringify({ ...JSON.parse(GOOD('dave')), roster: [{ jid: 'x@example.org/res', subscription: 'both', ask: false, approved: false, groups: [] }] }),
        JSON.stringify({ ...JSON.parse(GOOD('erin')), credentials: { sha1: {} } }),
        JSON.stringify({ ...JSON.parse(GOOD('frank')), password: 'plain' }),
        JSON.stringify({ ...JSON.parse(GOOD('gina')), roster: [{ jid: 'y@example.org', subscription: 'maybe', ask: false, approved: false, groups: [] }] }),
        '[1, 2]',
        GOOD('hank'),
      ];
      await writeFile(file, `${lines.join('\n')}\n`);
      const res = await cli(['import', '--input', file]);
      assert.equal(res.code, 1);
      assert.equal(res.out, '');
      assert.deepEqual(res.err.trim().split('\n'), [
        'line 2: not valid JSON (' + /\((.*)\)/.exec(res.err.split('\n')[0] ?? '')?.[1] + ')',
        'line 3: username: "Carol" is not normalised (expected "carol")',
        'line 5: user alice already appears on line 1',
        'line 6: roster[0].jid: "x@example.org/res" is not a valid bare JID',
        'line 7: credentials: expected SCRAM credentials for one or more of sha1, sha256, sha512, each with salt, iterations, storedKey and serverKey',
        'line 8: unknown field "password"',
        'line 9: roster[0].subscription: expected none, to, from or both',
        'line 10: expected a JSON object with username, credentials, createdAt and roster',
        'nothing imported: 8 bad lines (fix them, or give --skip-errors to import the 2 good ones)',
      ]);
      assert.equal((await cli(['user', 'list'])).out, '');

      const skipping = await cli(['import', '--input', file, '--skip-errors']);
      assert.equal(skipping.code, 0, skipping.err);
      assert.match(skipping.out, /^imported 2 users, 8 bad lines skipped in \d+\.\d s\n$/);
      assert.match(skipping.err, /^line 2: not valid JSON .*\(skipped\)\n/);
      assert.equal((await cli(['user', 'list'])).out, 'alice@example.org\nhank@example.org\n');
      await withStores(async (stores) => {
        assert.deepEqual((await stores.roster.get('alice')).items, [{ jid: 'friend@example.org', subscription: 'both', ask: false, approved: false, groups: ['Friends'] }]);
        assert.equal((await stores.accounts.get('hank'))?.createdAt, 1_700_000_000_000);
      });
    });

    it('reports and skips users that already exist; reads standard input without --input', async () => {
      assert.equal((await cli(['user', 'add', 'alice', '--password', 'mine'])).code, 0);
      const res = await cli(['import'], `${GOOD('alice')}\n${GOOD('bob')}\n`);
      assert.equal(res.code, 0, res.err);
      assert.equal(res.err, 'line 1: user alice already exists; skipped\n');
      assert.match(res.out, /^imported 1 users, 1 existed and were skipped in/);
      assert.equal((await cli(['user', 'check', 'alice', '--password', 'mine'])).code, 0, 'the existing account is untouched');
      const missing = await cli(['import', '--input', join(dir, 'nope.jsonl')]);
      assert.deepEqual(missing, { code: 1, out: '', err: `ratatosk: cannot read ${join(dir, 'nope.jsonl')} (ENOENT)\n` });
    });

    describe('from the embedded store into PostgreSQL', () => {
      let schema: { schema: string; drop(): Promise<void> };
      before(async function () {
        await requirePostgres(this);
      });
      beforeEach(async () => {
        schema = await createTestSchema();
      });
      afterEach(async () => {
        await schema.drop();
      });

      it('moves accounts, credentials and rosters unchanged', async () => {
        assert.equal((await cli(['user', 'add-many', '--prefix', 'm', '--count', '30', '--domain', 'example.org', '--password', 'pw', '--roster-size', '4'])).code, 0);
        assert.equal((await cli(['user', 'add', 'zoë', '--password', 'sésame'])).code, 0);
        await withStores(async (stores) => {
          await stores.roster.setItem('zoë', { jid: 'm1@example.org', name: 'Em "One"', subscription: 'to', ask: false, approved: false, groups: ['Work', 'Load, tests'] });
          await stores.roster.setItem('zoë', { jid: 'remote@elsewhere.net', subscription: 'none', ask: true, approved: true, groups: [] });
        });
        const file = join(dir, 'export.jsonl');
        assert.equal((await cli(['export', '--output', file])).code, 0);

        const embeddedEnv = env;
        env = { ...env, RATATOSK_DATABASE_URL: urlWithSchema(schema.schema) };
        const imported = await cli(['import', '--input', file]);
        assert.equal(imported.code, 0, imported.err);
        assert.match(imported.out, /^imported 31 users in/);
        assert.equal((await cli(['user', 'check', 'zoë', '--password', 'sésame'])).code, 0, 'the password works on PostgreSQL');
        assert.equal((await cli(['user', 'check', 'm17', '--password', 'pw'])).code, 0);

        const pg = await openPostgresStores({ url: TEST_DATABASE_URL, schema: schema.schema, migrate: false, max: 2 });
        try {
          await withStores(async (embedded) => {
            assert.equal(await pg.accounts.count(), 31);
            for (const username of await embedded.accounts.list({ limit: 100 })) {
              assert.deepEqual(await pg.accounts.get(username), await embedded.accounts.get(username), username);
              const sorted = async (s: Stores) => (await s.roster.get(username)).items.sort((a, b) => a.jid.localeCompare(b.jid));
              assert.deepEqual(await sorted(pg), await sorted(embedded), `roster of ${username}`);
            }
          });
        } finally {
          await pg.close();
        }

        // And back: the PostgreSQL export equals the embedded one, line for line once sorted.
        const again = await cli(['export']);
        env = embeddedEnv;
        const original = await readFile(file, 'utf8');
        const normalise = (text: string) => text.trim().split('\n').map((l) => {
          const user = JSON.parse(l) as { roster: Array<{ jid: string }> };
          user.roster.sort((a, b) => a.jid.localeCompare(b.jid));
          return JSON.stringify(user);
        }).sort();
        assert.deepEqual(normalise(again.out), normalise(original));
      });
    });
  });
});
