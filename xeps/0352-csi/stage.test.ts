// The CSI stage in a real output pipeline (src/sessions/output.ts), and the rule of what waits (classify.ts).
import { strict as assert } from 'node:assert';
import { OutputPipeline, type Outbound } from '../../src/sessions/output.js';
import { PreparedStanza } from '../../src/xml/prepared.js';
import { parseElement, xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { classify, mentions } from './classify.js';
import { CsiStage } from './stage.js';

const ME = 'juliet@localhost/phone';
const presence = (from: string, show?: string, type?: string): Element => xml('presence', { from, to: ME, type }, show ? xml('show', {}, show) : undefined);
const chatState = (from: string, state: string): Element => xml('message', { from, to: ME, type: 'chat' }, xml(state, { xmlns: NS.chatstates }));
const chat = (from: string, body: string): Element => xml('message', { from, to: ME, type: 'chat' }, xml('body', {}, body));
const groupchat = (from: string, body: string): Element => xml('message', { from, to: ME, type: 'groupchat' }, xml('body', {}, body));
const selfPresence = (occupant: string, type?: string, ...codes: number[]): Element =>
  xml('presence', { from: occupant, to: ME, type }, xml('x', { xmlns: NS.mucUser }, xml('item', { affiliation: 'member', role: 'participant' }), ...[110, ...codes].map((code) => xml('status', { code }))));

/** name:from:what (a presence's type or show, a message's payload). */
function label(text: string): string {
  const e = parseElement(text);
  const what = e.name === 'presence' ? (e.attrs.type ?? e.getChildText('show') ?? 'available') : e.children.map((c) => (typeof c === 'string' ? c : c.name)).join();
  return `${e.name}:${e.attrs.from}:${what}`;
}

/** A pipeline whose wire records what reaches it, as text. */
function pipeline(maxHeld = 100): { stage: CsiStage; output: OutputPipeline; wire: string[] } {
  const wire: string[] = [];
  const output = new OutputPipeline((s: Outbound) => wire.push(typeof s === 'string' ? s : s.toString()));
  const stage = new CsiStage(maxHeld);
  stage.attach(output.add(stage));
  return { stage, output, wire };
}

describe('XEP-0352 what waits while inactive (classify.ts)', () => {
  const noNick = (): undefined => undefined;

  it('presence updates wait per sender; subscription and error presence and room self-presence are urgent', () => {
    assert.deepEqual(classify(presence('romeo@localhost/a'), noNick), { kind: 'presence', from: 'romeo@localhost/a' });
    assert.deepEqual(classify(presence('romeo@localhost/a', undefined, 'unavailable'), noNick), { kind: 'presence', from: 'romeo@localhost/a' });
    for (const type of ['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'error']) assert.equal(classify(presence('romeo@localhost', undefined, type), noNick).kind, 'urgent', type);
    assert.equal(classify(selfPresence('room@conference.localhost/jul'), noNick).kind, 'urgent');
  });

  it('messages without content wait; a body, subject, encrypted payload, call invitation, error or carbon of a body is urgent', () => {
    assert.equal(classify(chatState('romeo@localhost/a', 'composing'), noNick).kind, 'hold');
    assert.equal(classify(xml('message', { from: 'romeo@localhost/a' }, xml('received', { xmlns: NS.receipts, id: 'x' })), noNick).kind, 'hold');
    assert.equal(classify(xml('message', { from: 'romeo@localhost/a' }, xml('displayed', { xmlns: NS.chatMarkers, id: 'x' })), noNick).kind, 'hold');
    assert.equal(classify(chat('romeo@localhost/a', 'hi'), noNick).kind, 'urgent');
    assert.equal(classify(xml('message', { from: 'romeo@localhost/a' }, xml('subject', {}, 's')), noNick).kind, 'urgent');
    assert.equal(classify(xml('message', { from: 'romeo@localhost/a' }, xml('encrypted', { xmlns: NS.omemo })), noNick).kind, 'urgent');
    assert.equal(classify(xml('message', { from: 'romeo@localhost/a' }, xml('propose', { xmlns: NS.jingleMessage, id: 'c' })), noNick).kind, 'urgent');
    assert.equal(classify(xml('message', { from: 'romeo@localhost/a', type: 'error' }), noNick).kind, 'urgent');
    const carbon = (inner: Element): Element => xml('message', { from: 'juliet@localhost' }, xml('received', { xmlns: NS.carbons }, xml('forwarded', { xmlns: NS.forward }, inner)));
    assert.equal(classify(carbon(chat('romeo@localhost/a', 'hi')), noNick).kind, 'urgent');
    assert.equal(classify(carbon(chatState('romeo@localhost/a', 'paused')), noNick).kind, 'hold');
    assert.equal(classify(xml('iq', { type: 'get', id: '1' }), noNick).kind, 'urgent');
  });

  it('groupchat waits unless it mentions the nickname; with the nickname unknown every body is urgent', () => {
    const nick = (room: string): string | undefined => (room === 'room@conference.localhost' ? 'Jul' : undefined);
    assert.equal(classify(groupchat('room@conference.localhost/romeo', 'lunch?'), nick).kind, 'hold');
    assert.equal(classify(groupchat('room@conference.localhost/romeo', 'jul: lunch?'), nick).kind, 'urgent');
    assert.equal(classify(groupchat('room@conference.localhost/Jul', 'I said jul'), nick).kind, 'hold', 'the user\'s own reflected message');
    assert.equal(classify(groupchat('other@conference.localhost/romeo', 'lunch?'), nick).kind, 'urgent');
    assert.equal(classify(xml('message', { from: 'room@conference.localhost/romeo', type: 'groupchat' }, xml('subject', {}, 'topic')), nick).kind, 'urgent');
    assert.equal(classify(xml('message', { from: 'room@conference.localhost/romeo', type: 'groupchat' }, xml('active', { xmlns: NS.chatstates })), nick).kind, 'hold');
  });

  it('a mention is the nickname as a word, whatever the case', () => {
    assert.ok(mentions('Juliet: hi', 'juliet'));
    assert.ok(mentions('hi @JULIET!', 'Juliet'));
    assert.ok(mentions('ça va, Zoë ?', 'zoë'));
    assert.ok(!mentions('juliets are many', 'juliet'));
    assert.ok(!mentions('nobody', 'juliet'));
    assert.ok(!mentions('anything', ''));
  });
});

describe('XEP-0352 output stage (stage.ts)', () => {
  it('passes everything while active; holds while inactive and flushes in order, one presence per sender, on activate', () => {
    const { stage, output, wire } = pipeline();
    output.send(presence('a@localhost/1', 'away'));
    assert.equal(wire.length, 1, 'active: straight through');
    stage.inactivate();
    output.send(presence('a@localhost/1', 'xa'));
    output.send(chatState('b@localhost/1', 'composing'));
    output.send(presence('c@localhost/1', 'dnd'));
    output.send(presence('a@localhost/1', undefined, 'unavailable'));
    output.send(chatState('b@localhost/1', 'paused'));
    assert.equal(wire.length, 1, 'inactive: nothing went out');
    stage.activate();
    assert.deepEqual(wire.slice(1).map(label), [
      'message:b@localhost/1:composing',
      'presence:c@localhost/1:dnd',
      'presence:a@localhost/1:unavailable',
      'message:b@localhost/1:paused',
    ]);
  });

  it('an urgent stanza goes out at once, after what was held', () => {
    const { stage, output, wire } = pipeline();
    stage.inactivate();
    output.send(chatState('b@localhost/1', 'composing'));
    output.send(new PreparedStanza(presence('a@localhost/1')).for(ME));
    output.send(chat('b@localhost/1', 'hello'));
    assert.equal(wire.length, 3);
    assert.match(wire[0] ?? '', /composing/);
    assert.match(wire[1] ?? '', /^<presence to="juliet@localhost\/phone"/, 'a serialised fan-out copy is held as it is');
    assert.match(wire[2] ?? '', /hello/);
    assert.equal(stage.heldCount, 0);
  });

  it('at the bound the next stanza flushes all, in order, then goes out itself; a replaced presence does not count', () => {
    const { stage, output, wire } = pipeline(3);
    stage.inactivate();
    output.send(presence('a@localhost/1'));
    output.send(presence('b@localhost/1'));
    output.send(presence('c@localhost/1'));
    output.send(presence('b@localhost/1', 'away'));
    assert.equal(wire.length, 0, 'a newer presence of a held sender replaces it');
    output.send(presence('d@localhost/1'));
    assert.deepEqual(wire.map((s) => `${parseElement(s).attrs.from}${/away/.test(s) ? '+away' : ''}`), ['a@localhost/1', 'c@localhost/1', 'b@localhost/1+away', 'd@localhost/1']);
  });

  it('keeps its own copy of an element another recipient readdresses (a MUC broadcast)', () => {
    const { stage, output, wire } = pipeline();
    stage.inactivate();
    const shared = chatState('room@conference.localhost/romeo', 'composing');
    output.send(shared);
    shared.attrs.to = 'someone@localhost/else';
    stage.activate();
    assert.match(wire[0] ?? '', /to="juliet@localhost\/phone"/);
  });

  it('release() gives back what it holds, after what a later stage kept', () => {
    const { stage, output } = pipeline();
    stage.inactivate();
    output.send(chatState('b@localhost/1', 'composing'));
    output.send(presence('a@localhost/1'));
    assert.deepEqual(output.release().map((s) => (typeof s === 'string' ? s : s.name)), ['message', 'presence']);
    assert.equal(stage.heldCount, 0);
  });

  it('learns the nickname from the room\'s self-presence while active, and follows a nick change', () => {
    const { stage, output, wire } = pipeline();
    output.send(new PreparedStanza(selfPresence('room@conference.localhost/jul')).for(ME));
    stage.inactivate();
    output.send(groupchat('room@conference.localhost/romeo', 'lunch?'));
    assert.equal(wire.length, 1, 'no mention: held');
    output.send(groupchat('room@conference.localhost/romeo', 'Jul, lunch?'));
    assert.equal(wire.length, 3, 'a mention flushes and goes out');
    const change = selfPresence('room@conference.localhost/jul', 'unavailable', 303);
    change.getChild('x', NS.mucUser)?.getChild('item')?.attr('nick', 'juju');
    output.send(change);
    output.send(groupchat('room@conference.localhost/romeo', 'jul?'));
    output.send(groupchat('room@conference.localhost/romeo', 'juju?'));
    assert.equal(wire.length, 6, 'the new nickname is the one mentioned');
  });
});
