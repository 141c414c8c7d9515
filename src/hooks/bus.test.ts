// The hook bus (bus.ts): priority order, emit/fire/fold semantics, handlers that return at once or a promise,
// a throwing handler skipped, and registration changes during a call (the list a call started with is kept).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../observability/log.js';
import { HookBus } from './bus.js';

interface TestHooks {
  seen: (trail: string[]) => void | Promise<void>;
  answer: (question: string) => string | undefined | Promise<string | undefined>;
  add: (n: number) => number | Promise<number>;
}

const logged: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logged.push(chunk.toString());
    done();
  },
});
const bus = (): HookBus<TestHooks> => new HookBus<TestHooks>(createLogger('error', sink));
const later = <T>(value: T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value), 5));

describe('HookBus', () => {
  it('emit runs every handler by priority and waits for one that returns a promise before the next', async () => {
    const hooks = bus();
    const trail: string[] = [];
    hooks.on('seen', (t) => void t.push('low'), -1);
    hooks.on('seen', async (t) => {
      await later(undefined);
      t.push('high, after its promise');
    }, 10);
    hooks.on('seen', (t) => void t.push('middle'));
    await hooks.emit('seen', trail);
    assert.deepEqual(trail, ['high, after its promise', 'middle', 'low']);
  });

  it('emit skips a handler that throws, at once or in its promise, and logs it', async () => {
    const hooks = bus();
    const trail: string[] = [];
    logged.length = 0;
    hooks.on('seen', () => {
      throw new Error('at once');
    }, 2);
    hooks.on('seen', () => Promise.reject(new Error('in the promise')), 1);
    hooks.on('seen', (t) => void t.push('ran'));
    await hooks.emit('seen', trail);
    assert.deepEqual(trail, ['ran']);
    assert.equal(logged.length, 2);
  });

  it('emitNow runs handlers that return at once without a promise, and from the first promise on, as emit does', async () => {
    const hooks = bus();
    const trail: string[] = [];
    hooks.on('seen', (t) => void t.push('first'), 10);
    hooks.on('seen', () => {
      throw new Error('boom now');
    }, 5);
    hooks.on('seen', (t) => void t.push('last'), -1);
    assert.equal(hooks.emitNow('seen', trail), undefined, 'no handler returned a promise');
    assert.deepEqual(trail, ['first', 'last'], 'all ran before emitNow returned; the throwing one was skipped');
    assert.ok(logged.some((line) => line.includes('boom now')));
    assert.equal(bus().emitNow('seen', trail), undefined, 'no handlers at all');

    hooks.on('seen', async (t) => {
      await later(undefined);
      t.push('waited');
      throw new Error('boom later');
    }, 0);
    trail.length = 0;
    const rest = hooks.emitNow('seen', trail);
    assert.ok(rest instanceof Promise);
    assert.deepEqual(trail, ['first'], 'the handlers after the one that returned a promise wait for it');
    await rest;
    assert.deepEqual(trail, ['first', 'waited', 'last']);
    assert.ok(logged.some((line) => line.includes('boom later')));
  });

  it('fire returns the first answer, from a plain value or a promise, and stops there', async () => {
    const hooks = bus();
    const asked: string[] = [];
    hooks.on('answer', (q) => void asked.push(`none ${q}`), 3);
    hooks.on('answer', (q) => (q === 'later' ? later('from a promise') : undefined), 2);
    hooks.on('answer', (q) => (q === 'now' ? 'at once' : undefined), 1);
    hooks.on('answer', () => 'last');
    assert.equal(await hooks.fire('answer', 'later'), 'from a promise');
    assert.equal(await hooks.fire('answer', 'now'), 'at once');
    assert.equal(await hooks.fire('answer', 'other'), 'last');
    assert.deepEqual(asked, ['none later', 'none now', 'none other']);
  });

  it('fold threads plain values and promises alike', async () => {
    const hooks = bus();
    hooks.on('add', (n) => n + 1, 2);
    hooks.on('add', (n) => later(n * 10), 1);
    hooks.on('add', (n) => n + 2);
    assert.equal(await hooks.fold('add', 1), 22);
  });

  it('a handler added or removed during a call changes later calls only', async () => {
    const hooks = bus();
    const trail: string[] = [];
    let removeSecond = (): void => undefined;
    hooks.on('seen', (t) => {
      t.push('first');
      removeSecond();
      hooks.on('seen', (t2) => void t2.push('added'), -5);
    }, 2);
    removeSecond = hooks.on('seen', (t) => void t.push('second'), 1);
    await hooks.emit('seen', trail);
    assert.deepEqual(trail, ['first', 'second']);
    trail.length = 0;
    removeSecond = () => undefined;
    await hooks.emit('seen', trail);
    assert.deepEqual(trail, ['first', 'added']);
    assert.equal(hooks.has('seen'), true);
  });

  it('the function on() returns removes only its own registration, once', async () => {
    const hooks = bus();
    const trail: string[] = [];
    const handler = (t: string[]): void => void t.push('x');
    const off = hooks.on('seen', handler);
    hooks.on('seen', handler);
    off();
    off();
    await hooks.emit('seen', trail);
    assert.deepEqual(trail, ['x']);
  });
});
