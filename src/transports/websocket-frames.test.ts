import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { encodeTextFrames } from './websocket-frames.js';

/** ws's frame parser, which its published types leave out. */
type FrameReceiver = EventEmitter & { write(chunk: Buffer): void };
const { Receiver } = WebSocket as unknown as { Receiver: new (options: { isServer: boolean; maxPayload: number }) => FrameReceiver };

/** What a WebSocket client makes of the bytes: ws's own frame parser, as a client (frames unmasked). */
function receive(bytes: Buffer): string[] {
  const texts: string[] = [];
  const receiver = new Receiver({ isServer: false, maxPayload: 1 << 20 });
  receiver.on('message', (data: Buffer, isBinary: boolean) => {
    assert.equal(isBinary, false);
    texts.push(data.toString('utf8'));
  });
  receiver.on('error', (err: Error) => assert.fail(err));
  receiver.write(bytes);
  return texts;
}

describe('encodeTextFrames (RFC 6455 §5.2)', function () {
  it('frames each text on its own, at every payload length boundary', function () {
    const texts = ['', 'a', 'x'.repeat(125), 'x'.repeat(126), 'y'.repeat(0xffff), 'z'.repeat(0x10000), '<message/>'];
    assert.deepEqual(receive(encodeTextFrames(texts)), texts);
  });

  it('counts UTF-8 bytes, not characters', function () {
    const texts = ['é'.repeat(63), 'é'.repeat(64), '<body>ᚱᚨᛏᚨᛏᛟᛊᚲ 🐿️</body>'];
    assert.deepEqual(receive(encodeTextFrames(texts)), texts);
  });

  it('writes final, unmasked text frames with the shortest length form', function () {
    const frame = encodeTextFrames(['x'.repeat(126)]);
    assert.deepEqual([...frame.subarray(0, 4)], [0x81, 126, 0, 126]);
    assert.equal(frame.length, 4 + 126);
    assert.deepEqual([...encodeTextFrames(['ab'])], [0x81, 2, 0x61, 0x62]);
  });
});
