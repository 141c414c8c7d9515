// The Redis directory passes the shared SessionDirectory contract against a private redis-server,
// and its records and keys look the way README.md says.
import assert from 'node:assert/strict';
import { Jid } from '../jid.js';
import { createLogger } from '../observability/log.js';
import { sessionDirectoryContract } from '../sessions/directory.contract.js';
import { startRedis, type RedisInstance } from '../../test/support/redis.js';
import { nodeSessionsKey, resourcesKey } from './keys.js';
import { RedisDirectory } from './redis-directory.js';

describe('RedisDirectory', function () {
  let redis: RedisInstance | undefined;

  before(async function () {
    this.timeout(20_000);
    redis = await startRedis(this);
  });

  after(async () => {
    await redis?.stop();
  });

  sessionDirectoryContract('redis', async () => {
    if (!redis) throw new Error('no redis');
    const client = redis.client();
    const directory = new RedisDirectory(client, createLogger('silent'));
    return {
      harness: {
        directory,
        node: 'node-a',
        bind: (record) => directory.register(record),
        unbind: (record) => directory.unregister(record),
        presence: (record, available, priority) => directory.update({ ...record, available, priority }),
      },
      cleanup: async () => {
        await client.flushall();
        client.disconnect();
      },
    };
  });

  it('keeps a bare JID’s resources in one hash of compact JSON records, and each node’s full JIDs in a set', async () => {
    if (!redis) throw new Error('no redis');
    const client = redis.client();
    const directory = new RedisDirectory(client, createLogger('silent'));
    await directory.register({ jid: Jid.parse('juliet@example.org/balcony'), node: 'node-a', sid: 's1', available: true, priority: 1 });
    assert.equal(resourcesKey('juliet@example.org'), 'rt:{juliet@example.org}:res');
    assert.deepEqual(await client.hgetall('rt:{juliet@example.org}:res'), { balcony: '{"node":"node-a","sid":"s1","available":true,"priority":1}' });
    assert.deepEqual(await client.smembers(nodeSessionsKey('node-a')), ['juliet@example.org/balcony']);
    assert.equal(nodeSessionsKey('node-a'), 'rt:node:{node-a}:sessions');
    // A record this code did not write is ignored, not trusted.
    await client.hset('rt:{juliet@example.org}:res', 'odd', '{"node":1}');
    assert.deepEqual((await directory.resources('juliet@example.org')).map((r) => r.jid.resource), ['balcony']);
    await client.flushall();
  });
});
