// TCP and WebSocket transports between "the connection stops taking writes" and "the connection reports its
// close": stanzas sent in that gap are kept and handed to the stream with the disconnect, so that it can
// route them again (src/stream/undelivered.ts). Real sockets on loopback; the stream is a recorder.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { createLogger } from '../observability/log.js';
import type { StreamError } from '../errors.js';
import type { StreamEvents, Undelivered } from '../stream/transport.js';
import { xml } from '../xml/element.js';
import { TcpTransport } from './tcp.js';
import { createWebSocketEndpoint, type WebSocketTransport } from './websocket.js';

const LIMITS = { maxStanzaBytes: 65536, maxDepth: 16 };
const log = createLogger('silent');

class Recorder implements StreamEvents {
  undelivered: readonly Undelivered[] | undefined;
  private resolveGone: (() => void) | undefined;
  readonly gone = new Promise<void>((resolve) => (this.resolveGone = resolve));
  onStreamStart(): void {}
  onElement(): void {}
  onStreamEnd(): void {}
  onStreamError(_error: StreamError): void {}
  reported(): boolean {
    return this.undelivered !== undefined;
  }
  onDisconnect(undelivered: readonly Undelivered[] = []): void {
    this.undelivered = undelivered;
    this.resolveGone?.();
  }
}

function listen(server: net.Server | http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

const message = (id: string) => xml('message', { to: 'a@localhost/r', from: 'b@localhost/s', type: 'chat', id }, xml('body', null, id));

describe('closing connections keep what they could not write', function () {
  it('TCP: stanzas sent after the peer closed its side are handed to the stream at the close', async function () {
    const recorder = new Recorder();
    let sentInGap: Promise<void> | undefined;
    const server = net.createServer((socket) => {
      const transport = new TcpTransport(socket, { log, secureContext: tls.createSecureContext(), certificate: { cert: '', key: '' }, limits: LIMITS, keepaliveSeconds: 60 }, false);
      transport.attach(recorder);
      // Registered after the transport's own listener: the peer's FIN has been seen, the close not yet.
      sentInGap = new Promise((resolve) =>
        socket.once('end', () => {
          transport.send(message('after-fin'));
          transport.sendText('<message xmlns="jabber:client" to="a@localhost/r" type="chat" id="copy"><body>c</body></message>');
          resolve();
        }),
      );
    });
    const port = await listen(server);
    try {
      const client = net.connect(port, '127.0.0.1');
      await new Promise((resolve) => client.once('connect', resolve));
      await new Promise((resolve) => setTimeout(resolve, 20));
      client.end();
      await recorder.gone;
      await sentInGap;
      assert.equal(recorder.undelivered?.length, 2);
      assert.equal((recorder.undelivered?.[0] as ReturnType<typeof message>).attrs.id, 'after-fin');
      assert.match(String(recorder.undelivered?.[1]), /id="copy"/);
    } finally {
      server.close();
    }
  });

  it('WebSocket: stanzas sent while the closing handshake waits for the peer are handed to the stream at the close', async function () {
    const recorder = new Recorder();
    let transport: WebSocketTransport | undefined;
    const endpoint = createWebSocketEndpoint({ log, limits: LIMITS, maxFrameBytes: 65536, keepaliveSeconds: 60, originOf: () => ({ remoteAddress: '127.0.0.1', secure: true, https: false, forwardedHeadersTrusted: false }) }, (t) => {
      transport = t;
      t.attach(recorder);
    });
    const server = http.createServer();
    server.on('upgrade', (req, socket, head) => endpoint.handleUpgrade(req, socket, head));
    const port = await listen(server);
    // A peer written by hand: it sends a close frame, reads the server's, and then leaves the TCP connection open.
    const peer = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let received = Buffer.alloc(0);
    peer.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    const until = async (check: () => boolean, what: string): Promise<void> => {
      for (const deadline = Date.now() + 3000; !check(); await new Promise((resolve) => setTimeout(resolve, 5))) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      }
    };
    try {
      await new Promise((resolve) => peer.once('connect', resolve));
      peer.write(
        `GET /xmpp-websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n`,
      );
      await until(() => received.includes('\r\n\r\n') && transport !== undefined, 'the upgrade');
      const handshake = received.indexOf('\r\n\r\n') + 4;
      assert.match(received.subarray(0, handshake).toString(), /^HTTP\/1\.1 101/);
      // FIN + close opcode, masked with a zero key, status 1000; the server answers with its own close frame.
      peer.write(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
      await until(() => received.length > handshake && received[handshake] === 0x88, "the server's close frame");
      (transport as WebSocketTransport).send(message('while-closing'));
      assert.ok(!recorder.reported(), 'not reported before the close');
      peer.destroy();
      await recorder.gone;
      assert.equal(recorder.undelivered?.length, 1);
      assert.equal((recorder.undelivered?.[0] as ReturnType<typeof message>).attrs.id, 'while-closing');
    } finally {
      peer.destroy();
      endpoint.close();
      server.close();
    }
  });
});
