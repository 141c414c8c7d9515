import assert from 'node:assert/strict';
import { trustedPeers } from './trust.js';

describe('trustedPeers', function () {
  it('trusts loopback, listed addresses and CIDR blocks, in both address forms', function () {
    const trusted = trustedPeers(['10.0.0.0/8', '192.168.1.5', 'fd00::/8']);
    for (const a of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1', '10.1.2.3', '::ffff:10.200.0.1', '192.168.1.5', 'fd12::1']) assert.equal(trusted(a), true, a);
    for (const a of ['192.168.1.6', '11.0.0.1', '2001:db8::1', 'unknown', '']) assert.equal(trusted(a), false, a);
  });
});
