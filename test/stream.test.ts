// RFC 6120 on a raw TCP connection: the §9.1 client-to-server transcript from the first header to
// the closing handshake, then the SASL failures of §6.5, the stream errors of §4.9 and the stanza
// errors of §8.3 that a scripted peer can provoke.
import assert from 'node:assert/strict';
import { plainAuth, rawLogin, RawStream, STREAM_HEADER } from './support/raw-stream.js';
import { describeBackends } from './support/backends.js';
import type { TestServer } from './support/server.js';

const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
/** The response stream header (RFC 6120 §4.7); the TCP transport writes it with single quotes. */
const RESPONSE_HEADER = /^<\?xml version='1.0'\?><stream:stream xmlns='jabber:client' xmlns:stream='http:\/\/etherx.jabber.org\/streams' from='localhost' id='([^']+)' version='1.0' xml:lang='en'>/;
const FEATURES = /<stream:features>(.*?)<\/stream:features>/s;

describeBackends('RFC 6120 streams on raw TCP', function (backend) {
  describe('§9.1 client-to-server transcript (TLS required)', function () {
    let server: TestServer;

    before(async function () {
      server = await backend.start();
      await server.addUser('juliet', 'r0m30myr0m30');
    });

    after(async function () {
      await server?.stop();
    });

    it('header, STARTTLS, SASL PLAIN, restart, bind, legacy session, closing handshake', async function () {
      const peer = await RawStream.connect(server.ports.c2s);
      const ids: string[] = [];
      try {
        // §9.1.1 TLS: the server answers the header and offers only STARTTLS, marked required
        // (§5.3.1: while TLS is mandatory-to-negotiate, no other feature SHOULD be advertised).
        peer.write(STREAM_HEADER());
        ids.push((await peer.expect(RESPONSE_HEADER))[1] ?? '');
        const [, initial = ''] = await peer.expect(FEATURES);
        assert.equal(initial, `<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required/></starttls>`);
        peer.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
        await peer.expect(/^<proceed xmlns="urn:ietf:params:xml:ns:xmpp-tls"\/>$/);
        await peer.startTls();
        assert.equal(peer.encrypted, true);

        // §9.1.2 SASL: after TLS, a new stream with the mechanisms and no STARTTLS.
        peer.write(STREAM_HEADER());
        ids.push((await peer.expect(RESPONSE_HEADER))[1] ?? '');
        const [, secured = ''] = await peer.expect(FEATURES);
        assert.ok(
          secured.includes(
            `<mechanisms xmlns="${SASL}"><mechanism>SCRAM-SHA-512-PLUS</mechanism><mechanism>SCRAM-SHA-256-PLUS</mechanism><mechanism>SCRAM-SHA-1-PLUS</mechanism>` +
              '<mechanism>SCRAM-SHA-512</mechanism><mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms>' +
              '<sasl-channel-binding xmlns="urn:xmpp:sasl-cb:0"><channel-binding type="tls-exporter"/><channel-binding type="tls-server-end-point"/></sasl-channel-binding>',
          ),
          `mechanisms missing or out of order in ${secured}`,
        );
        assert.doesNotMatch(secured, /<starttls/);
        peer.write(plainAuth('juliet', 'r0m30myr0m30'));
        await peer.expect(new RegExp(`^<success xmlns="${SASL}"/>$`));

        // §9.1.3 Resource binding: a restarted stream offers bind and (RFC 3921) an optional session.
        peer.write(STREAM_HEADER());
        ids.push((await peer.expect(RESPONSE_HEADER))[1] ?? '');
        const [, authenticated = ''] = await peer.expect(FEATURES);
        assert.match(authenticated, /<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"\/>/);
        assert.match(authenticated, /<session xmlns="urn:ietf:params:xml:ns:xmpp-session"><optional\/><\/session>/);
        assert.doesNotMatch(authenticated, /<mechanisms|<starttls/);
        // §4.3.3: a new stream ID for every restart.
        assert.equal(new Set(ids).size, 3, `stream ids must differ: ${ids.join(', ')}`);

        peer.write(`<iq id='yhc13a95' type='set'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`);
        const [, jid = '', resource = ''] = await peer.expect(/^<iq type="result" id="yhc13a95"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>(juliet@localhost\/([^<]+))<\/jid><\/bind><\/iq>$/);
        assert.ok(resource.length >= 8, `the server-generated resource "${resource}" is not random enough`);
        assert.equal(server.server.sessions.get(jid)?.jid.toString(), jid);

        // RFC 3921 §3: the legacy session request (older clients, Tsung) gets an empty result.
        peer.write(`<iq type='set' id='sess_1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`);
        await peer.expect(/^<iq type="result" id="sess_1"\/>$/);
        peer.write(`<iq to='localhost' type='set' id='sess_2'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`);
        await peer.expect(/^<iq type="result" id="sess_2" from="localhost"\/>$/);

        // §4.4 closing handshake: the server answers </stream:stream> with its own and closes.
        peer.write('</stream:stream>');
        await peer.expect(/^<\/stream:stream>$/);
        await peer.waitClosed();
        await eventually(() => server.server.sessions.get(jid) === undefined, 'the session is removed');
      } finally {
        peer.destroy();
      }
    });

    it('§5.3.1 / §6.5.4: SASL before TLS, where TLS is required, fails with encryption-required', async function () {
      const peer = await RawStream.connect(server.ports.c2s);
      try {
        peer.write(STREAM_HEADER());
        await peer.expect(FEATURES);
        peer.write(plainAuth('juliet', 'r0m30myr0m30'));
        await peer.expect(new RegExp(`^<failure xmlns="${SASL}"><encryption-required/>(<text xml:lang="en">[^<]*</text>)?</failure>$`));
        assert.equal(server.server.sessions.resources('juliet@localhost').length, 0);
        assert.equal(peer.closed, false, 'a SASL failure does not close the stream');
      } finally {
        peer.destroy();
      }
    });
  });

  describe('§6.5 SASL failures (TLS not required)', function () {
    let server: TestServer;

    before(async function () {
      // The throttle is tested in bad-input.test.ts; here it would only slow the failures down.
      server = await backend.start({ c2s: { requireTls: false }, auth: { failuresBeforeDelay: 1000 } });
      await server.addUser('juliet', 'r0m30myr0m30');
    });

    after(async function () {
      await server?.stop();
    });

    const opened = async (): Promise<RawStream> => {
      const peer = await RawStream.connect(server.ports.c2s);
      peer.write(STREAM_HEADER());
      await peer.expect(/<mechanism>PLAIN<\/mechanism>.*?<\/stream:features>/s);
      return peer;
    };

    it('§6.5.7: an unknown mechanism is invalid-mechanism', async function () {
      const peer = await opened();
      try {
        peer.write(`<auth xmlns='${SASL}' mechanism='X-UNKNOWN'>=</auth>`);
        await peer.expect(new RegExp(`^<failure xmlns="${SASL}"><invalid-mechanism/>(<text[^>]*>[^<]*</text>)?</failure>$`));
      } finally {
        peer.destroy();
      }
    });

    it('§6.4.4 / §6.5.1: <abort/> during a SCRAM exchange is answered with <aborted/>, and the stream can authenticate afterwards', async function () {
      const peer = await opened();
      try {
        const clientFirst = Buffer.from('n,,n=juliet,r=fyko+d2lbbFgONRv9qkxdawL').toString('base64');
        peer.write(`<auth xmlns='${SASL}' mechanism='SCRAM-SHA-1'>${clientFirst}</auth>`);
        const [, challenge = ''] = await peer.expect(new RegExp(`^<challenge xmlns="${SASL}">([^<]+)</challenge>$`));
        assert.match(Buffer.from(challenge, 'base64').toString(), /^r=fyko\+d2lbbFgONRv9qkxdawL[^,]+,s=[^,]+,i=\d+,h=[^,]+$/);
        peer.write(`<abort xmlns='${SASL}'/>`);
        await peer.expect(new RegExp(`^<failure xmlns="${SASL}"><aborted/></failure>$`));
        peer.write(plainAuth('juliet', 'r0m30myr0m30'));
        await peer.expect(new RegExp(`^<success xmlns="${SASL}"/>$`));
      } finally {
        peer.destroy();
      }
    });

    it('§6.5.5: data that is not base64 is incorrect-encoding', async function () {
      const peer = await opened();
      try {
        peer.write(`<auth xmlns='${SASL}' mechanism='PLAIN'>not*base64!</auth>`);
        await peer.expect(new RegExp(`^<failure xmlns="${SASL}"><incorrect-encoding/></failure>$`));
      } finally {
        peer.destroy();
      }
    });

    it('§6.4.2: non-canonical base64 (non-zero pad bits) is incorrect-encoding, even with the right password', async function () {
      const peer = await opened();
      try {
        // "\0juliet\0r0m30myr0m30" is AGp1bGlldAByMG0zMG15cjBtMzA=; with the last data character's pad
        // bits set (A -> B) Node's decoder still yields the same bytes, so only a strict decoder refuses it.
        peer.write(`<auth xmlns='${SASL}' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzB=</auth>`);
        await peer.expect(new RegExp(`^<failure xmlns="${SASL}"><incorrect-encoding/></failure>$`));
        // Positive control: the canonical form of the same credentials logs in on the same stream.
        peer.write(`<auth xmlns='${SASL}' mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>`);
        await peer.expect(new RegExp(`^<success xmlns="${SASL}"/>$`));
      } finally {
        peer.destroy();
      }
    });

    it('§6.4.5: after five failed attempts the stream is closed with policy-violation', async function () {
      const peer = await opened();
      try {
        for (let attempt = 1; attempt <= 4; attempt++) {
          peer.write(plainAuth('juliet', `wrong-${attempt}`));
          await peer.expect(new RegExp(`^<failure xmlns="${SASL}"><not-authorized/></failure>$`));
          assert.equal(peer.closed, false, `closed after only ${attempt} failures`);
        }
        peer.write(plainAuth('juliet', 'wrong-5'));
        await peer.expect(new RegExp(`^<failure xmlns="${SASL}"><not-authorized/></failure><stream:error><policy-violation xmlns="${STREAMS}"/>.*?</stream:error></stream:stream>$`, 's'));
        await peer.waitClosed();
      } finally {
        peer.destroy();
      }
    });
  });

  describe('§4.9 stream errors and §8.3 stanza errors after binding', function () {
    let server: TestServer;
    let juliet: RawStream;
    let jid: string;

    before(async function () {
      server = await backend.start({ c2s: { requireTls: false } });
      await server.addUser('juliet', 'r0m30myr0m30');
    });

    beforeEach(async function () {
      ({ stream: juliet, jid } = await rawLogin(server.ports.c2s, 'juliet', 'r0m30myr0m30', 'balcony'));
    });

    afterEach(function () {
      juliet.destroy();
    });

    after(async function () {
      await server?.stop();
    });

    it('§7: a second bind on the same stream is not-allowed', async function () {
      juliet.write(`<iq type='set' id='bind_2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>again</resource></bind></iq>`);
      const error = await juliet.element('iq');
      assert.equal(error.attrs.type, 'error');
      assert.equal(error.attrs.id, 'bind_2');
      assert.equal(error.getChild('error')?.attrs.type, 'cancel');
      assert.ok(error.getChild('error')?.getChild('not-allowed', STANZAS), error.toString());
      assert.equal(server.server.sessions.get('juliet@localhost/again'), undefined);
      assert.ok(server.server.sessions.get(jid), 'the first binding stays');
    });

    it('§8.1.2.1 / §4.9.3.9: a forged "from" closes the stream with invalid-from', async function () {
      juliet.write(`<message from='romeo@localhost/orchard' to='juliet@localhost' type='chat'><body>it is I</body></message>`);
      await juliet.expect(new RegExp(`^<stream:error><invalid-from xmlns="${STREAMS}"/>.*?</stream:error></stream:stream>$`, 's'));
      await juliet.waitClosed();
    });

    it('§8.1.2.1: "from" with the own full or bare JID is accepted', async function () {
      juliet.write(`<iq from='${jid}' to='localhost' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`);
      await juliet.expect(/^<iq type="result" id="p1"[^>]*\/>$/);
      juliet.write(`<iq from='juliet@localhost' to='localhost' type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>`);
      await juliet.expect(/^<iq type="result" id="p2"[^>]*\/>$/);
    });

    it('§8.3.3.8: a malformed "to" is bounced with jid-malformed', async function () {
      juliet.write(`<message to='@localhost' type='chat' id='jm1'><body>hello?</body></message>`);
      const bounce = await juliet.element('message');
      assert.equal(bounce.attrs.type, 'error');
      assert.equal(bounce.attrs.id, 'jm1');
      assert.equal(bounce.attrs.to, jid);
      assert.equal(bounce.getChild('error')?.attrs.type, 'modify');
      assert.ok(bounce.getChild('error')?.getChild('jid-malformed', STANZAS), bounce.toString());
      assert.equal(bounce.getChildText('body'), 'hello?', 'a message bounce carries the original payload');
    });

    it('§8.3.3.1: presence of an unknown type is bad-request', async function () {
      juliet.write(`<presence type='dancing' id='pr1'/>`);
      const bounce = await juliet.element('presence');
      assert.equal(bounce.attrs.type, 'error');
      assert.equal(bounce.attrs.id, 'pr1');
      assert.equal(bounce.getChild('error')?.attrs.type, 'modify');
      assert.ok(bounce.getChild('error')?.getChild('bad-request', STANZAS), bounce.toString());
    });

    it('§10 / §8.3.3.19: a chat message to the server domain, which handles none, is service-unavailable', async function () {
      juliet.write(`<message to='localhost' type='chat' id='sd1'><body>hello server</body></message>`);
      const bounce = await juliet.element('message');
      assert.equal(bounce.attrs.type, 'error');
      assert.equal(bounce.attrs.id, 'sd1');
      assert.equal(bounce.attrs.from, 'localhost');
      assert.equal(bounce.attrs.to, jid);
      assert.equal(bounce.getChild('error')?.attrs.type, 'cancel');
      assert.ok(bounce.getChild('error')?.getChild('service-unavailable', STANZAS), bounce.toString());
    });
  });
});

async function eventually(check: () => boolean, what: string, timeoutMs = 1000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
