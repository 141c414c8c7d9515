import assert from 'node:assert/strict';
import { parseFrame } from './framed-parser.js';
import { xml } from './element.js';
import { PreparedStanza } from './prepared.js';

describe('PreparedStanza', function () {
  it('serialises once and addresses each copy, escaping the address', function () {
    const message = xml('message', { from: 'room@conference.localhost/nick', type: 'groupchat', to: 'old@localhost' }, xml('body', null, 'a < b & "c"'));
    const prepared = new PreparedStanza(message);
    const copy = parseFrame(prepared.for("o'neil@localhost/r&1"), { maxStanzaBytes: 10_000, maxDepth: 10 });
    assert.equal(copy.attrs.to, "o'neil@localhost/r&1");
    assert.equal(copy.attrs.from, 'room@conference.localhost/nick');
    assert.equal(copy.attrs.xmlns, 'jabber:client');
    assert.equal(copy.getChildText('body'), 'a < b & "c"');
    assert.equal(message.attrs.to, 'old@localhost', 'the element is left as it was');
    assert.equal(message.attrs.xmlns, undefined);
  });
});
