// serialize() must give exactly what ltx's own Element#write gives, except for tab, newline and carriage return in
// attribute values, which it writes as character references (XML 1.0 §3.3.3): checked on hand-picked elements
// (escaping in attributes and text, numbers, empty elements, prefixes, a subclass that writes itself) and on random
// trees; and Element#toString writes what serialize() writes.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Element, xml } from './element.js';
import { parseFrame } from './framed-parser.js';
import { ltxWrite, serialize } from './serialize.js';

/** The text ltx itself would write. */
function byLtx(element: Element): string {
  let out = '';
  ltxWrite.call(element, (part: string) => (out += part));
  return out;
}

class Shouting extends Element {
  override write(writer: (part: string) => void): void {
    writer('<SHOUT/>');
  }
}

const text = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '&', '<', '>', '"', "'", 'é', '😀', '\n') });
const name = fc.constantFrom('message', 'body', 'x', 'stream:features', 'q:query', 'a-b.c_d');
const attrText = (withBreaks: boolean) => fc.string({ unit: fc.constantFrom('a', 'b', ' ', '&', '<', '>', '"', "'", 'é', '😀', ...(withBreaks ? ['\n', '\t', '\r'] : [])) });
const treeOf = (attrValue: fc.Arbitrary<string>) => fc.letrec<{ element: Element }>((tie) => ({
  element: fc
    .tuple(name, fc.dictionary(fc.constantFrom('to', 'from', 'id', 'type', 'xml:lang', 'h'), attrValue, { maxKeys: 4 }), fc.array(fc.oneof({ depthSize: 'small' }, text, tie('element')), { maxLength: 4 }))
    .map(([n, a, children]) => {
      const el = new Element(n, a);
      for (const child of children) el.cnode(child as Element);
      return el;
    }),
})).element;
const tree = treeOf(attrText(false));
const treeWithBreaks = treeOf(attrText(true));

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
    for (const el of cases) assert.equal(serialize(el), byLtx(el));
  });

  it('equals ltx on random trees without tab, newline or carriage return in attribute values', () => {
    fc.assert(
      fc.property(tree, (el) => serialize(el) === byLtx(el)),
      { numRuns: 200 },
    );
  });

  it('writes tab, newline and carriage return in attribute values as character references (XML 1.0 §3.3.3)', () => {
    const el = xml('message', { to: 'a@b', id: 'x\ty\nz\r' }, xml('body', null, 'line 1\nline 2'));
    assert.equal(serialize(el), '<message to="a@b" id="x&#9;y&#10;z&#13;"><body>line 1\nline 2</body></message>');
    assert.equal(el.toString(), serialize(el));
  });

  it('round-trips attribute values through the stream parser, which turns a literal tab or newline into a space', () => {
    fc.assert(
      fc.property(treeWithBreaks, (el) => {
        const text = serialize(el).replaceAll(/<(\/?)[a-z]+:/g, '<$1');
        const read = parseFrame(text, { maxStanzaBytes: 1 << 20, maxDepth: 100 });
        const want = new Map(Object.entries(el.attrs).filter(([k]) => k !== 'xmlns'));
        for (const [k, v] of want) assert.equal(read.attrs[k], v, `attribute ${k}`);
        return true;
      }),
      { numRuns: 200 },
    );
  });

  it('Element#toString writes what serialize() writes', () => {
    fc.assert(
      fc.property(treeWithBreaks, (el) => el.toString() === serialize(el)),
      { numRuns: 200 },
    );
  });
});
