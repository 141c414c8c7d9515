// A scripted raw XMPP peer over TCP for transcript tests. Unlike raw.ts it reads with a cursor:
// each expectation matches only what arrived after the previous one, so a transcript asserts the
// order of the server's answers. It can upgrade to TLS after <proceed/> and log in with PLAIN.
import net from 'node:net';
import tls from 'node:tls';
import { StringDecoder } from 'node:string_decoder';
import { parse, type Element } from 'ltx';

export const STREAM_HEADER = (to = 'localhost'): string =>
  `<?xml version='1.0'?><stream:stream to='${to}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`;

export const plainAuth = (username: string, password: string): string =>
  `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${username}\0${password}`).toString('base64')}</auth>`;

export class RawStream {
  private text = '';
  private cursor = 0;
  private isClosed = false;
  private decoder = new StringDecoder('utf8');
  private readonly listeners = new Set<() => void>();
  private readonly onData = (chunk: Buffer): void => {
    this.text += this.decoder.write(chunk);
    this.notify();
  };

  private constructor(private socket: net.Socket) {
    this.listen(socket);
  }

  static async connect(port: number): Promise<RawStream> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawStream(socket);
  }

  /** Everything received so far. */
  get received(): string {
    return this.text;
  }

  /** What arrived after the last expectation matched. */
  get unread(): string {
    return this.text.slice(this.cursor);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  write(data: string): void {
    this.socket.write(data);
  }

  /** Waits for the pattern in what is unread and moves the cursor past the match. */
  expect(pattern: RegExp, timeoutMs = 5000): Promise<RegExpMatchArray> {
    return this.until(() => {
      const match = this.unread.match(pattern);
      if (!match) return undefined;
      this.cursor += (match.index ?? 0) + match[0].length;
      return match;
    }, timeoutMs, String(pattern));
  }

  /** Waits for one complete top-level element whose serialisation starts with `<name` and parses it. */
  async element(name: string, timeoutMs = 5000): Promise<Element> {
    const pattern = new RegExp(`<${name}(?=[\\s/>])(?:[^>]*/>|[^>]*>.*?</${name}>)`, 's');
    const [text] = await this.expect(pattern, timeoutMs);
    return parse(text);
  }

  /** Resolves if nothing matching arrives within `ms`; rejects with what did. */
  async silence(pattern: RegExp, ms: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    const match = this.unread.match(pattern);
    if (match) throw new Error(`expected nothing like ${String(pattern)}, got ${match[0]}`);
  }

  /** Waits until the server has closed the connection. */
  waitClosed(timeoutMs = 5000): Promise<void> {
    return this.until(() => (this.isClosed ? true : undefined), timeoutMs, 'the connection to close').then(() => undefined);
  }

  /** Upgrades the connection to TLS (RFC 6120 §5.4.3.3) once <proceed/> has arrived. */
  async startTls(): Promise<void> {
    const plain = this.socket;
    plain.off('data', this.onData);
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.socket = secure;
    this.decoder = new StringDecoder('utf8');
    this.listen(secure);
  }

  get encrypted(): boolean {
    return this.socket instanceof tls.TLSSocket && this.socket.encrypted;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Stops reading: what the server writes piles up in the socket buffers until resume(). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  private listen(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.isClosed = true;
      this.notify();
    });
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const attempt = (): void => {
        const result = check();
        if (result === undefined) return;
        this.listeners.delete(attempt);
        clearTimeout(timer);
        resolve(result);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(attempt);
        reject(new Error(`timed out waiting for ${what}; unread: ${this.unread.slice(-800) || '(nothing)'}`));
      }, timeoutMs);
      this.listeners.add(attempt);
      attempt();
    });
  }
}

export interface RawLogin {
  stream: RawStream;
  /** The full JID the server bound. */
  jid: string;
}

/** XEP-0198's stream feature: after authentication, a session may be resumed. */
export const SM_FEATURE = /<sm xmlns="urn:xmpp:sm:3"\/>/;

/**
 * Opens a stream, authenticates with PLAIN (the server must not require TLS) and restarts it; resolves at the
 * restarted stream's features once they include `feature` (the cursor is left after them): the point where a
 * client binds, or resumes a session (XEP-0198 §5).
 */
export async function rawAuthenticated(port: number, username: string, password: string, feature = /<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"\/>/): Promise<RawStream> {
  const stream = await RawStream.connect(port);
  stream.write(STREAM_HEADER());
  await stream.expect(/<mechanism>PLAIN<\/mechanism>.*?<\/stream:features>/s);
  stream.write(plainAuth(username, password));
  await stream.expect(/<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"\/>/);
  stream.write(STREAM_HEADER());
  await stream.expect(new RegExp(`${feature.source}.*?<\\/stream:features>`, 's'));
  return stream;
}

/**
 * Opens a stream, authenticates with PLAIN (the server must not require TLS) and binds `resource`.
 * The cursor is left after the bind result.
 */
export async function rawLogin(port: number, username: string, password: string, resource: string): Promise<RawLogin> {
  const stream = await rawAuthenticated(port, username, password);
  stream.write(`<iq type='set' id='bind-1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
  const [, jid = ''] = await stream.expect(/<iq type="result" id="bind-1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>([^<]+)<\/jid><\/bind><\/iq>/);
  return { stream, jid };
}
