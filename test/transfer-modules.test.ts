// `ratatosk export` and `import` move the modules' data too (issue #14): the vCard, private XML, privacy
// lists and block list, last activity on each account's line, the MUC rooms on lines of their own; from
// the embedded store to PostgreSQL and back, line for line; a second import leaves what exists as it is;
// a module's bad data is reported by line and nothing is imported.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../src/config/types.js';
import { MODULE_STORES } from '../src/main.js';
import { fakeCredentials } from '../src/storage/contract/accounts.contract.js';
import { openStores } from '../src/storage/index.js';
import { createTestSchema, requirePostgres, TEST_DATABASE_URL } from '../src/storage/postgres/test-fixture.js';
import type { Stores } from '../src/storage/types.js';
import { lastActivityStores } from '../xeps/0012-last/store/index.js';
import { privacyStores } from '../xeps/0016-privacy/store/index.js';
import { mucStores } from '../xeps/0045-muc/store/index.js';
import { privateXmlStores } from '../xeps/0049-private/store/index.js';
import { vcardStores } from '../xeps/0054-vcard/store/index.js';
import { runCliCaptured } from './support/cli.js';

const BOOKMARKS = 'storage storage:bookmarks';
const ROOM = 'lounge@conference.example.org';

async function writeModuleData(stores: Stores): Promise<void> {
  for (const user of ['alice', 'bob']) assert.equal(await stores.accounts.create(user, fakeCredentials(user)), true);
  await stores.module('vcard', vcardStores).set('alice', '<vCard xmlns="vcard-temp"><FN>Alice</FN></vCard>');
  await stores.module('private', privateXmlStores).set('alice', BOOKMARKS, '<storage xmlns="storage:bookmarks"><conference jid="lounge@conference.example.org"/></storage>');
  const { privacy, blocklist } = stores.module('privacy', privacyStores);
  await privacy.setList('alice', 'quiet', [
    { type: 'jid', value: 'iago@example.org', action: 'deny', order: 1, message: true, iq: false, presenceIn: false, presenceOut: false },
    { action: 'allow', order: 2, message: false, iq: false, presenceIn: false, presenceOut: false },
  ]);
  await privacy.setList('alice', 'empty', []);
  await privacy.setDefault('alice', 'quiet');
  await blocklist.block('alice', ['spam.example.net', 'tybalt@example.org/home']);
  await stores.module('last', lastActivityStores).set('alice', { timestamp: 1_700_000_000_000, status: 'Heading home' });
  const rooms = stores.module('muc', mucStores);
  await rooms.save({ jid: ROOM, config: { 'muc#roomconfig_roomname': 'The Lounge', 'muc#roomconfig_maxusers': 30, 'muc#roomconfig_persistentroom': true, 'muc#roomconfig_roomadmins': ['bob@example.org'] }, subject: 'Welcome', subjectBy: 'alice@example.org', createdAt: 1_700_000_000_123 });
  await rooms.setAffiliation(ROOM, { jid: 'alice@example.org', affiliation: 'owner', nick: 'Al' });
  await rooms.setAffiliation(ROOM, { jid: 'iago@example.org', affiliation: 'outcast', reason: 'trouble' });
}

/** Everything the modules keep, as one comparable value. */
async function moduleData(stores: Stores): Promise<unknown> {
  const { privacy, blocklist } = stores.module('privacy', privacyStores);
  const rooms = stores.module('muc', mucStores);
  const perUser = async (user: string): Promise<unknown> => ({
    vcard: await stores.module('vcard', vcardStores).get(user),
    privateXml: await stores.module('private', privateXmlStores).entries(user),
    privacy: await privacy.names(user),
    lists: await Promise.all((await privacy.names(user)).lists.map((name) => privacy.getList(user, name))),
    blocked: await blocklist.list(user),
    last: await stores.module('last', lastActivityStores).get(user),
  });
  return {
    alice: await perUser('alice'),
    bob: await perUser('bob'),
    rooms: await Promise.all((await rooms.list('conference.example.org')).map(async (room) => ({ room, affiliations: await rooms.affiliations(room.jid) }))),
  };
}

describe('export and import of the modules\' data', function () {
  let dir: string;
  let schema: { schema: string; drop(): Promise<void> };
  let url: string;
  before(async function () {
    await requirePostgres(this);
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ratatosk-transfer-modules-'));
    schema = await createTestSchema();
    const withSchema = new URL(TEST_DATABASE_URL);
    withSchema.searchParams.set('options', `-c search_path=${schema.schema}`);
    url = withSchema.toString();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    await schema.drop();
  });

  const embeddedEnv = (): NodeJS.ProcessEnv => ({ RATATOSK_DATA_DIR: join(dir, 'embedded'), RATATOSK_DOMAIN: 'example.org' });
  const postgresEnv = (): NodeJS.ProcessEnv => ({ RATATOSK_DATA_DIR: join(dir, 'pg'), RATATOSK_DOMAIN: 'example.org', RATATOSK_DATABASE_URL: url });
  const openEmbedded = (): Promise<Stores> => openStores({ dataDir: join(dir, 'embedded'), database: {} } as Partial<Config> as Config, { modules: MODULE_STORES });
  const openPostgres = (): Promise<Stores> => openStores({ dataDir: join(dir, 'pg'), database: { url } } as Partial<Config> as Config, { modules: MODULE_STORES });

  async function dataOf(open: () => Promise<Stores>): Promise<unknown> {
    const stores = await open();
    try {
      return await moduleData(stores);
    } finally {
      await stores.close();
    }
  }

  it('moves every module\'s data from the embedded store to PostgreSQL and back, line for line', async () => {
    const stores = await openEmbedded();
    try {
      await writeModuleData(stores);
    } finally {
      await stores.close();
    }
    const original = await dataOf(openEmbedded);
    const file = join(dir, 'export.jsonl');
    const exported = await runCliCaptured(['export', '--output', file], embeddedEnv());
    assert.deepEqual(exported, { code: 0, out: `exported 2 users with 0 roster items and module data (privacy 1, vcard 1, private 1, last 1, muc 1) to ${file}\n`, err: '' });
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    assert.equal(lines.length, 3);
    const alice = JSON.parse(lines[0] ?? '') as { modules?: Record<string, unknown> };
    assert.deepEqual(Object.keys(alice.modules ?? {}).sort(), ['last', 'privacy', 'private', 'vcard']);
    assert.equal((JSON.parse(lines[1] ?? '') as { modules?: unknown }).modules, undefined, 'bob has no module data: no field');
    assert.equal((JSON.parse(lines[2] ?? '') as { module?: string }).module, 'muc');

    const imported = await runCliCaptured(['import', '--input', file], postgresEnv());
    assert.equal(imported.code, 0, imported.err);
    assert.match(imported.out, /^imported 2 users, module data \(privacy 1, vcard 1, private 1, last 1, muc 1\) in /);
    const moved = await dataOf(openPostgres);
    assert.deepEqual(moved, original);
    // Positive control of the comparison: the data is there, not two empty stores compared.
    assert.match(JSON.stringify(moved), /Heading home[\s\S]*trouble/);

    const back = await runCliCaptured(['export'], postgresEnv());
    assert.equal(back.code, 0, back.err);
    assert.deepEqual(back.out.trim().split('\n'), lines);

    // Again: the accounts and the room exist, and stay as they are.
    const again = await runCliCaptured(['import', '--input', file], postgresEnv());
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /^imported 0 users, 2 existed and were skipped, 1 module records existed and were left as they are in /);
    assert.deepEqual(await dataOf(openPostgres), original);
  });

  it('reports a module\'s bad data by line and imports nothing', async () => {
    const good = JSON.stringify({ username: 'carol', credentials: fakeCredentials('carol'), createdAt: 1, roster: [] });
    const badVcard = JSON.stringify({ username: 'dave', credentials: fakeCredentials('dave'), createdAt: 1, roster: [], modules: { vcard: '<vCard xmlns="vcard-temp">' } });
    const unknownModule = JSON.stringify({ username: 'erin', credentials: fakeCredentials('erin'), createdAt: 1, roster: [], modules: { nosuch: {} } });
    const badRoom = JSON.stringify({ module: 'muc', record: { jid: 'not-a-room', config: {}, createdAt: 1, affiliations: [] } });
    const badList = JSON.stringify({ username: 'frank', credentials: fakeCredentials('frank'), createdAt: 1, roster: [], modules: { privacy: { lists: { q: [{ action: 'maybe', order: 1, message: false, iq: false, presenceIn: false, presenceOut: false }] } } } });
    const file = join(dir, 'bad.jsonl');
    await writeFile(file, [good, badVcard, unknownModule, badRoom, badList].join('\n'));
    const res = await runCliCaptured(['import', '--input', file], postgresEnv());
    assert.equal(res.code, 1);
    assert.match(res.err, /^line 2: modules\.vcard: not well-formed XML/m);
    assert.match(res.err, /^line 3: modules\.nosuch: not a module of this server that imports account data$/m);
    assert.match(res.err, /^line 4: record of module muc: jid: expected a room's bare JID \(room@service\)$/m);
    assert.match(res.err, /^line 5: modules\.privacy: lists\.q\[0\]\.action: expected allow or deny$/m);
    assert.match(res.err, /nothing imported: 4 bad lines \(fix them, or give --skip-errors to import the 1 good ones\)/);
    const stores = await openPostgres();
    try {
      assert.equal(await stores.accounts.exists('carol'), false, 'nothing imported');
    } finally {
      await stores.close();
    }
  });
});
