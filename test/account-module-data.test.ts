// Deleting an account removes what every module's store keeps for it (issue #14): `ratatosk user del`
// in the CLI process, where no module runs, on the embedded store (the modules' stores enrolled in the
// account's delete transaction) and on PostgreSQL (the modules' tables reference users ON DELETE CASCADE).
// A second user's data stays (the positive control), and a new account of the same name starts empty.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../src/config/types.js';
import { MODULE_STORES } from '../src/main.js';
import { openStores } from '../src/storage/index.js';
import { fakeCredentials } from '../src/storage/contract/accounts.contract.js';
import { createTestSchema, requirePostgres, TEST_DATABASE_URL } from '../src/storage/postgres/test-fixture.js';
import type { Stores } from '../src/storage/types.js';
import { lastActivityStores } from '../xeps/0012-last/store/index.js';
import { privacyStores } from '../xeps/0016-privacy/store/index.js';
import { privateXmlStores } from '../xeps/0049-private/store/index.js';
import { vcardStores } from '../xeps/0054-vcard/store/index.js';
import { runCliCaptured } from './support/cli.js';

const BOOKMARKS = 'storage storage:bookmarks';

async function writeEverything(stores: Stores, username: string): Promise<void> {
  assert.equal(await stores.accounts.create(username, fakeCredentials(username)), true);
  await stores.module('vcard', vcardStores).set(username, `<vCard xmlns="vcard-temp"><FN>${username}</FN></vCard>`);
  await stores.module('private', privateXmlStores).set(username, BOOKMARKS, '<storage xmlns="storage:bookmarks"/>');
  const { privacy, blocklist } = stores.module('privacy', privacyStores);
  await privacy.setList(username, 'quiet', [{ action: 'deny', order: 1, message: true, iq: false, presenceIn: false, presenceOut: false }]);
  assert.equal(await privacy.setDefault(username, 'quiet'), true);
  await blocklist.block(username, ['iago@example.org']);
  await stores.module('last', lastActivityStores).set(username, { timestamp: 1_700_000_000_000, status: 'away' });
}

/** What the modules keep for the user, as one comparable value. */
async function everything(stores: Stores, username: string): Promise<unknown> {
  const { privacy, blocklist } = stores.module('privacy', privacyStores);
  return {
    vcard: await stores.module('vcard', vcardStores).get(username),
    privateXml: await stores.module('private', privateXmlStores).get(username, BOOKMARKS),
    privacy: await privacy.names(username),
    blocked: await blocklist.list(username),
    last: await stores.module('last', lastActivityStores).get(username),
  };
}

const NOTHING = { vcard: undefined, privateXml: undefined, privacy: { lists: [] }, blocked: [], last: undefined };

function deletesEverything(env: () => NodeJS.ProcessEnv, config: () => Config): void {
  const open = (): Promise<Stores> => openStores(config(), { modules: MODULE_STORES });

  it('`user del` removes the vCard, private XML, privacy lists, block list and last activity, and only the user\'s', async () => {
    let stores = await open();
    try {
      await writeEverything(stores, 'alice');
      await writeEverything(stores, 'bob');
      assert.notDeepEqual(await everything(stores, 'alice'), NOTHING, 'the data was written');
    } finally {
      await stores.close();
    }
    const deleted = await runCliCaptured(['user', 'del', 'alice@example.org'], env());
    assert.deepEqual(deleted, { code: 0, out: 'deleted alice@example.org\n', err: '' });

    stores = await open();
    try {
      assert.deepEqual(await everything(stores, 'alice'), NOTHING);
      const bob = (await everything(stores, 'bob')) as { vcard?: string; blocked: string[] };
      assert.match(bob.vcard ?? '', /<FN>bob<\/FN>/, 'another user keeps theirs');
      assert.deepEqual(bob.blocked, ['iago@example.org']);
      await stores.accounts.create('alice', fakeCredentials('again'));
      assert.deepEqual(await everything(stores, 'alice'), NOTHING, 'a new account of the same name starts with nothing');
    } finally {
      await stores.close();
    }
  });
}

describe('deleting an account deletes its data in every module\'s store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ratatosk-account-data-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('embedded', () => {
    deletesEverything(
      () => ({ RATATOSK_DATA_DIR: dir, RATATOSK_DOMAIN: 'example.org' }),
      () => ({ domain: 'example.org', dataDir: dir, database: {} }) as Partial<Config> as Config,
    );
  });

  describe('PostgreSQL', function () {
    let schema: { schema: string; drop(): Promise<void> };
    let url: string;
    before(async function () {
      await requirePostgres(this);
    });
    beforeEach(async () => {
      schema = await createTestSchema();
      const withSchema = new URL(TEST_DATABASE_URL);
      withSchema.searchParams.set('options', `-c search_path=${schema.schema}`);
      url = withSchema.toString();
    });
    afterEach(async () => {
      await schema.drop();
    });
    deletesEverything(
      () => ({ RATATOSK_DATA_DIR: dir, RATATOSK_DOMAIN: 'example.org', RATATOSK_DATABASE_URL: url }),
      () => ({ domain: 'example.org', dataDir: dir, database: { url } }) as Partial<Config> as Config,
    );
  });
});
