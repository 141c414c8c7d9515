// XEP-0199 XMPP Ping, walked through its own examples against a real server on raw TCP streams:
// client-to-server pings (§4.2) and the server pinging idle clients (§4.1), whose silence ends
// the session with connection-timeout.
import assert from 'node:assert/strict';
import { rawLogin, type RawStream } from '../../test/support/raw-stream.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';

const PING = 'urn:xmpp:ping';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

describe('XEP-0199 XMPP Ping', function () {
  describe('pings from clients (§4.2, §4.4)', function () {
    let server: TestServer;
    let juliet: RawStream;
    let jid: string;

    before(async function () {
      server = await startTestServer({ c2s: { requireTls: false } });
      await server.addUser('juliet', 'capulet');
      await server.addUser('romeo', 'montague');
      ({ stream: juliet, jid } = await rawLogin(server.ports.c2s, 'juliet', 'capulet', 'balcony'));
    });

    after(async function () {
      juliet?.destroy();
      await server?.stop();
    });

    it('§4.2 Examples 4-5: a ping to the server is answered with an empty result', async function () {
      juliet.write(`<iq from='${jid}' to='localhost' id='c2s1' type='get'><ping xmlns='${PING}'/></iq>`);
      const pong = await juliet.element('iq');
      assert.equal(pong.toString(), `<iq type="result" id="c2s1" to="${jid}" from="localhost"/>`);
    });

    it('§4.2 note: a ping to the own bare JID, or with no "to", is answered by the server', async function () {
      juliet.write(`<iq to='juliet@localhost' id='c2s2' type='get'><ping xmlns='${PING}'/></iq>`);
      const bare = await juliet.element('iq');
      assert.equal(bare.toString(), `<iq type="result" id="c2s2" to="${jid}" from="juliet@localhost"/>`);
      juliet.write(`<iq id='c2s3' type='get'><ping xmlns='${PING}'/></iq>`);
      const none = await juliet.element('iq');
      assert.equal(none.toString(), `<iq type="result" id="c2s3" to="${jid}"/>`);
    });

    it('§4.4 Examples 10-11: a ping to another connected client is passed on, and so is its pong', async function () {
      const { stream: romeo, jid: romeoJid } = await rawLogin(server.ports.c2s, 'romeo', 'montague', 'home');
      try {
        romeo.write(`<iq to='${jid}' type='get' id='e2e1'><ping xmlns='${PING}'/></iq>`);
        const ping = await juliet.element('iq');
        assert.deepEqual({ ...ping.attrs }, { to: jid, type: 'get', id: 'e2e1', xmlns: 'jabber:client', from: romeoJid });
        assert.equal(ping.children.join(''), `<ping xmlns="${PING}"/>`);
        juliet.write(`<iq to='${romeoJid}' id='e2e1' type='result'/>`);
        const pong = await romeo.element('iq');
        assert.deepEqual({ ...pong.attrs }, { to: romeoJid, id: 'e2e1', type: 'result', xmlns: 'jabber:client', from: jid });
        assert.equal(pong.children.length, 0);
      } finally {
        romeo.destroy();
      }
    });

    it('§6: a ping to a full JID with no connected resource is service-unavailable from that full JID', async function () {
      juliet.write(`<iq to='romeo@localhost/gone' type='get' id='e2e2'><ping xmlns='${PING}'/></iq>`);
      const error = await juliet.element('iq');
      assert.equal(error.attrs.type, 'error');
      assert.equal(error.attrs.id, 'e2e2');
      assert.equal(error.attrs.from, 'romeo@localhost/gone');
      assert.equal(error.getChild('error')?.attrs.type, 'cancel');
      assert.ok(error.getChild('error')?.getChild('service-unavailable', STANZAS), error.toString());
    });

    it('§5 Examples 16-17: the server advertises urn:xmpp:ping in disco#info', async function () {
      juliet.write(`<iq to='localhost' id='disco1' type='get'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
      const info = await juliet.element('iq');
      assert.equal(info.attrs.id, 'disco1');
      assert.ok(info.getChild('query')?.getChildren('feature').some((f) => f.attrs.var === PING), info.toString());
    });

    it('an iq set with <ping/> is not a ping: service-unavailable (RFC 6120 §8.4)', async function () {
      juliet.write(`<iq to='localhost' id='c2s4' type='set'><ping xmlns='${PING}'/></iq>`);
      const error = await juliet.element('iq');
      assert.equal(error.attrs.type, 'error');
      assert.equal(error.attrs.id, 'c2s4');
      assert.ok(error.getChild('error')?.getChild('service-unavailable', STANZAS), error.toString());
    });
  });

  describe('§4.1 server-to-client ping', function () {
    let server: TestServer;
    const streams: RawStream[] = [];
    const login = async (resource: string): Promise<{ stream: RawStream; jid: string }> => {
      const session = await rawLogin(server.ports.c2s, 'romeo', 'montague', resource);
      streams.push(session.stream);
      return session;
    };

    before(async function () {
      server = await startTestServer({ c2s: { requireTls: false, pingInterval: 1, pingTimeout: 1 } });
      await server.addUser('romeo', 'montague');
    });

    afterEach(function () {
      for (const s of streams.splice(0)) s.destroy();
    });

    after(async function () {
      await server?.stop();
    });

    it('§4.1 Examples 1-2: an idle client is pinged, and answering keeps the session', async function () {
      const { stream, jid } = await login('answering');
      for (let round = 1; round <= 2; round++) {
        const ping = await stream.element('iq', 4000);
        assert.equal(ping.attrs.type, 'get');
        assert.equal(ping.attrs.from, 'localhost');
        assert.equal(ping.attrs.to, jid);
        assert.ok(ping.attrs.id, 'the ping has an id');
        assert.equal(ping.children.length, 1);
        assert.ok(ping.getChild('ping', PING), ping.toString());
        stream.write(`<iq from='${jid}' to='localhost' id='${ping.attrs.id}' type='result'/>`);
      }
      // Past the timeout of the last ping: still connected, no stream error, still registered.
      await stream.silence(/<stream:error>/, 1500);
      assert.equal(stream.closed, false);
      assert.ok(server.server.sessions.get(jid), 'the session is still bound');
    });

    it('§4.1 Example 3: an error answer also shows the client is there', async function () {
      const { stream, jid } = await login('erring');
      const ping = await stream.element('iq', 4000);
      assert.ok(ping.getChild('ping', PING));
      stream.write(`<iq from='${jid}' to='localhost' id='${ping.attrs.id}' type='error'><ping xmlns='${PING}'/><error type='cancel'><service-unavailable xmlns='${STANZAS}'/></error></iq>`);
      await stream.silence(/<stream:error>/, 1500);
      assert.equal(stream.closed, false);
      assert.ok(server.server.sessions.get(jid), 'the session is still bound');
    });

    it('§4.1: a client that does not answer is closed with connection-timeout and its session removed', async function () {
      const { stream, jid } = await login('silent');
      const ping = await stream.element('iq', 4000);
      assert.ok(ping.getChild('ping', PING));
      assert.ok(server.server.sessions.get(jid), 'bound while the ping is outstanding');
      await stream.expect(/<stream:error><connection-timeout xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>.*?<\/stream:error><\/stream:stream>/s, 4000);
      await stream.waitClosed();
      // The server drops the session when its side of the connection closes, a moment after ours.
      const closedAt = Date.now();
      while (server.server.sessions.get(jid) && Date.now() - closedAt < 1000) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(server.server.sessions.get(jid), undefined, 'the session is removed');
    });
  });
});
