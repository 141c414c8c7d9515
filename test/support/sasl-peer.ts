// A raw c2s peer for login tests: connects from a chosen loopback address (Linux routes all of
// 127.0.0.0/8 to lo, so 127.0.0.2, 127.0.0.3... act as different clients), opens a stream on a
// server that does not require TLS, and runs SASL PLAIN or the first steps of SCRAM by hand.
import { randomBytes } from 'node:crypto';
import net from 'node:net';

const HEADER = "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const ANSWER = /<(success|challenge)[^>]*?(?:\/>|>([^<]*)<\/\1>)|<failure[^>]*><([a-z-]+)\/>(?:<text[^>]*>[^<]*<\/text>)?<\/failure>/;

export interface Outcome {
  /** 'success', 'challenge', or the SASL failure condition. */
  result: string;
  /** The base64 payload of a challenge or success, decoded. */
  data: string;
  /** From sending the request to the answer. */
  ms: number;
}

export class SaslPeer {
  private text = '';
  private cursor = 0;
  private closed = false;
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('utf8');
      this.notify();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  static async open(port: number, localAddress = '127.0.0.1'): Promise<SaslPeer> {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const peer = new SaslPeer(socket);
    socket.write(HEADER);
    await peer.expect(/<\/stream:features>/);
    return peer;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** One PLAIN attempt; the answer's condition. */
  plain(username: string, password: string): Promise<Outcome> {
    return this.send(`<auth xmlns='${SASL}' mechanism='PLAIN'>${Buffer.from(`\0${username}\0${password}`).toString('base64')}</auth>`);
  }

  /** SCRAM client-first-message with a random nonce; on a challenge, `data` is the server-first-message. */
  scramFirst(username: string, mechanism = 'SCRAM-SHA-1'): Promise<Outcome> {
    const first = `n,,n=${username},r=${randomBytes(12).toString('base64')}`;
    return this.send(`<auth xmlns='${SASL}' mechanism='${mechanism}'>${Buffer.from(first).toString('base64')}</auth>`);
  }

  /** A client-final-message with the right nonce and a random proof (a wrong password, in effect). */
  scramWrongProof(serverFirst: string, hashBytes = 20): Promise<Outcome> {
    const nonce = /r=([^,]+)/.exec(serverFirst)?.[1] ?? '';
    const final = `c=biws,r=${nonce},p=${randomBytes(hashBytes).toString('base64')}`;
    return this.send(`<response xmlns='${SASL}'>${Buffer.from(final).toString('base64')}</response>`);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private async send(xml: string): Promise<Outcome> {
    const started = Date.now();
    this.socket.write(xml);
    const match = await this.expect(ANSWER, 15_000);
    const ms = Date.now() - started;
    if (match[3] !== undefined) return { result: match[3], data: '', ms };
    return { result: match[1] ?? '', data: Buffer.from(match[2] ?? '', 'base64').toString('utf8'), ms };
  }

  private expect(pattern: RegExp, timeoutMs = 5000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const match = this.text.slice(this.cursor).match(pattern);
        if (match) {
          this.cursor += (match.index ?? 0) + match[0].length;
        } else if (!this.closed) {
          return;
        }
        this.waiters.delete(check);
        clearTimeout(timer);
        if (match) resolve(match);
        else reject(new Error(`connection closed while waiting for ${String(pattern)}; got: ${this.text.slice(this.cursor, this.cursor + 400)}`));
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${String(pattern)}; got: ${this.text.slice(this.cursor, this.cursor + 400)}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
