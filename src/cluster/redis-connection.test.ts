// A node's Redis connections recover from what ioredis would otherwise leave for good: a connection
// that ends without the node closing it (the Sentinel fail-over race, redis-connection.ts) connects again
// and keeps its subscriptions; one the node closed stays closed. Against a private redis-server.
import assert from 'node:assert/strict';
import { createLogger } from '../observability/log.js';
import { startRedis, type RedisInstance } from '../../test/support/redis.js';
import { connectRedis, type RedisLink } from './redis-connection.js';

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('Redis connection of a node', function () {
  this.timeout(20_000);
  let redis: RedisInstance | undefined;
  let link: RedisLink | undefined;

  before(async function () {
    redis = await startRedis(this);
  });

  afterEach(async () => {
    await link?.close();
    link = undefined;
  });

  after(async () => {
    await redis?.stop();
  });

  it('connects again after the command connection ends without close(), and the subscription still delivers', async () => {
    assert.ok(redis);
    link = await connectRedis({ url: redis.url, sentinels: [], cluster: [] }, 'revive-test', createLogger('silent'));
    const received: string[] = [];
    await link.subscribe('rt:test', (payload) => received.push(payload));

    const client = link.client;
    const ended = new Promise((resolve) => client.once('end', resolve));
    client.disconnect(); // what ioredis does to itself in the race: status 'end', no reconnection of its own
    await ended;
    await until('the connection to be ready again', 5000, () => (client.status === 'ready' ? true : undefined));
    assert.equal(await client.ping(), 'PONG');

    // The subscriber connection is dropped by the server too; ioredis renews the subscription.
    redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await until('a publish to reach the renewed subscription', 5000, async () => {
      await link?.publish('rt:test', 'after');
      return received.includes('after') ? true : undefined;
    });
  });

  it('stays closed after close()', async () => {
    assert.ok(redis);
    const closed = await connectRedis({ url: redis.url, sentinels: [], cluster: [] }, 'close-test', createLogger('silent'));
    await closed.close();
    await new Promise((resolve) => setTimeout(resolve, 700)); // past the longest revival delay (500 ms)
    assert.equal(closed.client.status, 'end');
  });
});
