// serialize() must give exactly what ltx's Element#toString gives: checked on hand-picked elements (escaping in
// attributes and text, numbers, empty elements, prefixes, a subclass that writes itself) and on random trees.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Element, xml } from './element.js';
import { serialize } from './serialize.js';

class Shouting extends Element {
  override write(writer: (part: string) => void): void {
    writer('<SHOUT/>');
  }
}

const text = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '&', '<', '>', '"', "'", 'é', '😀', '\n') });
const name = fc.constantFrom('message', 'body', 'x', 'stream:features', 'q:query', 'a-b.c_d');
const attrs = fc.dictionary(fc.constantFrom('to', 'from', 'id', 'type', 'xmlns', 'xml:lang', 'h'), text, { maxKeys: 4 });
const tree = fc.letrec<{ element: Element }>((tie) => ({
  element: fc
    .tuple(name, attrs, fc.array(fc.oneof({ depthSize: 'small' }, text, tie('element')), { maxLength: 4 }))
    .map(([n, a, children]) => {
      const el = new Element(n, a);
      for (const child of children) el.cnode(child as Element);
      return el;
    }),
})).element;

describe('serialize', () => {
  it('equals ltx on hand-picked elements', () => {
    const cases: Element[] = [
      xml('message', { to: 'a@b/c', type: 'chat', id: `x'"<>&` }, xml('body', null, 'a < b & c > d "\' é 😀')),
      xml('presence'),
      xml('iq', { type: 'result', id: '1' }, xml('query', { xmlns: 'jabber:iq:roster' })),
      xml('a', { n: 5 }, xml('b', null, ''), 'tail & text'),
      new Element('stream:features'),
    ];
    const odd = xml('message', { to: 'x' });
    odd.children.push(new Shouting('ignored'), 'after');
    cases.push(odd);
    const withUnset = new Element('m', { to: 'x' });
    withUnset.attrs.from = undefined;
    withUnset.attrs.id = null;
    cases.push(withUnset);
    for (const el of cases) assert.equal(serialize(el), el.toString());
  });

  it('equals ltx on random trees', () => {
    fc.assert(
      fc.property(tree, (el) => serialize(el) === el.toString()),
      { numRuns: 200 },
    );
  });
});
