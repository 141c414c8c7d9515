// RFC 6120 §11.6: a client's bytes that are not UTF-8 are a `not-well-formed` stream error on every
// transport, never silently turned into U+FFFD; a character split across reads is still accepted.
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, type RawData } from 'ws';
import { RawBosh } from './support/bosh.js';
import { bystanders, type Bystanders } from './support/bystanders.js';
import { connect, type TestClient } from './support/clients.js';
import { rawLogin, STREAM_HEADER } from './support/raw-stream.js';
import { startTestServer, type TestServer } from './support/server.js';

const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const NOT_WELL_FORMED = /<stream:error[^>]*><not-well-formed xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/;

/** Byte sequences RFC 3629 does not allow. */
const INVALID: Array<[string, number[]]> = [
  ['a lone 0xFF byte', [0xff]],
  ['a 0xF5 lead byte', [0xf5, 0x80, 0x80, 0x80]],
  ['an overlong "/" (C0 AF)', [0xc0, 0xaf]],
  ['an overlong three-byte form (E0 80 AF)', [0xe0, 0x80, 0xaf]],
  ['a UTF-8-encoded surrogate (ED A0 80)', [0xed, 0xa0, 0x80]],
  ['a code point above U+10FFFF (F4 90 80 80)', [0xf4, 0x90, 0x80, 0x80]],
  ['a lone continuation byte', [0x80]],
  ['a truncated sequence followed by ASCII', [0xe2, 0x82, 0x41]],
];

const messageBytes = (bad: number[]): Buffer =>
  Buffer.concat([Buffer.from("<message to='nobody@localhost' type='chat'><body>x"), Buffer.from(bad), Buffer.from('</body></message>')]);

async function tcpConnect(port: number): Promise<{ socket: net.Socket; text: () => string; closed: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, text: () => received, closed };
}

async function wsOpen(server: TestServer): Promise<{ ws: WebSocket; frames: string[]; closed: Promise<number> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.ports.http}/xmpp-websocket`, ['xmpp']);
  const frames: string[] = [];
  ws.on('message', (data: RawData) => frames.push(Buffer.isBuffer(data) ? data.toString('utf8') : String(data)));
  ws.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
  await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { ws, frames, closed };
}

describe('invalid UTF-8 from a client is not-well-formed (RFC 6120 §11.6)', function () {
  let server: TestServer;
  let others: Bystanders;

  before(async function () {
    server = await startTestServer({ c2s: { requireTls: false } });
    await server.addUser('utf8-user', 'secret-pass');
    await server.addUser('utf8-peer', 'secret-pass');
    others = await bystanders(server);
  });

  after(async function () {
    await others?.stop();
    await server?.stop();
  });

  describe('TCP', function () {
    for (const [what, bytes] of INVALID) {
      it(`${what}: stream error, connection closed, others keep chatting`, async function () {
        const peer = await tcpConnect(server.ports.c2s);
        peer.socket.write(STREAM_HEADER());
        peer.socket.write(messageBytes(bytes));
        await peer.closed;
        assert.match(peer.text(), NOT_WELL_FORMED);
        await others.chat(`after ${what}`);
      });
    }

    it('a character split across two reads is decoded, not refused (positive control)', async function () {
      const sender = await rawLogin(server.ports.c2s, 'utf8-user', 'secret-pass', 'split');
      const receiver: TestClient = await connect(server, { transport: 'tcp', username: 'utf8-peer', password: 'secret-pass', resource: 'r' });
      try {
        const arrived = receiver.next((s) => s.is('message') && s.attrs.id === 'split-1');
        const text = Buffer.from(`<message to='${receiver.jid}' id='split-1' type='chat'><body>€🙂é</body></message>`);
        const euro = text.indexOf(0xe2);
        const emoji = text.indexOf(0xf0);
        // Each part ends inside a multi-byte character; the pauses make them separate reads.
        for (const [from, to] of [[0, euro + 1], [euro + 1, emoji + 2], [emoji + 2, text.length]] as const) {
          sender.stream.write(text.subarray(from, to) as unknown as string);
          await sleep(50);
        }
        assert.equal((await arrived).getChildText('body'), '€🙂é');
      } finally {
        sender.stream.destroy();
        await receiver.stop();
      }
    });
  });

  describe('WebSocket', function () {
    for (const [what, bytes] of INVALID.slice(0, 5)) {
      it(`${what} in a text frame: the stream error frame and <close/>, not a bare close 1007`, async function () {
        const peer = await wsOpen(server);
        peer.ws.send(`<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`);
        await sleep(100);
        peer.ws.send(messageBytes(bytes), { binary: false });
        const code = await peer.closed;
        const all = peer.frames.join('\n');
        assert.match(all, NOT_WELL_FORMED, all);
        assert.match(all, new RegExp(`<close xmlns="${FRAMING}"/>`));
        assert.equal(code, 1000);
        await others.chat(`after WebSocket ${what}`);
      });
    }

    it('valid multi-byte text in a frame is accepted (positive control)', async function () {
      const peer = await wsOpen(server);
      peer.ws.send(`<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`);
      await sleep(100);
      peer.ws.send(Buffer.from(`<iq xmlns="jabber:client" type="get" id="q1"><query xmlns="jabber:iq:auth">€🙂</query></iq>`), { binary: false });
      await sleep(300);
      const frames = peer.frames.join('\n');
      assert.doesNotMatch(frames, NOT_WELL_FORMED);
      // The stanza was read as one: before authentication the server answers it with not-authorized.
      assert.match(frames, /<not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/, frames);
      peer.ws.terminate();
    });
  });

  describe('BOSH', function () {
    it('a body with invalid UTF-8 ends the session with bad-request; others keep chatting', async function () {
      const bosh = new RawBosh(server);
      await bosh.login('utf8-user', 'secret-pass', 'bosh');
      const receiver = await connect(server, { transport: 'tcp', username: 'utf8-peer', password: 'secret-pass', resource: 'bosh-r' });
      try {
        const [head = '', tail = ''] = bosh.next('@@').split('@@');
        const payload = Buffer.concat([Buffer.from(`${head}<message xmlns='jabber:client' to='${receiver.jid}' id='b1' type='chat'><body>a`), Buffer.from([0xc0, 0xaf]), Buffer.from(`</body></message>${tail}`)]);
        const res = await rawPost(server, payload);
        assert.match(res, /type=['"]terminate['"]/);
        assert.match(res, /condition=['"]bad-request['"]/);
        await assert.rejects(receiver.next((s) => s.attrs.id === 'b1', 500));
        await others.chat('after BOSH');
      } finally {
        await receiver.stop();
      }
    });

    it('a body with valid multi-byte text is delivered (positive control)', async function () {
      const bosh = new RawBosh(server);
      await bosh.login('utf8-user', 'secret-pass', 'bosh2');
      const receiver = await connect(server, { transport: 'tcp', username: 'utf8-peer', password: 'secret-pass', resource: 'bosh-r2' });
      try {
        const arrived = receiver.next((s) => s.attrs.id === 'b2');
        // The request is held until the session has something to say (XEP-0124 §7); the message arrives meanwhile.
        const held = bosh.request(`<message xmlns='jabber:client' to='${receiver.jid}' id='b2' type='chat'><body>€🙂</body></message>`, {}, { timeoutMs: 15_000 }).catch(() => undefined);
        assert.equal((await arrived).getChildText('body'), '€🙂');
        void held;
      } finally {
        await receiver.stop();
      }
    });
  });
});

/** A POST of raw bytes to /http-bind; resolves with the answer's text. */
function rawPost(server: TestServer, body: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: server.ports.http }, () => {
      socket.write(`POST /http-bind HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
      socket.write(body);
    });
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}
