// XEP-0484 across node processes on one PostgreSQL schema: a token issued by n1 logs in on n2 (and is then
// used up there, so n1 refuses it); a password changed in the shared store leaves the new token unusable.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveCredentials } from '../../src/auth/credentials.js';
import { createTestSchema, requirePostgres, TEST_DATABASE_URL } from '../../src/storage/postgres/test-fixture.js';
import type { Stores } from '../../src/storage/types.js';
import { schemaUrl } from '../../test/support/backends.js';
import { openSharedStores } from '../../test/support/cluster-failover.js';
import { startNode, type NodeProcess } from '../../test/support/cluster.js';
import { startRedis, type RedisInstance } from '../../test/support/redis.js';
import { login, type Token } from './test-kit.js';

const SASL2 = 'urn:xmpp:sasl:2';

describe('XEP-0484 FAST across nodes (shared PostgreSQL store)', function () {
  this.timeout(30_000);
  let redis: RedisInstance | undefined;
  let stores: Stores | undefined;
  let drop: (() => Promise<void>) | undefined;
  let dataDir = '';
  const nodes: NodeProcess[] = [];

  before(async function () {
    this.timeout(120_000);
    await requirePostgres(this);
    redis = await startRedis(this);
    const schema = await createTestSchema();
    drop = schema.drop;
    const url = schemaUrl(schema.schema, TEST_DATABASE_URL);
    stores = await openSharedStores(url);
    await stores.accounts.create('alice', await deriveCredentials('secret', 4096));
    dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-fast-'));
    for (const id of ['n1', 'n2']) nodes.push(await startNode({ id, redisUrl: redis.url, dataDir, env: { RATATOSK_DATABASE_URL: url, RATATOSK_SASL2: 'true' } }));
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') for (const n of nodes) console.log(`--- log of ${n.id} ---\n${n.log().slice(-4000)}`);
  });

  after(async () => {
    for (const node of nodes) await node.terminate();
    await stores?.close();
    await drop?.();
    await redis?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('a token from n1 logs in on n2; the used token is refused on n1; a password change ends the new one', async () => {
    const [n1, n2] = nodes as [NodeProcess, NodeProcess];
    const store: { token?: Token } = {};
    const first = await login(n1, 'tcp', 'agent-c', store);
    assert.deepEqual(first.mechanisms, [`${SASL2} SCRAM-SHA-1`]);
    await first.stop();
    const fromN1 = store.token;
    assert.ok(fromN1);

    const second = await login(n2, 'tcp', 'agent-c', store, 'not the password');
    assert.deepEqual(second.mechanisms, [`${SASL2} HT-SHA-256-NONE`], 'n2 took the token n1 issued');
    await second.stop();

    // The used token again, on n1: xmpp.js falls back to the password after not-authorized.
    const rotated = store.token;
    store.token = fromN1;
    const third = await login(n1, 'tcp', 'agent-c', store);
    assert.deepEqual(third.mechanisms, [`${SASL2} HT-SHA-256-NONE`, `${SASL2} SCRAM-SHA-1`], 'the used token is refused');
    await third.stop();

    // Control first: the token n1 just issued works; then a password change leaves the next one unusable.
    const works = await login(n2, 'tcp', 'agent-c', store, 'not the password');
    assert.deepEqual(works.mechanisms, [`${SASL2} HT-SHA-256-NONE`]);
    await works.stop();
    assert.ok(rotated);
    await stores?.accounts.setCredentials('alice', await deriveCredentials('changed', 4096));
    const after = await login(n1, 'tcp', 'agent-c', store, 'changed');
    assert.deepEqual(after.mechanisms, [`${SASL2} HT-SHA-256-NONE`, `${SASL2} SCRAM-SHA-1`], 'the token died with the old password');
    await after.stop();
  });
});
