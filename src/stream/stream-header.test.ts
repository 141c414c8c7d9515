import assert from 'node:assert/strict';
import { StreamError } from '../errors.js';
import { NS } from '../xml/ns.js';
import { checkStreamNamespaces, streamCloseText, streamHeaderText } from './stream-header.js';

describe('stream header (RFC 6120 §4.7, §4.8)', function () {
  it('accepts the stream element in the streams namespace with any prefix, and the expected content namespace', function () {
    assert.equal(checkStreamNamespaces('stream:stream', { 'xmlns:stream': NS.stream, xmlns: NS.client }, NS.client), undefined);
    assert.equal(checkStreamNamespaces('s:stream', { 'xmlns:s': NS.stream, xmlns: NS.component }, NS.component), undefined);
  });

  it('refuses with invalid-namespace: a wrong stream namespace, a wrong or missing content namespace, an unprefixed stream element', function () {
    const cases: [string, Record<string, string>][] = [
      ['stream:stream', { 'xmlns:stream': 'urn:wrong', xmlns: NS.client }],
      ['stream:stream', { xmlns: NS.client }],
      ['stream:stream', { 'xmlns:stream': NS.stream, xmlns: NS.component }],
      ['stream:stream', { 'xmlns:stream': NS.stream }],
      ['stream:other', { 'xmlns:stream': NS.stream, xmlns: NS.client }],
      ['stream', { xmlns: NS.stream }],
    ];
    for (const [name, attrs] of cases) {
      assert.equal(checkStreamNamespaces(name, attrs, NS.client)?.condition, 'invalid-namespace', `${name} ${JSON.stringify(attrs)}`);
    }
  });

  it('writes the header with its attributes in the order given, escaped, and the closing text with or without an error', function () {
    assert.equal(
      streamHeaderText({ 'xmlns:stream': NS.stream, xmlns: NS.component, from: "a'b", id: '1' }),
      `<?xml version='1.0'?><stream:stream xmlns:stream='${NS.stream}' xmlns='${NS.component}' from='a&apos;b' id='1'>`,
    );
    assert.equal(streamCloseText(), '</stream:stream>');
    assert.equal(
      streamCloseText(new StreamError('conflict')),
      `<stream:error><conflict xmlns="${NS.streams}"/></stream:error></stream:stream>`,
    );
  });
});
