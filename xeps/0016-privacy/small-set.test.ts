// SmallStringSet behaves as a Set of strings on both sides of its switch from an array to a Set: no
// duplicates, insertion order, deletes during iteration, and the same answers after the switch.
import assert from 'node:assert/strict';
import { SmallStringSet } from './small-set.js';

const jids = (n: number, from = 0): string[] => Array.from({ length: n }, (_, i) => `c${from + i}@example.com/r`);

describe('SmallStringSet', () => {
  it('adds each string once, keeps insertion order and answers has/size', () => {
    const set = new SmallStringSet(['b@x/1', 'a@x/1', 'b@x/1']);
    assert.equal(set.size, 2);
    assert.deepEqual([...set], ['b@x/1', 'a@x/1']);
    assert.equal(set.has('a@x/1'), true);
    assert.equal(set.has('c@x/1'), false);
    assert.equal(new SmallStringSet().size, 0);
    assert.deepEqual([...new SmallStringSet()], []);
  });

  it('deletes, telling whether the string was there', () => {
    const set = new SmallStringSet(jids(5));
    assert.equal(set.delete('c2@example.com/r'), true);
    assert.equal(set.delete('c2@example.com/r'), false);
    assert.deepEqual([...set], ['c0@example.com/r', 'c1@example.com/r', 'c3@example.com/r', 'c4@example.com/r']);
    assert.equal(new SmallStringSet().delete('nobody@x'), false);
  });

  for (const size of [10, 40]) {
    it(`lets every entry be deleted while iterating (${size} entries)`, () => {
      const set = new SmallStringSet(jids(size));
      const seen: string[] = [];
      for (const jid of set) {
        seen.push(jid);
        set.delete(jid);
      }
      assert.deepEqual(seen, jids(size));
      assert.equal(set.size, 0);
    });
  }

  it('answers the same as a Set once it has grown past its array, and after shrinking again', () => {
    const set = new SmallStringSet();
    const reference = new Set<string>();
    const all = jids(60);
    for (const jid of all) {
      set.add(jid);
      reference.add(jid);
      set.add(jid);
    }
    for (const jid of all.filter((_, i) => i % 3 === 0)) assert.equal(set.delete(jid), reference.delete(jid));
    assert.equal(set.size, reference.size);
    assert.deepEqual([...set], [...reference]);
    for (const jid of [...all, 'other@example.com']) assert.equal(set.has(jid), reference.has(jid));
  });
});
