// RFC 9110 §14.1.2's examples of byte ranges over a representation of 10,000 bytes, and §13.1.5's If-Range.
import assert from 'node:assert/strict';
import { ifRangeHolds, rangeFor } from './range.js';

const SIZE = 10_000;
const partial = (start: number, end: number): ReturnType<typeof rangeFor> => ({ kind: 'partial', range: { start, end } });

describe('byte ranges (RFC 9110 §14)', function () {
  it('§14.1.2: the first 500 bytes, the second 500, the final 500 (both ways), the first and last byte', function () {
    assert.deepEqual(rangeFor('bytes=0-499', SIZE), partial(0, 499));
    assert.deepEqual(rangeFor('bytes=500-999', SIZE), partial(500, 999));
    assert.deepEqual(rangeFor('bytes=-500', SIZE), partial(9500, 9999));
    assert.deepEqual(rangeFor('bytes=9500-', SIZE), partial(9500, 9999));
    // "bytes=0-0,-1": two ranges, which this server answers with the whole representation (§14.2 allows it).
    assert.deepEqual(rangeFor('bytes=0-0,-1', SIZE), { kind: 'whole' });
  });

  it('§14.1.1: a last position past the end, or a suffix longer than the representation, is cut to its end', function () {
    assert.deepEqual(rangeFor('bytes=9000-20000', SIZE), partial(9000, 9999));
    assert.deepEqual(rangeFor('bytes=-20000', SIZE), partial(0, 9999));
  });

  it('§14.2: no header, another unit, or an invalid range set is ignored; §15.5.17: no byte of the range exists', function () {
    for (const header of [undefined, 'items=0-9', 'bytes=', 'bytes=-', 'bytes=a-9', 'bytes=5-1', 'bytes=1-2-3', 'bytes 0-9']) {
      assert.deepEqual(rangeFor(header, SIZE), { kind: 'whole' }, String(header));
    }
    for (const header of ['bytes=10000-', 'bytes=10000-10005', 'bytes=-0']) assert.deepEqual(rangeFor(header, SIZE), { kind: 'unsatisfiable' }, header);
    assert.deepEqual(rangeFor('bytes=0-', 0), { kind: 'unsatisfiable' }, 'an empty representation has no byte to send');
  });

  it('§13.1.5: If-Range holds for the strong ETag or the exact Last-Modified date, and for nothing else', function () {
    const etag = '"abc"';
    const lastModified = 'Mon, 07 Dec 2026 17:00:00 GMT';
    assert.equal(ifRangeHolds(undefined, etag, lastModified), true);
    assert.equal(ifRangeHolds('"abc"', etag, lastModified), true);
    assert.equal(ifRangeHolds(lastModified, etag, lastModified), true);
    for (const other of ['"abd"', 'W/"abc"', 'Mon, 07 Dec 2026 17:00:01 GMT', 'yesterday']) assert.equal(ifRangeHolds(other, etag, lastModified), false, other);
  });
});
