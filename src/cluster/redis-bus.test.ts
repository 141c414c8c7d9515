// The Redis bus's guard against repeats: every retry of one message carries the same id, and the
// receiving node hands a message on once however many copies arrive (outbox.ts retries a publish
// whose fate is unknown, which Redis may have carried after all).
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createLogger } from '../observability/log.js';
import { xml } from '../xml/element.js';
import type { BusMessage } from './bus.js';
import { decodeMessage } from './envelope.js';
import { RedisBus } from './redis-bus.js';
import type { RedisLink } from './redis-connection.js';

/** A RedisLink that only records publishes and lets the test play what the subscription receives. */
function fakeLink(): { link: RedisLink; payloads: string[]; receive(payload: string): void } {
  const payloads: string[] = [];
  let listener: ((payload: string) => void) | undefined;
  const link: RedisLink = {
    mode: 'standalone',
    // Never connects (lazyConnect, and nothing here sends a command).
    client: new Redis({ lazyConnect: true }),
    publish: async (_channel: string, payload: string) => {
      payloads.push(payload);
      return 1;
    },
    subscribe: async (_channel: string, onMessage: (payload: string) => void) => {
      listener = onMessage;
    },
    close: async () => undefined,
  };
  return { link, payloads, receive: (payload) => listener?.(payload) };
}

const stanza = (id: string): BusMessage => ({ kind: 'stanza', origin: 'n1', mode: 'route', from: 'a@example.org/r', hops: 1, targets: [], stanza: xml('message', { id, to: 'b@example.org/r' }) });

describe('RedisBus', () => {
  it('gives one message the same id on every publish, and another message another id', async () => {
    const { link, payloads } = fakeLink();
    const bus = new RedisBus('n1', link, createLogger('silent'));
    const first = stanza('one');
    await bus.publish('n2', first);
    await bus.publish('n2', first);
    await bus.publish('n2', stanza('two'));
    const ids = payloads.map((p) => {
      const decoded = decodeMessage(p);
      assert.notEqual(typeof decoded, 'string');
      return typeof decoded === 'string' || decoded.kind === 'ack' ? '' : decoded.id;
    });
    assert.ok(ids[0]);
    assert.equal(ids[1], ids[0]);
    assert.notEqual(ids[2], ids[0]);
  });

  it('hands a message on once, however many copies of it arrive, and messages without an id always', async () => {
    const sender = fakeLink();
    const bus = new RedisBus('n1', sender.link, createLogger('silent'));
    const message = stanza('retried');
    await bus.publish('n2', message);
    await bus.publish('n2', message);
    await bus.publish('n2', stanza('other'));

    const receiver = fakeLink();
    const received: string[] = [];
    await new RedisBus('n2', receiver.link, createLogger('silent')).listen((m) => received.push(m.kind === 'stanza' ? (m.stanza.attrs.id ?? '') : 'close'));
    for (const payload of sender.payloads) receiver.receive(payload);
    // What an older node writes has no id: nothing to compare, so it is never taken for a repeat.
    const legacy = '{"k":"stanza","o":"n0","m":"route","f":"a@example.org/r","h":1}\n<message id="legacy"/>';
    receiver.receive(legacy);
    receiver.receive(legacy);
    assert.deepEqual(received, ['retried', 'other', 'legacy', 'legacy']);
  });
});
