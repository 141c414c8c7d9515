// XEP-0114 Jabber Component Protocol, walked through §3's examples on raw TCP streams against a
// real server, then used: xmpp.js users over WebSocket talk to a raw component and to Strophe.js's
// own XEP-0114 component transport, a third-party implementation of the component side.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { xml } from '@xmpp/client';
import { Strophe, $msg } from 'strophe.js';
import { connect, type TestClient } from '../../test/support/clients.js';
import { RawStream, rawLogin } from '../../test/support/raw-stream.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import type { StropheElement } from '../../test/support/strophe.js';
import { componentListenerPort } from './index.js';
import { handshakeDigest } from './stream.js';

const STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';

/** §3 Example 1, with our component's domain. */
const header = (to: string | undefined, ns = 'jabber:component:accept'): string =>
  `<stream:stream xmlns='${ns}' xmlns:stream='http://etherx.jabber.org/streams'${to === undefined ? '' : ` to='${to}'`}>`;

/** The server's answer to a header (§3 Example 2); captures the stream id. */
const SERVER_HEADER = /<stream:stream xmlns:stream='http:\/\/etherx\.jabber\.org\/streams' xmlns='jabber:component:accept' from='([^']*)' id='([^']+)'>/;

const sha1 = (text: string): string => createHash('sha1').update(text, 'utf8').digest('hex');

/** Waits for a stream error with this condition, then for the end of the stream and the connection. */
async function expectStreamError(stream: RawStream, condition: string): Promise<void> {
  await stream.expect(new RegExp(`<stream:error><${condition} xmlns="${STREAMS}"/>(<text [^>]*>[^<]*</text>)?</stream:error></stream:stream>`));
  await stream.waitClosed();
}

const GATEWAY = 'gateway.localhost';
const BOT = 'bot.localhost';
const STROPHE = 'strophe.localhost';

describe('XEP-0114 Jabber Component Protocol', function () {
  let server: TestServer;
  let port: number;
  const open: RawStream[] = [];
  const clients: TestClient[] = [];

  async function rawComponent(): Promise<RawStream> {
    const stream = await RawStream.connect(port);
    open.push(stream);
    return stream;
  }

  /** A component through §3 Examples 1-4: header, id, handshake, empty <handshake/>. */
  async function component(domain: string, secret: string): Promise<RawStream> {
    const stream = await rawComponent();
    stream.write(header(domain));
    const [, , id = ''] = await stream.expect(SERVER_HEADER);
    stream.write(`<handshake>${sha1(id + secret)}</handshake>`);
    await stream.expect(/^<handshake\/>/);
    return stream;
  }

  async function user(username: string, resource: string): Promise<TestClient> {
    const client = await connect(server, { transport: 'websocket', username, password: `${username}-pw`, resource });
    clients.push(client);
    // Available, so that messages to the bare JID reach this resource (RFC 6121 §8.5.2.1.1).
    await client.xmpp.send(xml('presence'));
    return client;
  }

  before(async function () {
    server = await startTestServer({
      c2s: { requireTls: false },
      component: { port: 0 },
      components: [
        { domain: GATEWAY, secret: 'test', name: 'Test gateway' },
        { domain: BOT, secret: 'bot-secret' },
        { domain: STROPHE, secret: 'strophe-secret' },
      ],
    });
    const bound = componentListenerPort(server.config);
    assert.ok(bound !== undefined && bound > 0, 'the component listener did not start');
    port = bound;
    for (const name of ['juliet', 'romeo', 'nurse']) await server.addUser(name, `${name}-pw`);
  });

  afterEach(async function () {
    // Closing the stream properly: the server frees the domain before it answers </stream:stream>,
    // so the next test can connect the same component at once.
    for (const stream of open.splice(0)) {
      if (!stream.closed) {
        stream.write('</stream:stream>');
        await stream.waitClosed().catch(() => undefined);
      }
      stream.destroy();
    }
    for (const client of clients.splice(0)) await client.stop();
  });

  after(async function () {
    await server?.stop();
  });

  describe('§3 protocol flow on a raw stream', function () {
    it('Example 3: the handshake is hex(SHA1(stream id + secret)) in lowercase', function () {
      assert.equal(handshakeDigest('3BF96D32', 'test'), 'aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e');
    });

    it('Examples 1-4: header, server header with from = the component and a fresh id, handshake, empty <handshake/>', async function () {
      const ids = new Set<string>();
      for (let i = 0; i < 2; i++) {
        const stream = await rawComponent();
        stream.write(`<?xml version='1.0'?>${header('Gateway.Localhost')}`);
        const [, from, id = ''] = await stream.expect(SERVER_HEADER);
        assert.equal(from, GATEWAY, 'the server names the component domain, normalised');
        assert.match(id, /^[0-9a-f]{24}$/);
        ids.add(id);
        stream.write(`<handshake>${sha1(`${id}test`)}</handshake>`);
        await stream.expect(/^<handshake\/>$/);
        stream.write('</stream:stream>');
        await stream.expect(/^<\/stream:stream>$/);
        // The domain is free once the server has answered </stream:stream>.
        await stream.waitClosed();
      }
      assert.equal(ids.size, 2, 'every stream gets its own id');
    });

    it('Example 5: a wrong handshake is the not-authorized stream error', async function () {
      const stream = await rawComponent();
      stream.write(header(GATEWAY));
      const [, , id = ''] = await stream.expect(SERVER_HEADER);
      stream.write(`<handshake>${sha1(`${id}wrong`)}</handshake>`);
      await expectStreamError(stream, 'not-authorized');
      assert.doesNotMatch(stream.received, /<handshake\/>/);
    });

    it('a handshake computed over another id (a replayed digest) is not-authorized', async function () {
      const stream = await rawComponent();
      stream.write(header(GATEWAY));
      await stream.expect(SERVER_HEADER);
      stream.write('<handshake>aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e</handshake>');
      await expectStreamError(stream, 'not-authorized');
    });

    it('a domain with no component configured, or no to at all, is host-unknown', async function () {
      for (const to of ['unknown.localhost', 'localhost', undefined, 'not a domain']) {
        const stream = await rawComponent();
        stream.write(header(to));
        const [, from] = await stream.expect(SERVER_HEADER);
        assert.equal(from, 'localhost', 'the header before the error comes from the server');
        await expectStreamError(stream, 'host-unknown');
      }
    });

    it('a default namespace other than jabber:component:accept is invalid-namespace', async function () {
      for (const opening of [
        header(GATEWAY, 'jabber:client'),
        header(GATEWAY, 'jabber:component:connect'),
        `<stream:stream xmlns='jabber:component:accept' xmlns:stream='urn:example:not-streams' to='${GATEWAY}'>`,
        `<stream xmlns='jabber:component:accept' to='${GATEWAY}'>`,
      ]) {
        const stream = await rawComponent();
        stream.write(opening);
        await stream.expect(SERVER_HEADER);
        await expectStreamError(stream, 'invalid-namespace');
      }
    });

    it('a stanza before the handshake is not-authorized', async function () {
      const stream = await rawComponent();
      stream.write(header(GATEWAY));
      await stream.expect(SERVER_HEADER);
      stream.write(`<message from='bot@${GATEWAY}' to='juliet@localhost'><body>early</body></message>`);
      await expectStreamError(stream, 'not-authorized');
    });

    it('parser errors close the stream with their own condition', async function () {
      const cases: [string, string][] = [
        ['<handshake>abc</shakehand>', 'not-well-formed'],
        ['<!-- a comment -->', 'restricted-xml'],
        [`<handshake>${'a'.repeat(server.config.c2s.preAuthMaxStanzaSize + 10)}</handshake>`, 'policy-violation'],
      ];
      for (const [data, condition] of cases) {
        const stream = await rawComponent();
        stream.write(header(GATEWAY));
        await stream.expect(SERVER_HEADER);
        stream.write(data);
        await expectStreamError(stream, condition);
      }
      const broken = await rawComponent();
      broken.write('<stream:stream xmlns="jabber:component:accept" <<');
      await expectStreamError(broken, 'not-well-formed');
    });

    it('a second connection for a connected component is refused with conflict; the first keeps working', async function () {
      const first = await component(GATEWAY, 'test');
      const second = await rawComponent();
      second.write(header(GATEWAY));
      const [, , id = ''] = await second.expect(SERVER_HEADER);
      second.write(`<handshake>${sha1(`${id}test`)}</handshake>`);
      await expectStreamError(second, 'conflict');

      const juliet = await user('juliet', 'conflict');
      await juliet.xmpp.send(xml('message', { to: `echo@${GATEWAY}`, id: 'still-there' }, xml('body', null, 'ping')));
      const message = await first.element('message');
      assert.equal(message.attrs.id, 'still-there');
      assert.equal(first.closed, false);
    });

    it('after the component disconnects its domain is free again', async function () {
      const first = await component(BOT, 'bot-secret');
      first.write('</stream:stream>');
      await first.waitClosed();
      const again = await component(BOT, 'bot-secret');
      assert.equal(again.closed, false);
    });
  });

  describe('routing', function () {
    it('a message from a user reaches the component with from and to kept; its reply reaches the user', async function () {
      const gateway = await component(GATEWAY, 'test');
      const juliet = await user('juliet', 'balcony');
      await juliet.xmpp.send(xml('message', { to: `bot@${GATEWAY}`, type: 'chat', id: 'm1' }, xml('body', null, 'Hello, bot')));

      const received = await gateway.element('message');
      assert.deepEqual(received.attrs, { to: `bot@${GATEWAY}`, type: 'chat', id: 'm1', from: juliet.jid }, 'from stamped with the full JID; no jabber:client on the component stream');
      assert.equal(received.getChildText('body'), 'Hello, bot');

      gateway.write(`<message from='bot@${GATEWAY}/engine' to='${juliet.jid}' type='chat' id='r1'><body>Hello, Juliet</body></message>`);
      const reply = await juliet.next((s) => s.is('message') && s.attrs.id === 'r1');
      assert.equal(reply.attrs.from, `bot@${GATEWAY}/engine`);
      assert.equal(reply.getChildText('body'), 'Hello, Juliet');

      // To the bare JID: the router's delivery rules send it to the available resource.
      gateway.write(`<message from='bot@${GATEWAY}' to='juliet@localhost' type='chat' id='r2'><body>again</body></message>`);
      const bare = await juliet.next((s) => s.is('message') && s.attrs.id === 'r2');
      assert.equal(bare.attrs.from, `bot@${GATEWAY}`);
    });

    it('an iq from a user is answered by the component; the component\'s iq to a user gets the user\'s answer', async function () {
      const gateway = await component(GATEWAY, 'test');
      const juliet = await user('juliet', 'iq');
      const pending = juliet.xmpp.iqCaller.request(xml('iq', { type: 'get', to: GATEWAY, id: 'info1' }, xml('query', { xmlns: DISCO_INFO })));
      const request = await gateway.element('iq');
      assert.equal(request.attrs.from, juliet.jid);
      assert.equal(request.attrs.to, GATEWAY);
      assert.equal(request.attrs.id, 'info1');
      assert.ok(request.getChild('query', DISCO_INFO), request.toString());
      gateway.write(
        `<iq type='result' from='${GATEWAY}' to='${juliet.jid}' id='info1'><query xmlns='${DISCO_INFO}'><identity category='gateway' type='irc' name='IRC'/></query></iq>`,
      );
      const result = await pending;
      assert.equal(result.attrs.from, GATEWAY);
      assert.equal(result.getChild('query', DISCO_INFO)?.getChild('identity')?.attrs.type, 'irc');

      // The other way round: xmpp.js answers an iq it has no handler for with an error, which comes back.
      gateway.write(`<iq type='get' from='${GATEWAY}' to='${juliet.jid}' id='c2u'><query xmlns='urn:example:unknown'/></iq>`);
      const answer = await gateway.element('iq');
      assert.equal(answer.attrs.id, 'c2u');
      assert.equal(answer.attrs.from, juliet.jid);
      assert.equal(answer.attrs.to, GATEWAY);
      assert.ok(answer.attrs.type === 'error' || answer.attrs.type === 'result', answer.toString());
    });

    it('presence subscriptions between a user and a JID at the component go through the roster rules', async function () {
      const gateway = await component(GATEWAY, 'test');
      const nurse = await user('nurse', 'subscribe');
      // Its own user: the roster item it leaves behind makes later logins probe the component.
      // Requesting the roster makes this resource interested in roster pushes (RFC 6121 §2.1.6).
      await nurse.xmpp.iqCaller.request(xml('iq', { type: 'get', id: 'roster' }, xml('query', { xmlns: 'jabber:iq:roster' })));
      await nurse.xmpp.send(xml('presence', { to: `bot@${GATEWAY}`, type: 'subscribe', id: 'sub' }));
      const request = await gateway.element('presence');
      assert.equal(request.attrs.type, 'subscribe');
      assert.equal(request.attrs.from, 'nurse@localhost', 'RFC 6121 §3.1.2: outbound subscription requests come from the bare JID');
      assert.equal(request.attrs.to, `bot@${GATEWAY}`);

      gateway.write(`<presence type='subscribed' from='bot@${GATEWAY}' to='nurse@localhost' id='ok'/>`);
      const push = await nurse.next((s) => s.is('iq') && s.attrs.type === 'set' && s.getChild('query', 'jabber:iq:roster')?.getChild('item')?.attrs.subscription === 'to');
      assert.equal(push.getChild('query', 'jabber:iq:roster')?.getChild('item')?.attrs.jid, `bot@${GATEWAY}`);
      const approval = await nurse.next((s) => s.is('presence') && s.attrs.type === 'subscribed');
      assert.equal(approval.attrs.from, `bot@${GATEWAY}`);
    });

    it('a stanza the router cannot deliver is bounced back to the component', async function () {
      const gateway = await component(GATEWAY, 'test');
      gateway.write(`<message from='bot@${GATEWAY}' to='nobody@localhost' id='lost'><body>?</body></message>`);
      const bounce = await gateway.element('message');
      assert.equal(bounce.attrs.type, 'error');
      assert.equal(bounce.attrs.id, 'lost');
      assert.equal(bounce.attrs.to, `bot@${GATEWAY}`);
      assert.ok(bounce.getChild('error')?.getChild('service-unavailable', STANZAS), bounce.toString());

      gateway.write(`<iq type='get' from='${GATEWAY}' to='localhost' id='srv'><query xmlns='${DISCO_INFO}'/></iq>`);
      const info = await gateway.element('iq');
      assert.equal(info.attrs.type, 'result', 'the server answers the component like any entity');
      assert.equal(info.attrs.to, GATEWAY);
    });

    it('while the component is not connected, stanzas to its domain are service-unavailable', async function () {
      const juliet = await user('juliet', 'down');
      await juliet.xmpp.send(xml('message', { to: `someone@${BOT}`, id: 'down1' }, xml('body', null, 'anyone?')));
      const bounce = await juliet.next((s) => s.is('message') && s.attrs.id === 'down1');
      assert.equal(bounce.attrs.type, 'error');
      assert.equal(bounce.attrs.from, `someone@${BOT}`);
      assert.ok(bounce.getChild('error')?.getChild('service-unavailable', STANZAS), bounce.toString());

      await assert.rejects(juliet.xmpp.iqCaller.request(xml('iq', { type: 'get', to: BOT, id: 'down2' }, xml('query', { xmlns: DISCO_INFO }))), (err: unknown) => {
        assert.equal((err as { condition?: string }).condition, 'service-unavailable');
        return true;
      });
    });

    it('only the component\'s exact domain is routed to it, not its subdomains', async function () {
      const gateway = await component(GATEWAY, 'test');
      const juliet = await user('juliet', 'sub');
      await juliet.xmpp.send(xml('message', { to: `x@sub.${GATEWAY}`, id: 'sub1' }, xml('body', null, 'hi')));
      const bounce = await juliet.next((s) => s.is('message') && s.attrs.id === 'sub1');
      assert.equal(bounce.attrs.type, 'error');
      assert.ok(bounce.getChild('error')?.getChild('remote-server-not-found', STANZAS), bounce.toString());
      await gateway.silence(/<message/, 100);
    });

    it('a from outside the component\'s domain is invalid-from', async function () {
      for (const from of ['juliet@localhost/balcony', `bot@${BOT}`, 'localhost', '@@@']) {
        const gateway = await component(GATEWAY, 'test');
        gateway.write(`<message from='${from}' to='romeo@localhost'><body>spoofed</body></message>`);
        await expectStreamError(gateway, 'invalid-from');
      }
    });

    it('a stanza without to or from is improper-addressing; a non-stanza is unsupported-stanza-type', async function () {
      const cases: [string, string][] = [
        [`<message from='bot@${GATEWAY}'><body>where to?</body></message>`, 'improper-addressing'],
        [`<message to='juliet@localhost'><body>from whom?</body></message>`, 'improper-addressing'],
        [`<handshake>again</handshake>`, 'unsupported-stanza-type'],
        [`<message xmlns='jabber:server' from='bot@${GATEWAY}' to='juliet@localhost'/>`, 'unsupported-stanza-type'],
      ];
      for (const [data, condition] of cases) {
        const gateway = await component(GATEWAY, 'test');
        gateway.write(data);
        await expectStreamError(gateway, condition);
      }
    });

    it('the server lists the components in its disco#items', async function () {
      const { stream, jid } = await rawLogin(server.ports.c2s, 'romeo', 'romeo-pw', 'disco');
      open.push(stream);
      stream.write(`<iq type='get' to='localhost' id='items'><query xmlns='${DISCO_ITEMS}'/></iq>`);
      const result = await stream.element('iq');
      assert.equal(result.attrs.type, 'result');
      assert.equal(result.attrs.to, jid);
      const items = result.getChild('query', DISCO_ITEMS)?.getChildren('item').map((i) => ({ ...i.attrs })) ?? [];
      // The components in their configured order, before the services other modules add (MUC, upload...).
      assert.deepEqual(items.slice(0, 3), [{ jid: GATEWAY, name: 'Test gateway' }, { jid: BOT }, { jid: STROPHE }]);
      assert.ok(items.some((i) => i.jid === 'conference.localhost'), 'the other services are listed too');
    });
  });

  describe('Strophe.js as the component (its XEP-0114 transport)', function () {
    type StropheConnection = InstanceType<typeof Strophe.Connection>;

    async function stropheComponent(domain: string, secret: string): Promise<{ connection: StropheConnection; received: StropheElement[] }> {
      Strophe.setLogLevel(Strophe.LogLevel.FATAL);
      const connection = new Strophe.Connection(`tcp://127.0.0.1:${port}`, { protocol: 'component' });
      const received: StropheElement[] = [];
      connection.addHandler((stanza: StropheElement) => {
        received.push(stanza);
        return true;
      }, null, null, null, null, null);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('Strophe did not connect in time')), 10_000);
        connection.connect(domain, secret, (status: number, condition: string | null) => {
          if (status === Strophe.Status.CONNECTED) {
            clearTimeout(timer);
            resolve();
          } else if (status === Strophe.Status.AUTHFAIL || status === Strophe.Status.CONNFAIL) {
            clearTimeout(timer);
            reject(new Error(`Strophe failed: ${condition ?? String(status)}`));
          }
        });
      });
      return { connection, received };
    }

    async function until<T>(check: () => T | undefined, what: string): Promise<T> {
      for (let waited = 0; waited < 5000; waited += 20) {
        const found = check();
        if (found !== undefined) return found;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error(`timed out waiting for ${what}`);
    }

    it('connects with the handshake and exchanges messages with an xmpp.js user', async function () {
      const { connection, received } = await stropheComponent(STROPHE, 'strophe-secret');
      try {
        const romeo = await user('romeo', 'garden');
        await romeo.xmpp.send(xml('message', { to: `echo@${STROPHE}`, type: 'chat', id: 's1' }, xml('body', null, 'Is anyone there?')));
        const message = await until(() => received.find((s) => s.tagName === 'message' && s.getAttribute('id') === 's1'), 'the message at Strophe');
        assert.equal(message.getAttribute('from'), romeo.jid);
        assert.equal(message.getAttribute('to'), `echo@${STROPHE}`);
        assert.equal(message.getElementsByTagName('body')[0]?.textContent, 'Is anyone there?');

        // Strophe writes its stanzas in jabber:client; the server accepts them on the component stream.
        connection.send($msg({ from: `echo@${STROPHE}`, to: romeo.jid, type: 'chat', id: 's2' }).c('body').t('Echo: Is anyone there?'));
        const reply = await romeo.next((s) => s.is('message') && s.attrs.id === 's2');
        assert.equal(reply.attrs.from, `echo@${STROPHE}`);
        assert.equal(reply.getChildText('body'), 'Echo: Is anyone there?');
      } finally {
        connection.disconnect('done');
      }
    });

    it('reports the server\'s not-authorized for a wrong secret', async function () {
      await assert.rejects(stropheComponent(STROPHE, 'wrong'), /not-authorized/);
    });
  });
});

describe('XEP-0114 handshake timeout and shutdown', function () {
  let server: TestServer;
  let port: number;

  before(async function () {
    server = await startTestServer({ component: { port: 0, handshakeTimeout: 1 }, components: [{ domain: 'slow.localhost', secret: 's' }] });
    port = componentListenerPort(server.config) ?? 0;
  });

  after(async function () {
    await server?.stop();
  });

  it('a component that does not complete the handshake in time gets connection-timeout', async function () {
    const stream = await RawStream.connect(port);
    try {
      stream.write(header('slow.localhost'));
      await stream.expect(SERVER_HEADER);
      await expectStreamError(stream, 'connection-timeout');
    } finally {
      stream.destroy();
    }
  });

  it('a connected component gets system-shutdown when the server stops, and the listener closes', async function () {
    const stream = await RawStream.connect(port);
    stream.write(header('slow.localhost'));
    const [, , id = ''] = await stream.expect(SERVER_HEADER);
    stream.write(`<handshake>${sha1(`${id}s`)}</handshake>`);
    await stream.expect(/<handshake\/>/);
    const stopping = server.stop();
    await expectStreamError(stream, 'system-shutdown');
    await stopping;
    await assert.rejects(RawStream.connect(port));
  });

  it('with no components configured, no listener is opened', async function () {
    const plain = await startTestServer({ component: { port: 0 } });
    try {
      assert.equal(componentListenerPort(plain.config), undefined);
      const items = plain.server.disco.listItems('localhost').map((i) => i.jid);
      assert.ok(items.includes('conference.localhost'), 'control: the other services are listed');
      assert.deepEqual(items.filter((jid) => [GATEWAY, BOT, STROPHE].includes(jid)), [], 'no component');
    } finally {
      await plain.stop();
    }
  });
});

/** A raw component through §3 Examples 1-4 on its own connection. */
async function handshaken(port: number, domain: string, secret: string): Promise<RawStream> {
  const stream = await RawStream.connect(port);
  stream.write(header(domain));
  const [, , id = ''] = await stream.expect(SERVER_HEADER);
  stream.write(`<handshake>${sha1(id + secret)}</handshake>`);
  await stream.expect(/^<handshake\/>/);
  return stream;
}

const POLICY_VIOLATION = new RegExp(`<stream:error><policy-violation xmlns="${STREAMS}"/>`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// The component stream is the core's TCP stream: the client streams' limits hold on it too.
describe('XEP-0114 component streams under the client streams\' limits', function () {
  const DOMAIN = 'limits.localhost';

  /** A server with one component and these limits; what a test opens is closed after it. */
  function withServer(overrides: Parameters<typeof startTestServer>[0]): { server: () => TestServer; port: () => number; track: <T extends { destroy(): void }>(c: T) => T } {
    let server: TestServer | undefined;
    const opened: Array<{ destroy(): void }> = [];
    before(async function () {
      server = await startTestServer({ ...overrides, c2s: { requireTls: false }, component: { port: 0 }, components: [{ domain: DOMAIN, secret: 'limits' }] });
      await server.addUser('sender', 'sender-pw');
    });
    afterEach(function () {
      for (const c of opened.splice(0)) c.destroy();
    });
    after(async function () {
      await server?.stop();
    });
    return {
      server: () => server as TestServer,
      port: () => componentListenerPort((server as TestServer).config) ?? 0,
      track: (c) => {
        opened.push(c);
        return c;
      },
    };
  }

  describe('stanza size (c2s.pre_auth_max_stanza_size before the handshake, c2s.max_stanza_size after it)', function () {
    const ctx = withServer({});

    it('after the handshake a stanza over the pre-handshake cap is routed; one over c2s.max_stanza_size is policy-violation', async function () {
      const server = ctx.server();
      const sender = await connect(server, { transport: 'websocket', username: 'sender', password: 'sender-pw', resource: 'size' });
      ctx.track({ destroy: () => void sender.stop() });
      await sender.xmpp.send(xml('presence'));
      const gateway = ctx.track(await handshaken(ctx.port(), DOMAIN, 'limits'));
      const big = 'x'.repeat(server.config.c2s.preAuthMaxStanzaSize * 2);
      gateway.write(`<message from='bot@${DOMAIN}' to='${sender.jid}' id='big' type='chat'><body>${big}</body></message>`);
      const arrived = await sender.next((s) => s.is('message') && s.attrs.id === 'big');
      assert.equal(arrived.getChildText('body')?.length, big.length);

      gateway.write(`<message from='bot@${DOMAIN}' to='${sender.jid}' id='huge' type='chat'><body>${'x'.repeat(server.config.c2s.maxStanzaSize)}</body></message>`);
      await expectStreamError(gateway, 'policy-violation');
    });
  });

  describe('parser backlog in bytes (limits.max_backlog_bytes = 16384)', function () {
    const ctx = withServer({ limits: { maxBacklogBytes: 16_384 } });
    /** `count` messages of about 1 kB, ids `<prefix>-<first>`, `<prefix>-<first + 1>`... */
    const burst = (to: string, prefix: string, first: number, count: number): string =>
      Array.from({ length: count }, (_, i) => `<message from='bot@${DOMAIN}' to='${to}' id='${prefix}-${first + i}' type='chat'><body>${'x'.repeat(920)}</body></message>`).join('');

    it('a burst of stanzas worth more than the cap waiting at once is policy-violation', async function () {
      const gateway = ctx.track(await handshaken(ctx.port(), DOMAIN, 'limits'));
      // 40 stanzas of 1 kB in one write: parsed in one go, they wait together to be routed.
      gateway.write(burst('sender@localhost', 'b', 0, 40));
      await gateway.expect(POLICY_VIOLATION);
      assert.match(gateway.received, /too much data waiting to be processed/);
      await gateway.waitClosed();
    });

    it('the same stanzas a few at a time are routed (positive control)', async function () {
      const sender = await connect(ctx.server(), { transport: 'websocket', username: 'sender', password: 'sender-pw', resource: 'backlog' });
      ctx.track({ destroy: () => void sender.stop() });
      const last = sender.next((s) => s.is('message') && s.attrs.id === 'ok-39');
      const gateway = ctx.track(await handshaken(ctx.port(), DOMAIN, 'limits'));
      for (let i = 0; i < 40; i += 4) {
        gateway.write(burst(sender.jid, 'ok', i, 4));
        await sleep(20);
      }
      await last;
      assert.doesNotMatch(gateway.received, /<stream:error/);
    });
  });

  describe('output a component leaves unread (limits.max_output_bytes = 65536)', function () {
    const ctx = withServer({ limits: { maxOutputBytes: 65_536, readRate: 64 * 1024 * 1024, readBurst: 64 * 1024 * 1024, stanzaRate: 1_000_000, stanzaBurst: 1_000_000 } });

    it('a component that does not read is disconnected with policy-violation; what it did not take is bounced to the sender, nothing lost', async function () {
      this.timeout(60_000);
      const gateway = ctx.track(await handshaken(ctx.port(), DOMAIN, 'limits'));
      gateway.pause();
      const sender = await connect(ctx.server(), { transport: 'tcp', username: 'sender', password: 'sender-pw', resource: 'flood' });
      ctx.track({ destroy: () => void sender.stop() });
      const bounced = new Set<string>();
      sender.xmpp.on('stanza', (stanza) => {
        if (stanza.is('message') && stanza.attrs.type === 'error' && stanza.getChild('error')?.getChild('service-unavailable', STANZAS)) bounced.add(String(stanza.attrs.id));
      });
      // Big stanzas, so that the socket buffers hold a few of them and the cap is passed soon after.
      const ids = Array.from({ length: 80 }, (_, i) => `slow-${i}`);
      const body = 'y'.repeat(200_000);
      for (const id of ids) await sender.xmpp.send(xml('message', { to: `echo@${DOMAIN}`, id, type: 'chat' }, xml('body', {}, body)));
      await sleep(1000);
      gateway.resume();
      await gateway.expect(POLICY_VIOLATION, 20_000);
      await gateway.waitClosed(10_000);

      const read = new Set([...gateway.received.matchAll(/<message [^>]*id="(slow-\d+)"/g)].map((m) => m[1]));
      assert.ok(read.size > 0 && read.size < ids.length, `the component read ${read.size} of ${ids.length}: the limit was not reached`);
      const rest = ids.filter((id) => !read.has(id));
      for (let i = 0; i < 100 && bounced.size < rest.length; i++) await sleep(100);
      assert.deepEqual([...bounced].sort(), rest.sort(), 'every message the component did not read comes back to its sender, once');
    });
  });
});
