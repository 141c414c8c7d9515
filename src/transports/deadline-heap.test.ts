import assert from 'node:assert/strict';
import { DeadlineHeap, type DeadlineEntry } from './deadline-heap.js';

function entry(name: string, fired: string[]): DeadlineEntry & { name: string } {
  return { name, dueAt: Infinity, heapIndex: -1, onDue: () => fired.push(name) };
}

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('DeadlineHeap (one timer for many deadlines)', () => {
  it('calls each entry once, in deadline order, whatever the order they were scheduled in', async () => {
    const heap = new DeadlineHeap();
    const fired: string[] = [];
    const now = Date.now();
    const offsets = [40, 5, 25, 15, 35, 10, 30, 20, 0, 45];
    for (const ms of offsets) heap.schedule(entry(`e${ms}`, fired), now + ms);
    assert.equal(heap.size, offsets.length);
    await settle(120);
    assert.deepEqual(fired, [...offsets].sort((a, b) => a - b).map((ms) => `e${ms}`));
    assert.equal(heap.size, 0);
  });

  it('moves an entry when it is scheduled again, and forgets a cancelled one', async () => {
    const heap = new DeadlineHeap();
    const fired: string[] = [];
    const now = Date.now();
    const [a, b, c, d] = [entry('a', fired), entry('b', fired), entry('c', fired), entry('d', fired)];
    heap.schedule(a, now + 10);
    heap.schedule(b, now + 20);
    heap.schedule(c, now + 30);
    heap.schedule(d, now + 40);
    heap.schedule(a, now + 50); // later
    heap.schedule(d, now + 5); // earlier
    heap.cancel(b);
    assert.equal(b.heapIndex, -1);
    heap.cancel(b); // twice: nothing
    await settle(100);
    assert.deepEqual(fired, ['d', 'c', 'a']);
  });

  it('lets an entry schedule itself again from onDue (a session that rearms its own deadline)', async () => {
    const heap = new DeadlineHeap();
    let calls = 0;
    const self: DeadlineEntry = {
      dueAt: Infinity,
      heapIndex: -1,
      onDue: () => {
        calls++;
        if (calls < 3) heap.schedule(self, Date.now() + 5);
      },
    };
    heap.schedule(self, Date.now());
    await settle(80);
    assert.equal(calls, 3);
    assert.equal(heap.size, 0);
  });
});
