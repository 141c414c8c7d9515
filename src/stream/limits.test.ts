import assert from 'node:assert/strict';
import { AddressLimiter, ReadShaper, TokenBucket } from './limits.js';

describe('limits', function () {
  it('TokenBucket: a burst goes at once, then the rate sets the wait', function () {
    let now = 0;
    const bucket = new TokenBucket(1000, 2000, () => now);
    assert.equal(bucket.take(2000), 0);
    assert.equal(bucket.take(500), 500);
    now = 500;
    assert.equal(bucket.take(0), 0);
    now = 10_000;
    assert.equal(bucket.take(2000), 0, 'refilled, but only up to the burst');
    assert.equal(bucket.take(1), 1);
    bucket.reconfigure(10_000, 2000);
    assert.equal(bucket.take(9), 1);
    bucket.reconfigure(10_000, 20_000);
    assert.equal(bucket.take(17_990), 0, 'the larger burst is added');
    assert.equal(bucket.take(10), 1);
  });

  it('ReadShaper pauses its source while over the rate and resumes it later', async function () {
    const calls: string[] = [];
    const shaper = new ReadShaper({ preAuth: { rate: 10_000, burst: 1000 }, authenticated: { rate: 1e9, burst: 1e9 } }, {
      pause: () => calls.push('pause'),
      resume: () => calls.push('resume'),
    });
    shaper.consumed(1000);
    assert.deepEqual(calls, []);
    shaper.consumed(500);
    assert.deepEqual(calls, ['pause']);
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.deepEqual(calls, ['pause', 'resume']);
    shaper.authenticated();
    shaper.consumed(1_000_000);
    assert.deepEqual(calls, ['pause', 'resume']);
    shaper.stop();
  });

  it('AddressLimiter counts per address, pre-authentication apart, and forgets released addresses', function () {
    const limiter = new AddressLimiter({ maxConnections: 3, maxPreAuth: 2 });
    const a = limiter.admit('192.0.2.1');
    const b = limiter.admit('192.0.2.1');
    assert.ok(typeof a !== 'string' && typeof b !== 'string');
    assert.match(String(limiter.admit('192.0.2.1')), /unauthenticated/);
    assert.ok(typeof limiter.admit('192.0.2.2') !== 'string', 'another address is not affected');
    a.authenticated();
    const c = limiter.admit('192.0.2.1');
    assert.ok(typeof c !== 'string');
    c.authenticated();
    assert.match(String(limiter.admit('192.0.2.1')), /too many connections/);
    a.release();
    a.release();
    assert.deepEqual(limiter.count('192.0.2.1'), { all: 2, preAuth: 1 });
    b.release();
    c.release();
    assert.deepEqual(limiter.count('192.0.2.1'), { all: 0, preAuth: 0 });
  });
});
