// `ratatosk export` and `import` move the archives (preferences and every message, one record a line) from
// the embedded store to PostgreSQL and back, line for line; a second import leaves them as they are; a bad
// record is reported by line and nothing is imported.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config/types.js';
import { MODULE_STORES } from '../../src/main.js';
import { fakeCredentials } from '../../src/storage/contract/accounts.contract.js';
import { openStores } from '../../src/storage/index.js';
import { createTestSchema, requirePostgres, TEST_DATABASE_URL } from '../../src/storage/postgres/test-fixture.js';
import type { Stores } from '../../src/storage/types.js';
import { runCliCaptured } from '../../test/support/cli.js';
import { archiveIdAt } from './ids.js';
import { archiveStores } from './store/index.js';

const ROOM = 'lounge@conference.example.org';

async function everything(stores: Stores): Promise<unknown> {
  const store = stores.module('mam', archiveStores);
  return { prefs: await store.allPrefs(), messages: await store.scan(undefined, 10_000) };
}

describe('export and import of the message archives', function () {
  let dir: string;
  let schema: { schema: string; drop(): Promise<void> };
  let url: string;

  before(async function () {
    await requirePostgres(this);
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ratatosk-mam-transfer-'));
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
  const open = (which: 'embedded' | 'pg'): Promise<Stores> =>
    openStores({ dataDir: join(dir, which), database: which === 'pg' ? { url } : {} } as Partial<Config> as Config, { modules: MODULE_STORES });
  const dataOf = async (which: 'embedded' | 'pg'): Promise<unknown> => {
    const stores = await open(which);
    try {
      return await everything(stores);
    } finally {
      await stores.close();
    }
  };

  it('moves preferences and messages of accounts and rooms to PostgreSQL and back, line for line', async () => {
    const stores = await open('embedded');
    try {
      for (const user of ['alice', 'bob']) await stores.accounts.create(user, fakeCredentials(user));
      const store = stores.module('mam', archiveStores);
      const t = Date.UTC(2026, 5, 1);
      await store.append([
        { owner: 'alice', id: archiveIdAt(t, 0), with: 'bob@example.org', peer: 'bob@example.org/pc', timestamp: t, stanza: '<message xmlns="jabber:client" to="bob@example.org/pc" type="chat"><body>hi &amp; ü</body></message>' },
        { owner: 'alice', id: archiveIdAt(t + 1, 1), with: 'bob@example.org', peer: 'bob@example.org/pc', timestamp: t + 1, stanza: '<message xmlns="jabber:client" from="bob@example.org/pc" type="chat"><body>hello</body></message>' },
        { owner: ROOM, id: archiveIdAt(t + 2, 2), with: ROOM, peer: `${ROOM}/Al`, timestamp: t + 2, stanza: `<message xmlns="jabber:client" from="${ROOM}/Al" type="groupchat"><body>in the room</body></message>` },
      ]);
      await store.setPrefs('bob', { default: 'roster', always: ['carol@example.org'], never: ['spam@example.net'] });
    } finally {
      await stores.close();
    }
    const original = await dataOf('embedded');
    // Positive control of the comparisons below: the data is there, not two empty stores compared.
    assert.match(JSON.stringify(original), /"roster"[\s\S]*hello[\s\S]*in the room/);

    const file = join(dir, 'export.jsonl');
    const exported = await runCliCaptured(['export', '--output', file], embeddedEnv());
    assert.equal(exported.code, 0, exported.err);
    assert.match(exported.out, /mam 4/);
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    assert.equal(lines.filter((l) => l.startsWith('{"module":"mam"')).length, 4);

    const imported = await runCliCaptured(['import', '--input', file], postgresEnv());
    assert.equal(imported.code, 0, imported.err);
    assert.match(imported.out, /mam 4/);
    assert.deepEqual(await dataOf('pg'), original);

    const back = await runCliCaptured(['export'], postgresEnv());
    assert.equal(back.code, 0, back.err);
    assert.deepEqual(back.out.trim().split('\n'), lines);

    const again = await runCliCaptured(['import', '--input', file], postgresEnv());
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /4 module records existed and were left as they are/);
    assert.deepEqual(await dataOf('pg'), original);
  });

  it('reports a bad archive record by line and imports nothing', async () => {
    const good = JSON.stringify({ username: 'carol', credentials: fakeCredentials('carol'), createdAt: 1, roster: [] });
    const badStanza = JSON.stringify({ module: 'mam', record: { kind: 'message', owner: 'carol', id: archiveIdAt(1, 0), with: 'a@b', peer: 'a@b', timestamp: 1, stanza: '<message><body>' } });
    const badId = JSON.stringify({ module: 'mam', record: { kind: 'message', owner: 'carol', id: 'x', with: 'a@b', peer: 'a@b', timestamp: 1, stanza: '<message/>' } });
    const file = join(dir, 'bad.jsonl');
    await writeFile(file, [good, badStanza, badId].join('\n'));
    const result = await runCliCaptured(['import', '--input', file], postgresEnv());
    assert.notEqual(result.code, 0);
    assert.match(result.err, /line 2[\s\S]*stanza: not well-formed XML/);
    assert.match(result.err, /line 3[\s\S]*id: expected an archive id/);
    const stores = await open('pg');
    try {
      assert.equal(await stores.accounts.exists('carol'), false, 'nothing imported');
    } finally {
      await stores.close();
    }
  });
});
