import assert from 'node:assert/strict';
import { StreamError } from '../errors.js';
import { XmlStreamParser } from './parser.js';
import { decodeUtf8, Utf8StreamDecoder } from './utf8.js';

const notWellFormed = (err: unknown): boolean => err instanceof StreamError && err.condition === 'not-well-formed';

describe('strict UTF-8 decoding (utf8.ts)', function () {
  const text = 'aé€🙂z';
  const bytes = Buffer.from(text);

  it('decodes a text split at every byte boundary exactly as the whole', function () {
    for (let cut = 0; cut <= bytes.length; cut++) {
      for (let cut2 = cut; cut2 <= bytes.length; cut2++) {
        const d = new Utf8StreamDecoder();
        const out = d.write(bytes.subarray(0, cut)) + d.write(bytes.subarray(cut, cut2)) + d.write(bytes.subarray(cut2));
        d.end();
        assert.equal(out, text, `cuts at ${cut}, ${cut2}`);
      }
    }
  });

  it('decodes one byte at a time', function () {
    const d = new Utf8StreamDecoder();
    let out = '';
    for (const b of bytes) out += d.write(Buffer.from([b]));
    assert.equal(out, text);
  });

  for (const [what, seq] of [
    ['0xFF', [0xff]], ['0xFE', [0xfe]], ['0xF5', [0xf5, 0x80, 0x80, 0x80]], ['overlong C0 AF', [0xc0, 0xaf]],
    ['overlong C1 BF', [0xc1, 0xbf]], ['overlong E0 80 AF', [0xe0, 0x80, 0xaf]], ['overlong F0 80 80 AF', [0xf0, 0x80, 0x80, 0xaf]],
    ['surrogate ED A0 80', [0xed, 0xa0, 0x80]], ['surrogate ED BF BF', [0xed, 0xbf, 0xbf]], ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['lone continuation', [0x80]], ['truncated then ASCII', [0xe2, 0x82, 0x41]],
  ] as const) {
    it(`refuses ${what}, whole or split`, function () {
      const buf = Buffer.concat([Buffer.from('ab'), Buffer.from(seq), Buffer.from('cd')]);
      assert.throws(() => decodeUtf8(buf), notWellFormed);
      for (let cut = 0; cut <= buf.length; cut++) {
        const d = new Utf8StreamDecoder();
        assert.throws(() => {
          d.write(buf.subarray(0, cut));
          d.write(buf.subarray(cut));
          d.end();
        }, notWellFormed, `cut at ${cut}`);
      }
    });
  }

  it('an incomplete character at the end of input is an error', function () {
    const d = new Utf8StreamDecoder();
    assert.equal(d.write(Buffer.from([0x61, 0xe2, 0x82])), 'a');
    assert.throws(() => d.end(), notWellFormed);
  });

  it('the stream parser reports invalid UTF-8, and a cut-off character at end(), as not-well-formed', function () {
    const errors: StreamError[] = [];
    const handler = { onStreamStart() {}, onElement() {}, onStreamEnd() {}, onError: (e: StreamError) => void errors.push(e) };
    const header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
    const p1 = new XmlStreamParser(handler, { maxStanzaBytes: 1000, maxDepth: 10 });
    p1.write(Buffer.from(`${header}<message><body>`));
    p1.write(Buffer.from([0xc3, 0x28]));
    assert.deepEqual(errors.map((e) => e.condition), ['not-well-formed']);
    const p2 = new XmlStreamParser(handler, { maxStanzaBytes: 1000, maxDepth: 10 });
    p2.write(Buffer.concat([Buffer.from(`${header}<message><body>`), Buffer.from([0xf0, 0x9f])]));
    assert.equal(errors.length, 1);
    p2.end();
    assert.deepEqual(errors.map((e) => e.condition), ['not-well-formed', 'not-well-formed']);
  });
});
