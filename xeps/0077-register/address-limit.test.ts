// The per-address registration window of the XEP-0077 module, on a clock the test moves.
import assert from 'node:assert/strict';
import { AddressLimit } from './address-limit.js';

describe('XEP-0077 registrations per address', function () {
  let now = 1_000_000;
  const clock = (): number => now;

  beforeEach(function () {
    now = 1_000_000;
  });

  it('allows max registrations per address within the window, each address on its own', function () {
    const limit = new AddressLimit(3, 600_000, clock);
    for (let i = 0; i < 3; i++) assert.ok(limit.reserve('192.0.2.1'));
    assert.equal(limit.reserve('192.0.2.1'), undefined);
    assert.ok(limit.reserve('192.0.2.2'), 'another address has its own allowance');
  });

  it('slides: a registration stops counting once it is older than the window', function () {
    const limit = new AddressLimit(2, 600_000, clock);
    assert.ok(limit.reserve('2001:db8::1'));
    now += 300_000;
    assert.ok(limit.reserve('2001:db8::1'));
    assert.equal(limit.reserve('2001:db8::1'), undefined);
    now += 300_001; // the first is now 600 001 ms old
    assert.ok(limit.reserve('2001:db8::1'));
    assert.equal(limit.reserve('2001:db8::1'), undefined);
  });

  it('gives a released slot back, once', function () {
    const limit = new AddressLimit(1, 600_000, clock);
    const slot = limit.reserve('192.0.2.1');
    assert.ok(slot);
    assert.equal(limit.reserve('192.0.2.1'), undefined);
    slot.release();
    slot.release();
    const again = limit.reserve('192.0.2.1');
    assert.ok(again);
    assert.equal(limit.reserve('192.0.2.1'), undefined, 'a second release must not free someone else\'s slot');
  });

  it('counts an IPv4 client seen through a dual-stack socket (::ffff:a.b.c.d) as the same address', function () {
    const limit = new AddressLimit(1, 600_000, clock);
    assert.ok(limit.reserve('::ffff:192.0.2.1'));
    assert.equal(limit.reserve('192.0.2.1'), undefined);
  });

  it('prune forgets addresses whose registrations all left the window', function () {
    const limit = new AddressLimit(5, 1000, clock);
    limit.reserve('192.0.2.1');
    limit.reserve('192.0.2.2');
    assert.equal(limit.size, 2);
    now += 500;
    limit.reserve('192.0.2.3');
    now += 600;
    limit.prune();
    assert.equal(limit.size, 1);
  });
});
