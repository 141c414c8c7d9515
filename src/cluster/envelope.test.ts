// The bus wire format: a JSON header line, then the stanza serialised once; what arrives is checked.
import assert from 'node:assert/strict';
import { xml } from '../xml/element.js';
import type { StanzaMessage } from './bus.js';
import { decodeMessage, encodeMessage } from './envelope.js';

describe('cluster bus envelope', () => {
  it('carries a stanza with its routing header, the stanza parsed back whole', () => {
    const stanza = xml('message', { to: 'frank@example.org', from: 'alice@example.org/desk', type: 'chat' }, xml('body', {}, 'two\nlines & <escapes>'));
    const payload = encodeMessage({ kind: 'stanza', origin: 'n1', mode: 'deliver', from: 'alice@example.org/desk', hops: 1, targets: ['frank@example.org/a', 'frank@example.org/b'], flag: 'roster', readdress: true, fallback: true, stanza });
    assert.equal(payload.split('\n')[0], '{"k":"stanza","o":"n1","m":"deliver","f":"alice@example.org/desk","h":1,"t":["frank@example.org/a","frank@example.org/b"],"fl":"roster","ra":1,"fb":1}');
    const decoded = decodeMessage(payload) as StanzaMessage;
    assert.equal(decoded.kind, 'stanza');
    assert.deepEqual([decoded.origin, decoded.mode, decoded.from, decoded.hops, decoded.targets, decoded.flag, decoded.readdress, decoded.fallback], ['n1', 'deliver', 'alice@example.org/desk', 1, ['frank@example.org/a', 'frank@example.org/b'], 'roster', true, true]);
    assert.equal(decoded.stanza.toString(), stanza.toString());
    assert.equal(decoded.stanza.getChildText('body'), 'two\nlines & <escapes>');
  });

  it('carries a route-mode stanza without targets, and a close order', () => {
    const route = decodeMessage(encodeMessage({ kind: 'stanza', origin: 'n2', mode: 'route', from: 'example.org', hops: 2, targets: [], stanza: xml('presence', { type: 'probe', to: 'a@example.org/r' }) })) as StanzaMessage;
    assert.deepEqual([route.mode, route.targets, route.flag, route.readdress, route.fallback], ['route', [], undefined, undefined, undefined]);
    assert.deepEqual(decodeMessage(encodeMessage({ kind: 'close', origin: 'n1', jid: 'a@example.org/r', sid: 'xyz' })), { kind: 'close', origin: 'n1', jid: 'a@example.org/r', sid: 'xyz' });
  });

  it('carries the sequence fields of the delivery guarantee, and acknowledgements', () => {
    const sequenced = decodeMessage(encodeMessage({ kind: 'stanza', origin: 'n1', mode: 'route', from: 'a@example.org/r', hops: 1, targets: [], boot: 'b1', seq: 7, base: 5, stanza: xml('message') })) as StanzaMessage;
    assert.deepEqual([sequenced.boot, sequenced.seq, sequenced.base], ['b1', 7, 5]);
    assert.deepEqual(decodeMessage(encodeMessage({ kind: 'close', origin: 'n1', jid: 'a@example.org/r', sid: 'xyz', boot: 'b1', seq: 2, base: 2 })), { kind: 'close', origin: 'n1', jid: 'a@example.org/r', sid: 'xyz', boot: 'b1', seq: 2, base: 2 });
    assert.deepEqual(decodeMessage(encodeMessage({ kind: 'ack', origin: 'n2', boot: 'b1', upTo: 41 })), { kind: 'ack', origin: 'n2', boot: 'b1', upTo: 41 });
  });

  it('carries requests between nodes and their replies, with a JSON body after the header', () => {
    const request = { kind: 'call', origin: 'n2', topic: 'stream-management:take-over', call: 'c1', reply: false, body: { previd: 'x.y', deadline: 5 }, boot: 'b2', seq: 3, base: 1 } as const;
    const payload = encodeMessage(request);
    assert.equal(payload.split('\n')[0], '{"k":"call","o":"n2","t":"stream-management:take-over","c":"c1","r":0,"bt":"b2","sq":3,"bs":1}');
    assert.deepEqual(decodeMessage(payload), request);
    const reply = { kind: 'call', origin: 'n1', topic: 't', call: 'c1', reply: true, body: { ok: true, held: ['<message xmlns="jabber:client">\n</message>'] } } as const;
    assert.deepEqual(decodeMessage(encodeMessage(reply)), reply);
    assert.deepEqual(decodeMessage(encodeMessage({ ...reply, body: undefined })), { ...reply, body: null }, 'no body is null');
  });

  it('refuses what this code does not write, saying why', () => {
    const cases: [string, RegExp][] = [
      ['not json', /JSON/],
      ['[]\n<message/>', /origin/],
      ['{"k":"stanza","o":"n1","m":"teleport","f":"a","h":0}\n<message/>', /mode/],
      ['{"k":"stanza","o":"n1","m":"route","f":"a","h":-1}\n<message/>', /hops/],
      ['{"k":"stanza","o":"n1","m":"deliver","f":"a","h":0,"t":[1]}\n<message/>', /targets/],
      ['{"k":"stanza","o":"n1","m":"route","f":"a","h":0}', /no stanza/],
      ['{"k":"stanza","o":"n1","m":"route","f":"a","h":0}\n<message>', /not XML/],
      ['{"k":"close","o":"n1","j":"a@b/c"}', /sid/],
      ['{"k":"gossip","o":"n1"}', /unknown kind/],
      ['{"k":"call","o":"n1","t":"x","c":"1","r":2}\n{}', /direction/],
      ['{"k":"call","o":"n1","t":"x","c":"1","r":0}', /without body/],
      ['{"k":"call","o":"n1","t":"x","c":"1","r":1}\n{nope', /not JSON/],
      ['{"k":"ack","o":"n2","bt":"b1","a":-1}', /bad ack/],
      ['{"k":"stanza","o":"n1","m":"route","f":"a","h":0,"bt":"b1","sq":3,"bs":4}\n<message/>', /sequence/],
    ];
    for (const [payload, reason] of cases) {
      const result = decodeMessage(payload);
      assert.equal(typeof result, 'string', payload);
      assert.match(result as string, reason);
    }
  });
});
