// Hostile and broken input on raw sockets: each gets its RFC 6120 stream error (§4.9.3) or SASL
// failure (§6.5), the server stays up, and a bystander's session is untouched.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { connect, type TestClient } from './support/clients.js';
import { rawConnect, STREAM_OPEN } from './support/raw.js';
import { startTestServer, type TestServer } from './support/server.js';

const STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';
const streamError = (condition: string): RegExp => new RegExp(`<stream:error><${condition} xmlns=['"]${STREAMS}['"]`);

describe('bad input on c2s', function () {
  let server: TestServer;
  let bystander: TestClient;

  before(async function () {
    server = await startTestServer({ c2s: { requireTls: false, authTimeout: 1, preAuthMaxStanzaSize: 4096 }, auth: { failuresBeforeDelay: 2, maxFailureDelayMs: 2000 } });
    await server.addUser('alice', 'wonderland');
    await server.addUser('bystander', 'watching');
    bystander = await connect(server, { transport: 'websocket', username: 'bystander', password: 'watching' });
  });

  after(async function () {
    await bystander.stop();
    await server.stop();
  });

  afterEach(async function () {
    // Whatever the previous test did, the bystander's session still works.
    const pong = await bystander.xmpp.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    assert.equal(pong.attrs.type, 'result');
  });

  it('answers bytes that are not XML with not-well-formed', async function () {
    const peer = await rawConnect(server.ports.c2s);
    peer.write(STREAM_OPEN());
    await peer.waitFor(/<stream:features>/);
    peer.write('<message><body>unclosed</wrong></message>');
    await peer.waitFor(streamError('not-well-formed'));
    await peer.closed();
  });

  it('answers garbage before any header with a header and then not-well-formed', async function () {
    const peer = await rawConnect(server.ports.c2s);
    peer.write('GET / HTTP/1.1\r\n\r\n');
    await peer.waitFor(/<stream:stream [^>]*>.*<stream:error><not-well-formed/s);
    await peer.closed();
  });

  it('answers a DTD with restricted-xml', async function () {
    const peer = await rawConnect(server.ports.c2s);
    peer.write(`<?xml version='1.0'?><!DOCTYPE lol [<!ENTITY lol "lol">]><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`);
    await peer.waitFor(streamError('restricted-xml'));
    await peer.closed();
  });

  it('answers a comment with restricted-xml', async function () {
    const peer = await rawConnect(server.ports.c2s);
    peer.write(STREAM_OPEN());
    await peer.waitFor(/<stream:features>/);
    peer.write('<!-- hello -->');
    await peer.waitFor(streamError('restricted-xml'));
    await peer.closed();
  });

  it('answers a stanza over the size cap with policy-violation', async function () {
    const peer = await rawConnect(server.ports.c2s);
    peer.write(STREAM_OPEN());
    await peer.waitFor(/<stream:features>/);
    peer.write(`<message><body>${'x'.repeat(8192)}</body></message>`);
    await peer.waitFor(streamError('policy-violation'));
    await peer.closed();
  });

  it('answers a stanza before authentication with not-authorized', async function () {
    const peer = await rawConnect(server.ports.c2s);
    peer.write(STREAM_OPEN());
    await peer.waitFor(/<stream:features>/);
    peer.write("<message to='alice@localhost'><body>hi</body></message>");
    await peer.waitFor(streamError('not-authorized'));
    await peer.closed();
  });

  it('answers an unknown domain with host-unknown', async function () {
    const peer = await rawConnect(server.ports.c2s);
    peer.write(STREAM_OPEN('example.net'));
    await peer.waitFor(/<stream:stream [^>]*from='localhost'[^>]*>.*<stream:error><host-unknown/s);
    await peer.closed();
  });

  it('answers a wrong stream namespace with invalid-namespace and a wrong version with unsupported-version', async function () {
    const a = await rawConnect(server.ports.c2s);
    a.write("<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='urn:wrong' version='1.0'>");
    await a.waitFor(streamError('invalid-namespace'));
    const b = await rawConnect(server.ports.c2s);
    b.write("<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='2.0'>");
    await b.waitFor(streamError('unsupported-version'));
    // RFC 6120 §4.8.2: an unprefixed stream element makes the streams namespace the default one, so no jabber:client.
    const c = await rawConnect(server.ports.c2s);
    c.write("<stream to='localhost' xmlns='http://etherx.jabber.org/streams' version='1.0'>");
    await c.waitFor(streamError('invalid-namespace'));
    await Promise.all([a.closed(), b.closed(), c.closed()]);
  });

  it('closes a client that connects and says nothing with connection-timeout', async function () {
    const peer = await rawConnect(server.ports.c2s);
    await peer.waitFor(streamError('connection-timeout'), 4000);
    await peer.closed();
  });

  it('fails a wrong password with SASL not-authorized and slows repeated failures down', async function () {
    const peer = await rawConnect(server.ports.c2s);
    peer.write(STREAM_OPEN());
    await peer.waitFor(/<mechanism>PLAIN<\/mechanism>/);
    const attempt = async (n: number): Promise<number> => {
      const started = Date.now();
      peer.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0wrong').toString('base64')}</auth>`);
      await peer.waitFor(new RegExp(`(<failure xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']><not-authorized/></failure>.*){${n}}`, 's'));
      return Date.now() - started;
    };
    const first = await attempt(1);
    await attempt(2);
    const third = await attempt(3);
    assert.ok(third >= 200, `the third failure answered after ${third} ms; expected a delay`);
    assert.ok(first < third, 'later failures are slower');
    peer.destroy();
  });

  it('answers a malformed iq with bad-request and keeps the session', async function () {
    const peer = await rawConnect(server.ports.c2s);
    peer.write(STREAM_OPEN());
    await peer.waitFor(/<mechanism>PLAIN<\/mechanism>/);
    peer.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0wonderland').toString('base64')}</auth>`);
    await peer.waitFor(/<success/);
    peer.write(STREAM_OPEN());
    await peer.waitFor(/<bind xmlns=["']urn:ietf:params:xml:ns:xmpp-bind["']\/>/);
    peer.write("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>");
    await peer.waitFor(/<jid>alice@localhost\/raw<\/jid>/);
    peer.write("<iq type='get' id='two'><ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/></iq>");
    await peer.waitFor(/<iq type="error" id="two"[^>]*><error type="modify"><bad-request/);
    peer.write("<iq type='fetch' id='three'><ping xmlns='urn:xmpp:ping'/></iq>");
    await peer.waitFor(/<iq type="error" id="three"[^>]*><error type="modify"><bad-request/);
    peer.write("<iq type='get' id='four' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
    await peer.waitFor(/<iq type="result" id="four"/);
    peer.write('</stream:stream>');
    await peer.waitFor(/<\/stream:stream>/);
    await peer.closed();
  });
});
