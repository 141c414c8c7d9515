// Raw client connections from a chosen loopback address (127.0.0.x), for per-address limits: TCP streams,
// WebSocket frames and BOSH requests, each recording what the server sent.
import http from 'node:http';
import net from 'node:net';
import { WebSocket, type RawData } from 'ws';
import type { TestServer } from './server.js';

export const STREAM_HEADER = `<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;
export const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';

async function until<T>(check: () => T | undefined, timeoutMs: number, what: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export class RawTcp {
  text = '';
  isClosed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => (this.text += chunk.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => (this.isClosed = true));
  }

  static async connect(port: number, localAddress = '127.0.0.1'): Promise<RawTcp> {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawTcp(socket);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  waitFor(pattern: RegExp, timeoutMs = 5000): Promise<RegExpMatchArray> {
    return until(() => this.text.match(pattern) ?? undefined, timeoutMs, () => `${String(pattern)}; got ${this.text.slice(-500)}`);
  }

  closed(timeoutMs = 5000): Promise<true> {
    return until(() => (this.isClosed ? true : undefined), timeoutMs, () => `the connection to close; got ${this.text.slice(-500)}`);
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Opens the stream and waits for the features (the connection was admitted). */
  async open(): Promise<void> {
    this.write(STREAM_HEADER);
    await this.waitFor(/<\/stream:features>/);
  }

  /** Logs in with PLAIN and binds `resource`; returns the full JID. */
  async login(username: string, password: string, resource: string): Promise<string> {
    this.write(STREAM_HEADER);
    await this.waitFor(/<mechanism>PLAIN<\/mechanism>/);
    this.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${username}\0${password}`).toString('base64')}</auth>`);
    await this.waitFor(/<success /);
    this.write(STREAM_HEADER);
    await this.waitFor(/<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"\/>/);
    this.write(`<iq type='set' id='bind-1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    const [, jid = ''] = await this.waitFor(/<jid>([^<]+)<\/jid>/);
    return jid;
  }
}

export class RawWs {
  readonly frames: string[] = [];
  closeCode: number | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: RawData) => this.frames.push(Buffer.isBuffer(data) ? data.toString('utf8') : String(data)));
    ws.on('close', (code: number) => (this.closeCode = code));
    ws.on('error', () => undefined);
  }

  static async connect(server: TestServer, localAddress = '127.0.0.1'): Promise<RawWs> {
    const ws = new WebSocket(`ws://127.0.0.1:${server.ports.http}/xmpp-websocket`, ['xmpp'], { localAddress });
    const peer = new RawWs(ws);
    await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return peer;
  }

  get text(): string {
    return this.frames.join('\n');
  }

  waitFor(pattern: RegExp, timeoutMs = 5000): Promise<RegExpMatchArray> {
    return until(() => this.text.match(pattern) ?? undefined, timeoutMs, () => `${String(pattern)}; got ${this.text.slice(-500)}`);
  }

  closed(timeoutMs = 5000): Promise<number> {
    return until(() => this.closeCode, timeoutMs, () => `the WebSocket to close; got ${this.text.slice(-500)}`);
  }

  async open(): Promise<void> {
    this.ws.send(`<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`);
    await this.waitFor(/<\/stream:features>/);
  }
}

/** One POST to /http-bind from `localAddress`; resolves with the answer's body text. */
export function boshFrom(server: TestServer, body: string, localAddress = '127.0.0.1', timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port: server.ports.http, path: '/http-bind', method: 'POST', localAddress, agent: false, headers: { 'Content-Type': 'text/xml; charset=utf-8' } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        res.on('end', () => {
          clearTimeout(timer);
          resolve(text);
        });
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error('no answer from /http-bind'));
    }, timeoutMs);
    request.on('error', reject);
    request.end(body);
  });
}

let nextRid = 5_000_000;
/** A BOSH session creation request (XEP-0124 §7.1, XEP-0206). */
export function boshCreate(): { body: string; rid: number } {
  const rid = nextRid++ * 10;
  return { rid, body: `<body xmlns='http://jabber.org/protocol/httpbind' rid='${rid}' to='localhost' xml:lang='en' ver='1.6' wait='5' hold='1' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'/>` };
}
