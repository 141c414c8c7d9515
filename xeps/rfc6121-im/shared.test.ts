// Unit tests of the shared helpers: readdressed copies (the per-user work queue is src/cluster/exclusive.ts).
import assert from 'node:assert/strict';
import { xml } from '../../src/xml/element.js';
import { readdress } from './shared.js';

describe('im shared helpers', function () {
  it('readdress copies attributes, replaces some and keeps the children', function () {
    const original = xml('presence', { from: 'a@localhost/x', id: 'p1' }, xml('show', null, 'away'));
    const copy = readdress(original, { to: 'b@localhost' });
    assert.equal(copy.toString(), '<presence from="a@localhost/x" id="p1" to="b@localhost"><show>away</show></presence>');
    assert.equal(original.attrs.to, undefined);
  });
});
