// One suite, two stores: the login throttle's rules hold the same in memory and in Redis (the
// machine's Redis on 127.0.0.1:6379, under a prefix of this run's own). Then what only one of them
// has: the memory store's capacity cap, and the fallback to memory when Redis cannot be reached.
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createLogger } from '../observability/log.js';
import { startRedis } from '../../test/support/redis.js';
import { FallbackThrottleStore } from './throttle-fallback.js';
import { MemoryThrottleStore } from './throttle-memory.js';
import { RedisThrottleStore } from './throttle-redis.js';
import { gap, LoginThrottle, normaliseAddress, type ThrottlePolicy, type ThrottleStore } from './throttle.js';

const POLICY: ThrottlePolicy = {
  failuresBeforeDelay: 2,
  addressFailuresBeforeDelay: 100,
  maxDelayMs: 1000,
  windowMs: 60_000,
  lockoutFailures: 4,
  lockoutMs: 400,
  trustMs: 60_000,
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function connectLocalRedis(ctx: Mocha.Context): Promise<Redis> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    console.warn('\n  !!! no Redis on 127.0.0.1:6379: SKIPPING the Redis throttle tests !!!\n');
    ctx.skip();
  }
  return redis;
}

function contract(name: string, make: (ctx: Mocha.Context, policy: ThrottlePolicy) => Promise<{ store: ThrottleStore; done(): Promise<void> }>): void {
  describe(`login throttle store: ${name}`, function () {
    let store: ThrottleStore;
    let done: () => Promise<void>;
    let n = 0;
    /** A fresh account name per test, so that tests do not share counters. */
    let account = '';

    beforeEach(async function () {
      ({ store, done } = await make(this, POLICY));
      account = `user${++n}-${Date.now()}`;
    });
    afterEach(async function () {
      await store.unlock({ all: true });
      await done();
    });

    it('lets the first attempts of a pair through at once, then spaces them with growing gaps, and refuses what would wait too long', async function () {
      const unlocked = await make(this, { ...POLICY, lockoutFailures: 0 });
      try {
        const admit = (): ReturnType<ThrottleStore['admit']> => unlocked.store.admit('10.0.0.1', account);
        assert.deepEqual([await admit(), await admit()], [{ admitted: true, waitMs: 0 }, { admitted: true, waitMs: 0 }]);
        const third = await admit();
        assert.ok(third.admitted && third.waitMs >= 240 && third.waitMs <= 250, JSON.stringify(third));
        // At once after it: the third's slot (250) plus its gap (500).
        const fourth = await admit();
        assert.ok(fourth.admitted && fourth.waitMs >= 700 && fourth.waitMs <= 750, JSON.stringify(fourth));
        // The fifth would wait 750 + 1000 ms, more than max_failure_delay_ms.
        assert.deepEqual(await admit(), { admitted: false, reason: 'busy' });
      } finally {
        await unlocked.store.unlock({ all: true });
        await unlocked.done();
      }
    });

    it('locks the account after lockout_failures attempts from any addresses, except for a pair that logged in before', async function () {
      await store.admit('10.0.0.9', account);
      await store.succeeded('10.0.0.9', account);
      for (const from of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']) assert.equal((await store.admit(from, account)).admitted, true);
      assert.deepEqual(await store.admit('10.0.0.5', account), { admitted: false, reason: 'locked' });
      assert.deepEqual(await store.admit('10.0.0.1', account), { admitted: false, reason: 'locked' });
      // The trusted pair gets through, and its success does not lift the lock for the others.
      assert.equal((await store.admit('10.0.0.9', account)).admitted, true);
      await store.succeeded('10.0.0.9', account);
      assert.deepEqual(await store.admit('10.0.0.5', account), { admitted: false, reason: 'locked' });
      const entries = await store.list();
      const locked = entries.find((e) => e.kind === 'account' && e.account === account);
      assert.ok(locked?.lockedUntil !== undefined && locked.failures === 4, JSON.stringify(entries));
    });

    it('after the lock, allows one attempt: a failure locks again, a success lifts the lock', async function () {
      for (const from of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']) await store.admit(from, account);
      await sleep(POLICY.lockoutMs + 50);
      assert.equal((await store.admit('10.0.0.5', account)).admitted, true);
      assert.deepEqual(await store.admit('10.0.0.6', account), { admitted: false, reason: 'locked' });
      await sleep(POLICY.lockoutMs + 50);
      assert.equal((await store.admit('10.0.0.7', account)).admitted, true);
      await store.succeeded('10.0.0.7', account);
      assert.equal((await store.admit('10.0.0.8', account)).admitted, true, 'the owner\'s success lifted the lock');
    });

    it("a success clears its own pair only: not the address's other accounts, not the account's other addresses", async function () {
      const other = `${account}-other`;
      for (let i = 0; i < 2; i++) await store.admit('10.0.0.1', other);
      await store.admit('10.0.0.2', account);
      await store.admit('10.0.0.1', account);
      await store.succeeded('10.0.0.1', account);
      const third = await store.admit('10.0.0.1', other);
      assert.ok(third.admitted && third.waitMs >= 240, `the other account's delay stays: ${JSON.stringify(third)}`);
      const entries = await store.list();
      assert.equal(entries.find((e) => e.kind === 'pair' && e.account === account && e.address === '10.0.0.2')?.failures, 1);
      assert.equal(entries.find((e) => e.kind === 'pair' && e.account === account && e.address === '10.0.0.1'), undefined);
      assert.equal(entries.find((e) => e.kind === 'account' && e.account === account)?.failures, 1);
    });

    it('delays an address that tries many accounts (a password spray), whatever the accounts', async function () {
      const spray = await make(this, { ...POLICY, addressFailuresBeforeDelay: 3 });
      try {
        const waits: number[] = [];
        for (let i = 0; i < 5; i++) {
          const admission = await spray.store.admit('10.9.9.9', `${account}-spray${i}`);
          waits.push(admission.admitted ? admission.waitMs : -1);
        }
        assert.deepEqual(waits.slice(0, 3), [0, 0, 0]);
        assert.ok((waits[3] ?? 0) >= 240, `the fourth account's attempt waits: ${waits.join(',')}`);
      } finally {
        await spray.store.unlock({ all: true });
        await spray.done();
      }
    });

    it('unlocks by account, by address and all, keeping the trust a success gave', async function () {
      await store.admit('10.0.0.9', account);
      await store.succeeded('10.0.0.9', account);
      for (const from of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']) await store.admit(from, account);
      assert.deepEqual(await store.admit('10.0.0.5', account), { admitted: false, reason: 'locked' });
      assert.ok((await store.unlock({ account })) >= 1);
      assert.equal((await store.admit('10.0.0.5', account)).admitted, true);
      assert.deepEqual((await store.list()).filter((e) => e.account === account && e.address !== undefined && e.address !== '10.0.0.5'), []);
      // Trust survived the unlock.
      for (const from of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) await store.admit(from, account);
      assert.deepEqual(await store.admit('10.0.0.6', account), { admitted: false, reason: 'locked' });
      assert.equal((await store.admit('10.0.0.9', account)).admitted, true);

      assert.ok((await store.unlock({ address: '10.0.0.1' })) >= 1);
      assert.ok(!(await store.list()).some((e) => e.address === '10.0.0.1'));
      assert.ok((await store.unlock({ all: true })) >= 1);
      assert.deepEqual((await store.list()).filter((e) => e.account === account), []);
    });

    it('gives LoginThrottle a temporary-auth-failure for a locked account', async function () {
      const throttle = new LoginThrottle(store);
      for (const from of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']) await throttle.admit(from, account);
      await assert.rejects(throttle.admit('::ffff:10.0.0.5', account), (err: unknown) => err instanceof Error && 'condition' in err && err.condition === 'temporary-auth-failure');
    });
  });
}

contract('memory', async (_ctx, policy) => {
  const store = new MemoryThrottleStore(policy, 10_000);
  return { store, done: () => store.close() };
});

let redisRun = 0;
contract('Redis', async (ctx, policy) => {
  const redis = await connectLocalRedis(ctx);
  const store = new RedisThrottleStore(redis, policy, `rt-test:${process.pid}:${++redisRun}:auth:`);
  return {
    store,
    async done() {
      redis.disconnect();
    },
  };
});

describe('login throttle: memory bounds', function () {
  it('keeps at most `capacity` counters however many addresses and accounts try, dropping the least recently used', async function () {
    const store = new MemoryThrottleStore(POLICY, 100);
    try {
      await store.admit('10.0.0.1', 'kept');
      for (let i = 0; i < 1000; i++) {
        await store.admit(`10.1.${i >> 8}.${i & 255}`, `spray${i}`);
        if (i % 10 === 0) await store.admit('10.0.0.1', 'kept'); // touched: stays
        assert.ok(store.size <= 100, `size ${store.size} after ${i + 1} attempts`);
      }
      assert.equal(store.size, 100);
      const kept = (await store.list()).find((e) => e.kind === 'account' && e.account === 'kept');
      assert.ok(kept && kept.failures >= 4, 'a counter in use is not the one evicted');
    } finally {
      await store.close();
    }
  });

  it('forgets counters after the window', async function () {
    let now = 1_000_000;
    const store = new MemoryThrottleStore(POLICY, 100, () => now);
    try {
      await store.admit('10.0.0.1', 'someone');
      assert.equal((await store.list()).length, 3);
      now += POLICY.windowMs + 1;
      assert.equal((await store.list()).length, 0);
      assert.deepEqual(await store.admit('10.0.0.1', 'someone'), { admitted: true, waitMs: 0 });
    } finally {
      await store.close();
    }
  });

  it('computes gaps that double from the threshold up to the longest delay', function () {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((count) => gap(count, 2, 1000)), [0, 0, 250, 500, 1000, 1000, 1000]);
  });
});

describe('login throttle: Redis unreachable', function () {
  this.timeout(20_000);

  it('counts on this node while Redis is down: attempts are neither let through nor refused wholesale', async function () {
    const server = await startRedis(this);
    const redis = new Redis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    redis.on('error', () => undefined);
    const local = new MemoryThrottleStore(POLICY, 1000);
    const store = new FallbackThrottleStore(new RedisThrottleStore(redis, POLICY), local, redis, createLogger('silent'));
    try {
      await new Promise<void>((resolve) => (redis.status === 'ready' ? resolve() : redis.once('ready', () => resolve())));
      assert.equal((await store.admit('10.0.0.1', 'eve')).admitted, true);
      assert.equal((await store.list()).find((e) => e.kind === 'account')?.scope, 'cluster');

      await server.stop();
      const started = Date.now();
      // Neither open nor shut: four attempts counted here, then the lock.
      for (const from of ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5']) assert.equal((await store.admit(from, 'eve')).admitted, true);
      assert.deepEqual(await store.admit('10.0.0.6', 'eve'), { admitted: false, reason: 'locked' });
      assert.ok(Date.now() - started < 5000, `decisions without Redis took ${Date.now() - started} ms`);
      const entries = await store.list();
      assert.ok(entries.some((e) => e.kind === 'account' && e.account === 'eve' && e.scope === 'node' && e.lockedUntil !== undefined), JSON.stringify(entries));
    } finally {
      await store.close();
      redis.disconnect();
      await server.stop();
    }
  });
});

describe('login throttle: addresses', function () {
  it('counts IPv4-mapped IPv6 as IPv4 and IPv6 by its /64', function () {
    assert.equal(normaliseAddress('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(normaliseAddress('192.0.2.7'), '192.0.2.7');
    assert.equal(normaliseAddress('2001:db8:0:1:aaaa:bbbb:cccc:dddd'), '2001:db8:0:1::/64');
    assert.equal(normaliseAddress('2001:DB8:0:1::1'), '2001:db8:0:1::/64');
    assert.equal(normaliseAddress('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(normaliseAddress('::1'), '0:0:0:0::/64');
    assert.equal(normaliseAddress('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(normaliseAddress('64:ff9b:1:2:3::192.0.2.1'), '64:ff9b:1:2::/64');
    assert.notEqual(normaliseAddress('2001:db8:0:1::1'), normaliseAddress('2001:db8:0:2::1'));
  });
});
