// Exclusive work (exclusive.ts, redis-exclusive.ts): one at a time per name within a node, and across nodes on a
// real redis-server: two "nodes" (two RedisExclusive instances, each with its own connection) never run work
// under one name at the same time, a lock left by a holder that died expires, and a holder only ever releases
// its own lock.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { StanzaError } from '../errors.js';
import { createLogger } from '../observability/log.js';
import { startRedis, type RedisInstance } from '../../test/support/redis.js';
import { LocalExclusive, type Exclusive } from './exclusive.js';
import { lockKey } from './keys.js';
import { LOCK_TTL_MS, RedisExclusive } from './redis-exclusive.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const log = createLogger('silent');

/** Runs `rounds` pieces of work under `name` on each of `nodes` at once; the most that ever ran together. */
async function contend(nodes: readonly Exclusive[], name: string, rounds: number): Promise<{ most: number; done: number }> {
  let running = 0;
  let most = 0;
  let done = 0;
  const piece = async (): Promise<void> => {
    running++;
    most = Math.max(most, running);
    await sleep(2);
    running--;
    done++;
  };
  await Promise.all(nodes.flatMap((node) => Array.from({ length: rounds }, () => node.run(name, piece))));
  return { most, done };
}

describe('exclusive work (src/cluster/exclusive.ts, redis-exclusive.ts)', function () {
  it('on one node: one at a time per name, in order, other names alongside', async function () {
    const queue = new LocalExclusive();
    const log: string[] = [];
    const step = (name: string, ms: number) => async (): Promise<string> => {
      log.push(`${name}:start`);
      await sleep(ms);
      log.push(`${name}:end`);
      return name;
    };
    const results = await Promise.all([queue.run('alice', step('a1', 30)), queue.run('alice', step('a2', 1)), queue.run('bob', step('b1', 5))]);
    assert.deepEqual(results, ['a1', 'a2', 'b1']);
    assert.ok(log.indexOf('a1:end') < log.indexOf('a2:start'), 'same name: strictly one after the other');
    assert.ok(log.indexOf('b1:end') < log.indexOf('a1:end'), 'another name does not wait');
  });

  it('on one node: goes on after work that throws', async function () {
    const queue = new LocalExclusive();
    await assert.rejects(queue.run('alice', () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await queue.run('alice', () => Promise.resolve(42)), 42);
  });

  describe('across nodes, on Redis', function () {
    this.timeout(30_000);
    let redis: RedisInstance;
    const connections: Redis[] = [];
    const node = (id: string, waitMs?: number): RedisExclusive => {
      const connection = new Redis(redis.url, { lazyConnect: false });
      connections.push(connection);
      return new RedisExclusive(connection, id, log, waitMs);
    };

    before(async function () {
      redis = await startRedis(this);
    });
    after(async function () {
      for (const c of connections) c.disconnect();
      await redis?.stop();
    });

    it('never runs two pieces of work under one name at once, on two nodes; other names alongside', async function () {
      const nodes = [node('n1'), node('n2')];
      const control = await contend([new LocalExclusive(), new LocalExclusive()], 'roster:alice', 20);
      // The positive control: two nodes with only their own queues do overlap.
      assert.equal(control.most, 2);
      const [same, other] = await Promise.all([contend(nodes, 'roster:alice', 20), contend(nodes, 'roster:bob', 5)]);
      assert.deepEqual(same, { most: 1, done: 40 });
      assert.deepEqual(other, { most: 1, done: 10 });
      assert.equal(await redis.client().exists(lockKey('roster:alice')), 0, 'every lock given back');
    });

    it('a lock whose holder died expires; until then others wait, and give up with a wait error past their bound', async function () {
      const client = redis.client();
      // A node that took the lock and died: its token is not ours, and only the TTL ends it.
      await client.set(lockKey('roster:carol'), 'gone:token', 'PX', 1500);
      const patient = node('n1');
      const startedAt = Date.now();
      assert.equal(await patient.run('roster:carol', () => Promise.resolve('ran')), 'ran');
      const waited = Date.now() - startedAt;
      assert.ok(waited >= 1000 && waited < 5000, `waited ${waited} ms for the dead holder's lock to expire`);

      await client.set(lockKey('roster:dave'), 'gone:token', 'PX', LOCK_TTL_MS);
      const hasty = node('n2', 300);
      await assert.rejects(hasty.run('roster:dave', () => Promise.resolve('ran')), (err) => err instanceof StanzaError && err.condition === 'resource-constraint' && err.type === 'wait');
      assert.equal(await client.get(lockKey('roster:dave')), 'gone:token', "a waiting node leaves another's lock alone");
    });
  });
});
