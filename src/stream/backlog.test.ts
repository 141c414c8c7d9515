import assert from 'node:assert/strict';
import { Backlog } from './backlog.js';

describe('Backlog', function () {
  it('refuses past the item count with policy-violation, and takes more once the oldest is done', function () {
    const backlog = new Backlog({ maxItems: 2, maxBytes: 1_000_000 });
    assert.equal(backlog.empty, true);
    backlog.add(1);
    backlog.add(1);
    const refused = backlog.refuse(1);
    assert.equal(refused?.condition, 'policy-violation');
    assert.equal(refused?.text, 'too many stanzas waiting to be processed');
    backlog.done();
    assert.equal(backlog.refuse(1), undefined);
  });

  it('refuses past the byte cap, but never a lone element for its size alone', function () {
    const backlog = new Backlog({ maxItems: 1000, maxBytes: 100 });
    assert.equal(backlog.refuse(5000), undefined, 'nothing waits: the parser\'s stanza cap bounds a lone element');
    backlog.add(60);
    assert.equal(backlog.refuse(40), undefined, 'exactly at the cap');
    assert.equal(backlog.refuse(41)?.text, 'too much data waiting to be processed');
    backlog.add(0);
    backlog.done();
    assert.equal(backlog.refuse(41), undefined, 'the 60 bytes are done; the 0-byte item alone waits');
    backlog.done();
    assert.equal(backlog.empty, true);
  });

  it('takes sizes off oldest first, through a burst and after it drains', function () {
    const backlog = new Backlog({ maxItems: 1000, maxBytes: 100 });
    for (let round = 0; round < 2; round++) {
      backlog.add(10);
      backlog.add(20);
      backlog.add(30);
      assert.equal(backlog.refuse(40), undefined, '60 waiting');
      assert.ok(backlog.refuse(41), '60 + 41 passes the cap');
      backlog.done();
      assert.equal(backlog.refuse(50), undefined, 'the 10 went first: 50 waiting');
      assert.ok(backlog.refuse(51));
      backlog.done();
      assert.ok(backlog.refuse(71), 'the 20 went next: 30 waiting');
      backlog.done();
      assert.equal(backlog.empty, true);
    }
  });
});
