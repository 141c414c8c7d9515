// The XEP-0198 part of a hand-over to another node: the previd names its node, the queue crosses as JSON
// and goes on counting there, and replies that are not what the owner writes are refused.
import assert from 'node:assert/strict';
import { xml } from '../../src/xml/element.js';
import { Fence, ownerOf, readForwarded, readTakeOverReply, readTakeOverRequest } from './handover.js';
import { UnackedQueue } from './queue.js';

const queue = (): UnackedQueue => new UnackedQueue({ limit: 100, overflow: () => undefined, queued: () => undefined });

describe('XEP-0198 hand-over', () => {
  it('reads the node out of a previd', () => {
    assert.equal(ownerOf(`${Buffer.from('node-1').toString('base64url')}.AAAA`), 'node-1');
    assert.equal(ownerOf('nodot'), undefined);
    assert.equal(ownerOf('.AAAA'), undefined);
  });

  it('exports the unacknowledged stanzas as sent, and the imported queue counts on from there', () => {
    const owner = queue();
    const sent: unknown[] = [];
    const readdressed = xml('message', { to: 'a@example.org/1' }, xml('body', {}, 'two'));
    for (const stanza of ['<message xmlns="jabber:client"><body>one</body></message>', readdressed, xml('message', {}, xml('body', {}, 'three'))]) owner.send(stanza, (s) => sent.push(s));
    readdressed.attrs.to = 'a@example.org/2'; // a fan-out readdresses the element for its next recipient
    assert.ok(owner.acknowledge(1));
    const exported = JSON.parse(JSON.stringify(owner.exportState())) as ReturnType<UnackedQueue['exportState']>;
    assert.equal(exported.acked, 1);
    assert.deepEqual(exported.items.map((i) => i.stanza), ['<message to="a@example.org/1"><body>two</body></message>', '<message><body>three</body></message>'], "with the 'to' each went out with");

    const taker = queue();
    taker.importState(exported);
    assert.deepEqual([taker.acked, taker.sent, taker.unacked], [1, 3, 2]);
    assert.equal(taker.tooHigh(4), true, 'h above what the owner sent is still too high');
    assert.ok(taker.acknowledge(2));
    assert.equal(taker.unacked, 1);
    taker.send('<message xmlns="jabber:client"/>', () => undefined);
    assert.equal(taker.sent, 4);
  });

  it('checks requests and replies', () => {
    assert.deepEqual(readTakeOverRequest({ previd: 'a.b', account: 'alice', deadline: 1 }), { previd: 'a.b', account: 'alice', deadline: 1 });
    assert.equal(readTakeOverRequest({ previd: 'a.b', account: 'alice' }), undefined);
    assert.deepEqual(readTakeOverReply({ ok: false }), { ok: false });
    const session = { jid: 'a@example.org/r', sid: 's', handled: 0, presence: { available: false, priority: 0 }, flags: [], held: [], modules: { im: { directed: ['b@example.org/x'] } } };
    const good = { ok: true, session, queue: { acked: 3, items: [{ stanza: '<message/>', at: 1 }] }, inboundBase: 0 };
    assert.deepEqual(readTakeOverReply(good), good);
    assert.match(readTakeOverReply(null) as string, /object/);
    assert.match(readTakeOverReply({ ...good, queue: { acked: -1, items: [] } }) as string, /queue/);
    assert.match(readTakeOverReply({ ...good, queue: { acked: 0, items: [{ stanza: 1, at: 0 }] } }) as string, /queue item/);
    assert.match(readTakeOverReply({ ...good, session: { ...session, jid: 'a@example.org' } }) as string, /session: jid/);
    assert.match(readTakeOverReply({ ...good, inboundBase: 2 ** 32 }) as string, /inboundBase/);
  });

  it('the fence holds what it is given, in order, until released; forwarded stanzas are read back', () => {
    const fence = new Fence();
    fence.send('<message xmlns="jabber:client"><body>a</body></message>');
    fence.send(xml('message', {}, xml('body', {}, 'b')));
    assert.deepEqual(fence.release().map(String), ['<message xmlns="jabber:client"><body>a</body></message>', '<message><body>b</body></message>']);
    assert.deepEqual(fence.release(), []);
    assert.deepEqual(readForwarded({ jid: 'a@example.org/r', stanza: '<message/>' }), { jid: 'a@example.org/r', stanza: '<message/>' });
    assert.equal(readForwarded({ jid: 'a@example.org/r' }), undefined);
  });
});
