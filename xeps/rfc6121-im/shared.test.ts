// Unit tests of the shared helpers: the per-user work queue and readdressed copies.
import assert from 'node:assert/strict';
import { xml } from '../../src/xml/element.js';
import { KeyedQueue, readdress } from './shared.js';

describe('im shared helpers', function () {
  it('KeyedQueue runs work for one key one at a time, in order, and other keys alongside', async function () {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const step = (name: string, ms: number) => async (): Promise<string> => {
      log.push(`${name}:start`);
      await new Promise((resolve) => setTimeout(resolve, ms));
      log.push(`${name}:end`);
      return name;
    };
    const results = await Promise.all([queue.run('alice', step('a1', 30)), queue.run('alice', step('a2', 1)), queue.run('bob', step('b1', 5))]);
    assert.deepEqual(results, ['a1', 'a2', 'b1']);
    assert.ok(log.indexOf('a1:end') < log.indexOf('a2:start'), 'same key: strictly one after the other');
    assert.ok(log.indexOf('b1:end') < log.indexOf('a1:end'), 'another key does not wait');
  });

  it('KeyedQueue goes on after work that throws', async function () {
    const queue = new KeyedQueue();
    await assert.rejects(queue.run('alice', () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await queue.run('alice', () => Promise.resolve(42)), 42);
  });

  it('readdress copies attributes, replaces some and keeps the children', function () {
    const original = xml('presence', { from: 'a@localhost/x', id: 'p1' }, xml('show', null, 'away'));
    const copy = readdress(original, { to: 'b@localhost' });
    assert.equal(copy.toString(), '<presence from="a@localhost/x" id="p1" to="b@localhost"><show>away</show></presence>');
    assert.equal(original.attrs.to, undefined);
  });
});
