import assert from 'node:assert/strict';
import { OutputPipeline, type Outbound, type OutputStage } from './output.js';

/** A stage that tags what it passes on, or holds everything while `hold` is set. */
function tagging(position: number, tag: string, log: string[]): OutputStage & { hold: boolean; held: Outbound[] } {
  return {
    position,
    hold: false,
    held: [],
    send(stanza, next) {
      log.push(`${tag}:${String(stanza)}`);
      if (this.hold) this.held.push(stanza);
      else next(`${String(stanza)}+${tag}`);
    },
    release() {
      return this.held.splice(0);
    },
  };
}

describe('session output pipeline', () => {
  it('without stages, hands every stanza to the connection as it is', () => {
    const wire: Outbound[] = [];
    const pipeline = new OutputPipeline((s) => wire.push(s));
    pipeline.send('a');
    assert.deepEqual(wire, ['a']);
    assert.equal(pipeline.acknowledged, false);
  });

  it('runs stages by position whatever the order they were added in; next() of a stage skips it and those before', () => {
    const wire: Outbound[] = [];
    const log: string[] = [];
    const pipeline = new OutputPipeline((s) => wire.push(s));
    const sm = tagging(900, 'sm', log);
    const smHandle = pipeline.add(sm);
    const csi = tagging(100, 'csi', log);
    pipeline.add(csi);
    pipeline.send('a');
    assert.deepEqual(wire, ['a+csi+sm']);
    assert.deepEqual(log, ['csi:a', 'sm:a+csi']);
    smHandle.next('again');
    assert.deepEqual(wire, ['a+csi+sm', 'again'], "a stage's next() goes to the connection when it is last");
  });

  it('release() returns what stages hold, the wire end first', () => {
    const wire: Outbound[] = [];
    const log: string[] = [];
    const pipeline = new OutputPipeline((s) => wire.push(s));
    const csi = tagging(100, 'csi', log);
    const csiHandle = pipeline.add(csi);
    const sm = Object.assign(tagging(900, 'sm', log), { keepsUntilAcknowledged: true });
    pipeline.add(sm);
    assert.equal(pipeline.acknowledged, true);
    sm.hold = true;
    pipeline.send('1');
    csi.hold = true;
    pipeline.send('2');
    pipeline.send('3');
    assert.deepEqual(wire, []);
    assert.deepEqual(pipeline.release(), ['1+csi', '2', '3'], 'oldest first: what passed the CSI stage, then what it held');
    csiHandle.remove();
    sm.hold = false;
    pipeline.send('5');
    assert.deepEqual(wire, ['5+sm'], 'removed: the CSI stage no longer sees stanzas');
  });
});
