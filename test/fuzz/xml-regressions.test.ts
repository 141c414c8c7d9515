// Counterexamples fast-check found in the XML parser (test/fuzz/xml-parser.test.ts), kept as plain examples.
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { XmlStreamParser } from '../../src/xml/parser.js';

const HEADER = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

function events(chunks: readonly Buffer[]): string[] {
  const out: string[] = [];
  const parser = new XmlStreamParser({
    onStreamStart(name) { out.push(`start ${name}`); },
    onElement(el) { out.push(el.toString()); },
    onStreamEnd() { out.push('end'); },
    onError(err) { out.push(`error ${err.condition}`); },
  }, { maxStanzaBytes: 4096, maxDepth: 8 });
  for (const c of chunks) parser.write(c);
  return out;
}

describe('XML parser: fuzzing counterexamples', function () {
  it('reads what precedes invalid UTF-8 in the same read, as it would in an earlier read', function () {
    const data = Buffer.concat([Buffer.from(`${HEADER}<presence/>`), Buffer.from([0xd2, 0xde])]);
    const expected = ['start stream:stream', '<presence xmlns="jabber:client"/>', 'error not-well-formed'];
    assert.deepEqual(events([data.subarray(0, HEADER.length + 11), data.subarray(HEADER.length + 11)]), expected);
    assert.deepEqual(events([data]), expected);
  });

  it("reports a bad entity in an attribute value before a later '<' in it, whatever the chunking", function () {
    const data = Buffer.from(`${HEADER}<message to='x&gtì; y<z'/>`);
    const cut = data.indexOf(' y<');
    assert.deepEqual(events([data.subarray(0, cut), data.subarray(cut)]), ['start stream:stream', 'error restricted-xml']);
    assert.deepEqual(events([data]), ['start stream:stream', 'error restricted-xml']);
  });
});
