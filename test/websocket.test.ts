// RFC 7395 XMPP over WebSocket on a raw `ws` client: the opening and closing handshakes of §3.3-3.6,
// framing errors answered with an error frame and <close/>, subprotocol negotiation (§3.1), and
// the namespace-less stanzas Tsung sends.
import assert from 'node:assert/strict';
import { parse, type Element } from 'ltx';
import { WebSocket, type RawData } from 'ws';
import { startTestServer, type TestServer } from './support/server.js';

const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';
const STREAM = 'http://etherx.jabber.org/streams';
const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const OPEN = `<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`;
const CLOSE = `<close xmlns="${FRAMING}"/>`;
/** The error frame and the <close/> that follow it (RFC 7395 §3.6.1). */
const streamError = (condition: string): RegExp =>
  new RegExp(`^<stream:error xmlns:stream="${STREAM}"><${condition} xmlns="${STREAMS}"/>(<text [^>]*>[^<]*</text>)?</stream:error>$`);

/** A WebSocket peer that reads frame by frame. */
class FramePeer {
  private readonly frames: string[] = [];
  private readonly waiters = new Set<() => void>();
  private closeEvent: { code: number; reason: string } | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: RawData, isBinary: boolean) => {
      this.frames.push(isBinary ? `(binary ${rawLength(data)} bytes)` : rawText(data));
      this.wake();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closeEvent = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on('error', () => undefined);
  }

  /** `answerPings: false`: the server's pings stay unanswered, as with a peer that is gone. */
  static async open(url: string, protocols: string[] | undefined = ['xmpp'], answerPings = true): Promise<FramePeer> {
    const ws = protocols ? new WebSocket(url, protocols, { autoPong: answerPings }) : new WebSocket(url, { autoPong: answerPings });
    const peer = new FramePeer(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode ?? '?'}`)));
    });
    return peer;
  }

  send(text: string): void {
    this.ws.send(text);
  }

  /** The next frame the server sent, as text. */
  next(timeoutMs = 5000): Promise<string> {
    return this.until(() => this.frames.shift(), timeoutMs, 'a frame');
  }

  /** The next frame, which must match. */
  async expect(pattern: RegExp, timeoutMs = 5000): Promise<RegExpMatchArray> {
    const frame = await this.next(timeoutMs);
    const match = frame.match(pattern);
    assert.ok(match, `frame ${frame} does not match ${String(pattern)}`);
    return match;
  }

  async element(timeoutMs = 5000): Promise<Element> {
    return parse(await this.next(timeoutMs));
  }

  /** Resolves with the WebSocket close code once the connection is closed. */
  closed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    return this.until(() => this.closeEvent, timeoutMs, 'the WebSocket to close');
  }

  terminate(): void {
    this.ws.terminate();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const attempt = (): void => {
        const value = check();
        if (value === undefined) return;
        this.waiters.delete(attempt);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(attempt);
        reject(new Error(`timed out waiting for ${what}; pending frames: ${this.frames.join(' ') || '(none)'}`));
      }, timeoutMs);
      this.waiters.add(attempt);
      attempt();
    });
  }
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

function rawLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}

describe('RFC 7395 XMPP over WebSocket', function () {
  let server: TestServer;
  let url: string;
  const peers: FramePeer[] = [];
  const connect = async (protocols?: string[]): Promise<FramePeer> => {
    const peer = await FramePeer.open(url, protocols);
    peers.push(peer);
    return peer;
  };
  /** Opens the stream (§3.4) and reads the response <open/> and the features frame. */
  const opened = async (): Promise<{ peer: FramePeer; open: Element; features: string }> => {
    const peer = await connect();
    peer.send(OPEN);
    const open = await peer.element();
    const features = await peer.next();
    return { peer, open, features };
  };

  before(async function () {
    server = await startTestServer();
    await server.addUser('juliet', 'r0m30myr0m30');
    url = `ws://127.0.0.1:${server.ports.http}/xmpp-websocket`;
  });

  afterEach(function () {
    for (const p of peers.splice(0)) p.terminate();
  });

  after(async function () {
    await server?.stop();
  });

  it('§3.4: answers <open/> with from, id, version and xml:lang, then a features frame that declares xmlns:stream', async function () {
    const { open, features } = await opened();
    assert.equal(open.name, 'open');
    assert.equal(open.attrs.xmlns, FRAMING);
    assert.equal(open.attrs.from, 'localhost');
    assert.equal(open.attrs.version, '1.0');
    assert.equal(open.attrs['xml:lang'], 'en');
    assert.match(open.attrs.id ?? '', /^[A-Za-z0-9_-]{16,}$/);
    assert.equal(open.children.length, 0);
    // §3.3.3: every frame stands alone, so the stream prefix is declared in it. Loopback counts as
    // secure (TLS ends at a proxy), so the mechanisms are offered; STARTTLS never is over WebSocket.
    assert.ok(features.startsWith(`<stream:features xmlns:stream="${STREAM}">`), features);
    assert.ok(features.endsWith('</stream:features>'), features);
    // No TLS of ours to bind to (it ends at the proxy, or there is none): no -PLUS, no XEP-0440 types.
    assert.ok(features.includes(`<mechanisms xmlns="${SASL}"><mechanism>SCRAM-SHA-512</mechanism><mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms>`), features);
    assert.doesNotMatch(features, /<starttls|sasl-channel-binding/);
    assert.equal(parse(features).getChild('mechanisms', SASL)?.getChildren('mechanism').length, 4);
  });

  it('§3.6: <close/> from the client is answered with <close/> and the WebSocket closes with 1000', async function () {
    const { peer } = await opened();
    peer.send(CLOSE);
    await peer.expect(new RegExp(`^<close xmlns="${FRAMING}"/>$`));
    assert.equal((await peer.closed()).code, 1000);
  });

  it('§3.2: a binary frame is not-well-formed: error frame, <close/>, WebSocket closed', async function () {
    const { peer } = await opened();
    peer.ws.send(Buffer.from(OPEN), { binary: true });
    await peer.expect(streamError('not-well-formed'));
    await peer.expect(new RegExp(`^<close xmlns="${FRAMING}"/>$`));
    assert.equal((await peer.closed()).code, 1000);
  });

  it('§3.3.3: a frame with two elements is not-well-formed', async function () {
    const { peer } = await opened();
    peer.send(`<auth xmlns="${SASL}" mechanism="PLAIN">=</auth><abort xmlns="${SASL}"/>`);
    await peer.expect(streamError('not-well-formed'));
    await peer.expect(new RegExp(`^<close xmlns="${FRAMING}"/>$`));
    await peer.closed();
  });

  it('RFC 6120 §11.1: a comment is restricted-xml', async function () {
    const { peer } = await opened();
    peer.send('<!-- is anybody there? -->');
    await peer.expect(streamError('restricted-xml'));
    await peer.expect(new RegExp(`^<close xmlns="${FRAMING}"/>$`));
    await peer.closed();
  });

  it('a frame over the stanza size limit is policy-violation', async function () {
    const { peer } = await opened();
    peer.send(`<message xmlns="jabber:client"><body>${'x'.repeat(server.config.c2s.preAuthMaxStanzaSize)}</body></message>`);
    await peer.expect(streamError('policy-violation'));
    await peer.expect(new RegExp(`^<close xmlns="${FRAMING}"/>$`));
    await peer.closed();
  });

  it('a frame over http.max_websocket_frame is refused by the WebSocket layer with close code 1009', async function () {
    const { peer } = await opened();
    peer.send(`<message xmlns="jabber:client"><body>${'x'.repeat(server.config.http.maxWebsocketFrame)}</body></message>`);
    assert.equal((await peer.closed()).code, 1009);
  });

  it('§3.6.1: a stream error is sent as an error frame followed by <close/>', async function () {
    const { peer } = await opened();
    peer.send(`<message xmlns="jabber:client" to="juliet@localhost"><body>before auth</body></message>`);
    const error = await peer.element();
    assert.equal(error.name, 'stream:error');
    assert.equal(error.attrs['xmlns:stream'], STREAM);
    assert.ok(error.getChild('not-authorized', STREAMS), error.toString());
    const close = await peer.element();
    assert.equal(close.toString(), `<close xmlns="${FRAMING}"/>`);
    assert.equal((await peer.closed()).code, 1000);
  });

  it('§3.1: a handshake offering only other subprotocols is refused with HTTP 400', async function () {
    await assert.rejects(FramePeer.open(url, ['xmpp-legacy', 'chat']), /HTTP 400/);
  });

  it('§3.1: a handshake offering no subprotocol is accepted (as ejabberd does)', async function () {
    const peer = await connect([]);
    assert.equal(peer.ws.protocol, '');
    peer.send(OPEN);
    const open = await peer.element();
    assert.equal(open.name, 'open');
    assert.equal(open.attrs.from, 'localhost');
  });

  it('the negotiated subprotocol is "xmpp"', async function () {
    const peer = await connect(['chat', 'xmpp']);
    assert.equal(peer.ws.protocol, 'xmpp');
  });

  it('accepts namespace-less stanzas after login (Tsung) and answers them with stanzas in jabber:client', async function () {
    const { peer, open } = await opened();
    peer.send(`<auth xmlns="${SASL}" mechanism="PLAIN">${Buffer.from('\0juliet\0r0m30myr0m30').toString('base64')}</auth>`);
    await peer.expect(new RegExp(`^<success xmlns="${SASL}"/>$`));
    peer.send(OPEN);
    const reopened = await peer.element();
    assert.equal(reopened.name, 'open');
    assert.notEqual(reopened.attrs.id, open.attrs.id, 'RFC 6120 §4.3.3: a restarted stream has a new id');
    await peer.expect(/^<stream:features xmlns:stream="[^"]+">.*<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"\/>.*<\/stream:features>$/);
    peer.send(`<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>tsung</resource></bind></iq>`);
    const bound = await peer.element();
    assert.equal(bound.attrs.type, 'result');
    assert.equal(bound.getChild('bind')?.getChildText('jid'), 'juliet@localhost/tsung');
    peer.send(`<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const pong = await peer.element();
    assert.deepEqual({ ...pong.attrs }, { type: 'result', id: 'p', to: 'juliet@localhost/tsung', from: 'localhost', xmlns: 'jabber:client' });
    // §3.3.3: each frame is a standalone document, so the stanza namespace is declared in every one.
    assert.equal(bound.attrs.xmlns, 'jabber:client');
  });
});

describe('WebSocket keepalive pings (c2s.tcp_keepalive)', function () {
  this.timeout(20_000);
  let server: TestServer;
  let url: string;
  const peers: FramePeer[] = [];

  before(async function () {
    server = await startTestServer({ c2s: { tcpKeepalive: 1 } });
    await server.addUser('juliet', 'r0m30myr0m30');
    url = `ws://127.0.0.1:${server.ports.http}/xmpp-websocket`;
  });

  afterEach(function () {
    for (const p of peers.splice(0)) p.terminate();
  });

  after(async function () {
    await server?.stop();
  });

  /** A client that counts the server's pings; `answerPings: false` leaves them unanswered, as a dead peer would. */
  const client = async (answerPings = true): Promise<{ peer: FramePeer; pings: () => number }> => {
    const peer = await FramePeer.open(url, ['xmpp'], answerPings);
    peers.push(peer);
    let pings = 0;
    peer.ws.on('ping', () => pings++);
    return { peer, pings: () => pings };
  };

  /** Opens the stream, logs in with PLAIN and binds: a session that may send stanzas. */
  const logIn = async (peer: FramePeer): Promise<void> => {
    peer.send(OPEN);
    await peer.expect(/^<open /);
    await peer.expect(/<mechanisms /);
    peer.send(`<auth xmlns="${SASL}" mechanism="PLAIN">${Buffer.from('\0juliet\0r0m30myr0m30').toString('base64')}</auth>`);
    await peer.expect(/^<success /);
    peer.send(OPEN);
    await peer.expect(/^<open /);
    await peer.expect(/<bind /);
    peer.send(`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`);
    await peer.expect(/id="b"/);
  };

  it('pings a silent client and keeps it while it answers; a client that keeps sending is not pinged meanwhile', async function () {
    const silent = await client();
    const chatty = await client();
    await logIn(chatty.peer);
    const pingsAtStart = chatty.pings();
    let sent = 0;
    const talk = setInterval(() => {
      chatty.peer.send(`<iq type='get' id='p${sent++}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    }, 250);
    try {
      await new Promise((resolve) => setTimeout(resolve, 4500));
    } finally {
      clearInterval(talk);
    }
    assert.ok(silent.pings() >= 1, `the silent client got ${silent.pings()} pings in 4.5 s of a 1-s keepalive`);
    assert.equal(silent.peer.ws.readyState, WebSocket.OPEN, 'a client that answers pings stays connected');
    assert.equal(chatty.pings() - pingsAtStart, 0, `the client that sent ${sent} stanzas was pinged`);
    assert.equal(chatty.peer.ws.readyState, WebSocket.OPEN);
  });

  it('drops a client that leaves its ping unanswered', async function () {
    const dead = await client(false);
    const answering = await client();
    const started = Date.now();
    const closed = await dead.peer.closed(8000).then(
      () => true,
      () => false,
    );
    assert.ok(closed, 'the client that never answers a ping is still connected after 8 s');
    assert.ok(dead.pings() >= 1);
    assert.ok(Date.now() - started >= 1000, 'dropped before a full keepalive period passed');
    assert.equal(answering.peer.ws.readyState, WebSocket.OPEN, 'the client that answers stays');
  });
});
