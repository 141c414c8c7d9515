// The per-node outbox: in order, retried while nobody listens, given up after a bounded time with
// every waiting message handed to its fallback, never silently dropped.
import assert from 'node:assert/strict';
import { createLogger } from '../observability/log.js';
import { xml } from '../xml/element.js';
import type { OutboundMessage as BusMessage } from './bus.js';
import { MAX_QUEUED, NodeOutbox, type OutboxDeps } from './outbox.js';

const message = (id: string): BusMessage => ({ kind: 'stanza', origin: 'n1', mode: 'route', from: 'a@example.org', hops: 1, targets: [], stanza: xml('message', { id }) });
const idOf = (m: BusMessage): string => (m.kind === 'stanza' ? (m.stanza.attrs.id ?? '') : '');

function outbox(receivers: (m: BusMessage) => number, retryForMs: number): { box: NodeOutbox; published: string[]; givenUp: string[] } {
  const published: string[] = [];
  const givenUp: string[] = [];
  const deps: OutboxDeps = {
    log: createLogger('silent'),
    publish: async (_node, m) => {
      const n = receivers(m);
      if (n > 0) published.push(idOf(m));
      return n;
    },
    onGiveUp: (node) => givenUp.push(node),
    retryFor: () => retryForMs,
  };
  return { box: new NodeOutbox('n2', deps), published, givenUp };
}

describe('NodeOutbox', () => {
  it('publishes in order while the node listens', async () => {
    const { box, published } = outbox(() => 1, 1000);
    for (let i = 0; i < 600; i++) box.send(message(`m${i}`));
    await box.idle();
    assert.deepEqual(published, Array.from({ length: 600 }, (_, i) => `m${i}`));
  });

  it('retries while nobody listens and delivers once the node is back, in order', async () => {
    let listening = false;
    setTimeout(() => (listening = true), 150);
    const { box, published, givenUp } = outbox(() => (listening ? 1 : 0), 2000);
    const fallbacks: string[] = [];
    for (const id of ['a', 'b', 'c']) box.send(message(id), () => fallbacks.push(id));
    await box.idle();
    assert.deepEqual(published, ['a', 'b', 'c']);
    assert.deepEqual([fallbacks, givenUp], [[], []]);
  });

  it('gives the node up after the retry budget and hands every waiting message to its fallback', async () => {
    const { box, published, givenUp } = outbox(() => 0, 200);
    const fallbacks: string[] = [];
    const started = Date.now();
    box.send(message('a'), () => fallbacks.push('a'));
    box.send(message('b'));
    box.send(message('c'), () => fallbacks.push('c'));
    await box.idle();
    assert.ok(Date.now() - started >= 200);
    assert.deepEqual([published, givenUp, fallbacks], [[], ['n2'], ['a', 'c']]);
  });

  it('keeps retrying a publish that fails (Redis unreachable) past the budget for "nobody listens", then falls back', async () => {
    let calls = 0;
    const deps: OutboxDeps = {
      log: createLogger('silent'),
      publish: async () => {
        calls++;
        throw new Error('connection lost');
      },
      onGiveUp: () => undefined,
      retryFor: () => 100,
      redisOutageMs: 400,
    };
    const box = new NodeOutbox('n2', deps);
    let fellBack = false;
    const started = Date.now();
    box.send(message('x'), () => (fellBack = true));
    await box.idle();
    assert.ok(calls >= 2);
    assert.equal(fellBack, true);
    assert.ok(Date.now() - started >= 400, 'a failing publish is not taken for a node that does not listen');
  });

  it('delivers what waited through a Redis outage once publishes succeed again, without falling back', async () => {
    let redisBack = false;
    setTimeout(() => (redisBack = true), 300);
    const published: string[] = [];
    const deps: OutboxDeps = {
      log: createLogger('silent'),
      publish: async (_node, m) => {
        if (!redisBack) throw new Error('READONLY You can\'t write against a read only replica.');
        published.push(idOf(m));
        return 1;
      },
      onGiveUp: () => assert.fail('the node was given up during a Redis outage'),
      retryFor: () => 100,
      redisOutageMs: 5000,
    };
    const box = new NodeOutbox('n2', deps);
    const fallbacks: string[] = [];
    for (const id of ['a', 'b', 'c']) box.send(message(id), () => fallbacks.push(id));
    await box.idle();
    assert.deepEqual([published, fallbacks], [['a', 'b', 'c'], []]);
  });

  it(`gives up at once beyond ${MAX_QUEUED} waiting messages`, async () => {
    const { box } = outbox(() => 0, 300);
    for (let i = 0; i < MAX_QUEUED; i++) box.send(message(`m${i}`));
    let fellBack = false;
    box.send(message('one too many'), () => (fellBack = true));
    assert.equal(fellBack, true);
    await box.idle();
  });
});

describe('NodeOutbox with acknowledgements', () => {
  type Sent = { seq: number; base: number; id: string };
  function acked(receive: (m: Sent) => boolean, options: { ackTimeoutMs?: number; redisOutageMs?: number } = {}): { box: NodeOutbox; sent: Sent[]; handed: string[] } {
    const sent: Sent[] = [];
    const handed: string[] = [];
    let next = 1;
    let box: NodeOutbox | undefined = undefined;
    const deps: OutboxDeps = {
      log: createLogger('silent'),
      boot: 'b1',
      ...options,
      publish: async (_node, m) => {
        const s = { seq: m.seq ?? 0, base: m.base ?? 0, id: idOf(m) };
        sent.push(s);
        // A tiny receiver: in order only, cumulative acknowledgement a moment later.
        if (!receive(s)) return 1;
        if (s.seq === next) {
          next++;
          handed.push(s.id);
          const upTo = next - 1;
          setTimeout(() => box?.acked(upTo), 5);
        }
        return 1;
      },
      onGiveUp: () => undefined,
      retryFor: () => 1000,
    };
    box = new NodeOutbox('n2', deps);
    return { box, sent, handed };
  }

  it('numbers messages from 1 and is idle once they are acknowledged', async () => {
    const { box, sent, handed } = acked(() => true);
    for (const id of ['a', 'b', 'c']) box.send(message(id));
    await box.idle();
    assert.deepEqual(sent.map((s) => s.seq), [1, 2, 3]);
    assert.deepEqual(handed, ['a', 'b', 'c']);
    assert.equal(box.size, 0);
  });

  it('publishes again, from the first unacknowledged on, what Redis said it delivered but never arrived', async () => {
    let dropped = false;
    // The first copy of b is lost after PUBLISH answered 1 (the primary died before writing it out).
    const { box, handed, sent } = acked((m) => (m.id === 'b' && !dropped ? !(dropped = true) : true), { ackTimeoutMs: 100 });
    for (const id of ['a', 'b', 'c']) box.send(message(id));
    await box.idle();
    assert.deepEqual(handed, ['a', 'b', 'c'], 'every message handed on once, in order');
    assert.ok(sent.filter((s) => s.id === 'c').length >= 2, 'c, which overtook the lost b, went again after it');
    assert.ok(sent.filter((s) => s.id === 'b').every((s) => s.base <= 2));
  });

  it('hands everything to its fallback as a Redis outage when acknowledgements never come within the bound', async () => {
    const { box } = acked(() => false, { ackTimeoutMs: 50, redisOutageMs: 300 });
    const reasons: string[] = [];
    box.send(message('x'), (reason) => reasons.push(reason));
    box.send(message('y'), (reason) => reasons.push(reason));
    await box.idle();
    assert.deepEqual(reasons, ['redis-outage', 'redis-outage']);
  });
});
