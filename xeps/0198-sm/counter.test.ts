import { strict as assert } from 'node:assert';
import { COUNTER_MODULUS, advance, distance, parseCounter } from './counter.js';
import { xml } from '../../src/xml/element.js';
import { UnackedQueue, resent } from './queue.js';

describe('XEP-0198 counters (mod 2^32)', () => {
  it('wrap from 2^32-1 back to 0', () => {
    assert.equal(advance(COUNTER_MODULUS - 1), 0);
    assert.equal(advance(COUNTER_MODULUS - 2, 3), 1);
    assert.equal(advance(41), 42);
  });

  it('measure the distance forward across the wrap', () => {
    assert.equal(distance(COUNTER_MODULUS - 2, 1), 3);
    assert.equal(distance(5, 5), 0);
    assert.equal(distance(5, 4), COUNTER_MODULUS - 1);
  });

  it('parse h as an unsignedInt only', () => {
    assert.equal(parseCounter('0'), 0);
    assert.equal(parseCounter('4294967295'), COUNTER_MODULUS - 1);
    assert.equal(parseCounter('4294967296'), undefined);
    assert.equal(parseCounter('-1'), undefined);
    assert.equal(parseCounter('1.5'), undefined);
    assert.equal(parseCounter(''), undefined);
    assert.equal(parseCounter(undefined), undefined);
  });

  it('acknowledge across the wrap and refuse an h past what was sent', () => {
    const queue = new UnackedQueue({ limit: 100, startAt: COUNTER_MODULUS - 2, overflow: () => undefined, queued: () => undefined });
    const written: string[] = [];
    for (const n of ['a', 'b', 'c', 'd']) queue.send(`<message id="${n}"/>`, (s) => written.push(String(s)));
    assert.equal(written.length, 4);
    assert.equal(queue.sent, 2, 'sent wrapped: 2^32-2 + 4');
    assert.equal(queue.unacked, 4);
    assert.equal(queue.acknowledge(3), false, 'h=3 is one more than was sent');
    assert.equal(queue.unacked, 4, 'a refused h acknowledges nothing');
    assert.equal(queue.acknowledge(0), true, 'h=0 acknowledges the two before the wrap');
    assert.equal(queue.unacked, 2);
    assert.deepEqual(queue.pending().map((p) => p.stanza), ['<message id="c"/>', '<message id="d"/>']);
    assert.equal(queue.acknowledge(2), true);
    assert.equal(queue.unacked, 0);
    assert.equal(queue.acknowledge(2), true, 'the same h again is no change');
    queue.send('<message id="e"/>', () => undefined);
    assert.equal(queue.acknowledge(0), true, 'an h from before the last one (serial number arithmetic) is old, not too high');
    assert.equal(queue.unacked, 1, 'and acknowledges nothing');
    assert.equal(queue.acknowledge(COUNTER_MODULUS / 2), false, 'far ahead is too high');
  });

  it("keeps the 'to' an element had when it went out, though a module readdresses that element afterwards", () => {
    const queue = new UnackedQueue({ limit: 100, overflow: () => undefined, queued: () => undefined });
    const shared = xml('message', { type: 'groupchat', from: 'room@conference.localhost/nick' }, xml('body', {}, 'hi'));
    for (const to of ['a@localhost/1', 'b@localhost/2']) {
      shared.attrs.to = to;
      queue.send(shared, () => undefined);
    }
    delete shared.attrs.to;
    const again = queue.pending().map((item) => resent(item, 'localhost'));
    assert.deepEqual(again.map((s) => (typeof s === 'string' ? s : s.attrs.to)), ['a@localhost/1', 'b@localhost/2']);
    assert.ok(again.every((s) => typeof s !== 'string' && s.getChild('delay', 'urn:xmpp:delay')), 'each copy sent again has a delay stamp');
    assert.equal(shared.getChild('delay', 'urn:xmpp:delay'), undefined, 'the shared element is left as it was');
    assert.deepEqual(queue.release().map((s) => (typeof s === 'string' ? s : s.attrs.to)), ['a@localhost/1', 'b@localhost/2']);
  });
});
