// The receiving side of the bus's delivery guarantee: per sending process, in sequence order, once;
// what overtook a missing message waits for the sender to go back; acknowledgements are cumulative.
import assert from 'node:assert/strict';
import { createLogger } from '../observability/log.js';
import type { AckMessage } from './bus.js';
import { ACK_DELAY_MS, Inbox } from './inbox.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function inbox(): { box: Inbox; acks: AckMessage[] } {
  const acks: AckMessage[] = [];
  return { box: new Inbox({ nodeId: 'n2', log: createLogger('silent'), sendAck: (_node, ack) => acks.push(ack) }), acks };
}

describe('Inbox', () => {
  it('hands messages on in order, once, and acknowledges the highest in one message', async () => {
    const { box, acks } = inbox();
    const handed = [1, 2, 3, 2, 3, 4].filter((seq) => box.accept('n1', { boot: 'b1', seq, base: 1 }));
    assert.deepEqual(handed, [1, 2, 3, 4]);
    await sleep(ACK_DELAY_MS * 3);
    assert.deepEqual(acks, [{ kind: 'ack', origin: 'n2', boot: 'b1', upTo: 4 }]);
  });

  it('refuses a message that overtook a missing one, and takes it when the sender goes back', () => {
    const { box } = inbox();
    // 2 was lost (a PUBLISH to a dying primary); 3 and 4 came on the new one.
    const first = [1, 3, 4].filter((seq) => box.accept('n1', { boot: 'b1', seq, base: 1 }));
    const again = [2, 3, 4].filter((seq) => box.accept('n1', { boot: 'b1', seq, base: 2 }));
    assert.deepEqual([first, again], [[1], [2, 3, 4]]);
  });

  it('skips what the sender settled (base), and starts afresh for a new sender process', () => {
    const { box } = inbox();
    assert.equal(box.accept('n1', { boot: 'b1', seq: 1, base: 1 }), true);
    // 2 and 3 were given up by the sender (its fallbacks handled them): 4 comes with base 4.
    assert.equal(box.accept('n1', { boot: 'b1', seq: 4, base: 4 }), true);
    assert.equal(box.accept('n1', { boot: 'b1', seq: 2, base: 2 }), false, 'a late copy of a settled message is a repeat');
    // The sender restarted: its numbering begins again.
    assert.equal(box.accept('n1', { boot: 'b2', seq: 1, base: 1 }), true);
    // Messages without sequence fields (an older node) are always handed on.
    assert.equal(box.accept('n0', {}), true);
    box.close();
  });
});
