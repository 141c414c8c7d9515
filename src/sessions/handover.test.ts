// What crosses the bus when a session moves to another node is checked before it is trusted.
import assert from 'node:assert/strict';
import { readSessionState } from './handover.js';

describe('session hand-over state', () => {
  const valid = {
    jid: 'alice@example.org/phone',
    sid: 's1',
    handled: 7,
    presence: { available: true, priority: 5, stanza: '<presence xmlns="jabber:client"/>' },
    flags: ['roster'],
    held: ['<message xmlns="jabber:client"/>'],
    modules: { im: { directed: ['room@conference.example.org/al'] }, privacy: { active: 'work' } },
  };

  it('reads a state as StreamSession.handOver writes it, through JSON', () => {
    assert.deepEqual(readSessionState(JSON.parse(JSON.stringify(valid))), valid);
    const { stanza: _, ...without } = valid.presence;
    assert.deepEqual(readSessionState({ ...valid, presence: without }), { ...valid, presence: without });
  });

  it('reads a state from a node that moves no module state (an earlier version) as one with none', () => {
    const { modules: _, ...older } = valid;
    assert.deepEqual(readSessionState(older), { ...older, modules: {} });
  });

  it('refuses what is not one, saying why', () => {
    const cases: [unknown, RegExp][] = [
      [null, /object/],
      [{ ...valid, jid: 'alice@example.org' }, /full JID/],
      [{ ...valid, sid: '' }, /sid/],
      [{ ...valid, handled: 2 ** 32 }, /handled/],
      [{ ...valid, presence: { available: 'yes', priority: 0 } }, /presence/],
      [{ ...valid, presence: { available: true, priority: 0, stanza: 1 } }, /presence stanza/],
      [{ ...valid, flags: [1] }, /flags/],
      [{ ...valid, held: 'x' }, /held/],
      [{ ...valid, modules: ['im'] }, /module state/],
    ];
    for (const [value, reason] of cases) {
      const result = readSessionState(value);
      assert.equal(typeof result, 'string', JSON.stringify(value));
      assert.match(result as string, reason);
    }
  });
});
