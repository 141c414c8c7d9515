// A raw c2s client for SCRAM tests over real TCP: plain, STARTTLS (RFC 6120 §5) or direct TLS (XEP-0368),
// with its own SCRAM client (RFC 5802, node:crypto only, nothing from src/) and the client's side of
// channel binding: tls-exporter (RFC 9266), tls-server-end-point (RFC 5929 §4, SHA-256 for our
// certificate), tls-unique (RFC 5929 §3: the client's Finished in a full handshake).
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { StringDecoder } from 'node:string_decoder';

const HEADER = "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const SASL2 = 'urn:xmpp:sasl:2';
const HASH: Record<string, { name: string; bytes: number }> = {
  'SCRAM-SHA-1': { name: 'sha1', bytes: 20 },
  'SCRAM-SHA-256': { name: 'sha256', bytes: 32 },
  'SCRAM-SHA-512': { name: 'sha512', bytes: 64 },
};

export type Security = 'plain' | 'starttls' | 'direct';

export interface ScramAttempt {
  mechanism: string;
  username: string;
  password: string;
  /** GS2 flag: 'n', 'y' or a channel-binding type for 'p=' (default: the type for -PLUS, else 'n'). */
  flag?: string;
  /** Replaces the channel-binding data the client computed (a man in the middle's channel). */
  bindingData?: Buffer;
  /** SASL2 (XEP-0388) instead of RFC 6120 SASL: the server must offer it ([c2s] sasl2). */
  sasl2?: boolean;
}

export interface ScramOutcome {
  /** 'success', or the SASL failure condition. */
  result: string;
  serverFirst: string;
  /** The server's v= matched what the client computed. */
  serverVerified: boolean;
}

export class ScramConnection {
  private text = '';
  private cursor = 0;
  private decoder = new StringDecoder('utf8');
  private closed = false;
  private readonly waiters = new Set<() => void>();
  /** The features after the last stream (re)start. */
  features = '';

  private constructor(private socket: net.Socket) {
    this.listen(socket);
  }

  /** Connects and reads the features; with 'starttls', negotiates TLS first. `tlsMax`: cap the version (e.g. 'TLSv1.2'). */
  static async open(port: number, security: Security, tlsMax?: tls.SecureVersion): Promise<ScramConnection> {
    const tlsOptions: tls.ConnectionOptions = { rejectUnauthorized: false, servername: 'localhost', ...(tlsMax ? { maxVersion: tlsMax } : {}) };
    let socket: net.Socket;
    if (security === 'direct') {
      socket = tls.connect({ host: '127.0.0.1', port, ...tlsOptions, ALPNProtocols: ['xmpp-client'] });
      await once(socket, 'secureConnect');
    } else {
      socket = net.connect({ host: '127.0.0.1', port });
      await once(socket, 'connect');
    }
    const conn = new ScramConnection(socket);
    conn.socket.write(HEADER);
    conn.features = (await conn.expect(/<stream:features[\s\S]*?<\/stream:features>/))[0];
    if (security === 'starttls') {
      conn.socket.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      await conn.expect(/<proceed[^>]*\/>/);
      conn.socket.off('data', conn.onData);
      const secure = tls.connect({ socket: conn.socket, ...tlsOptions });
      await once(secure, 'secureConnect');
      conn.socket = secure;
      conn.decoder = new StringDecoder('utf8');
      conn.listen(secure);
      secure.write(HEADER);
      conn.features = (await conn.expect(/<stream:features[\s\S]*?<\/stream:features>/))[0];
    }
    return conn;
  }

  get tlsSocket(): tls.TLSSocket | undefined {
    return this.socket instanceof tls.TLSSocket ? this.socket : undefined;
  }

  /** The mechanisms and XEP-0440 channel-binding types of the features. */
  get offered(): { mechanisms: string[]; channelBindings: string[] } {
    return {
      mechanisms: [...this.features.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1] ?? ''),
      channelBindings: [...this.features.matchAll(/<channel-binding type="([^"]+)"/g)].map((m) => m[1] ?? ''),
    };
  }

  /** The client's channel-binding data for `type` on this connection. */
  bindingData(type: string): Buffer {
    const socket = this.tlsSocket;
    if (!socket) throw new Error('no TLS');
    if (type === 'tls-exporter') return socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
    if (type === 'tls-unique') return socket.getFinished() ?? Buffer.alloc(0);
    if (type === 'tls-server-end-point') return createHash('sha256').update(socket.getPeerCertificate(true).raw).digest();
    throw new Error(`unknown channel-binding type ${type}`);
  }

  async scram(attempt: ScramAttempt): Promise<ScramOutcome> {
    const plus = attempt.mechanism.endsWith('-PLUS');
    const hash = HASH[attempt.mechanism.replace(/-PLUS$/, '')];
    if (!hash) throw new Error(`not a SCRAM mechanism: ${attempt.mechanism}`);
    const flag = attempt.flag ?? (plus ? 'tls-exporter' : 'n');
    const gs2 = flag === 'n' || flag === 'y' ? `${flag},,` : `p=${flag},,`;
    const cbData = gs2.startsWith('p=') ? (attempt.bindingData ?? this.bindingData(flag)) : Buffer.alloc(0);
    const bare = `n=${attempt.username},r=${randomBytes(18).toString('base64')}`;
    const initial = Buffer.from(gs2 + bare).toString('base64');
    const first = attempt.sasl2
      ? await this.send(`<authenticate xmlns='${SASL2}' mechanism='${attempt.mechanism}'><initial-response>${initial}</initial-response></authenticate>`)
      : await this.send(`<auth xmlns='${SASL}' mechanism='${attempt.mechanism}'>${initial}</auth>`);
    if (first.kind !== 'challenge') return { result: first.value, serverFirst: '', serverVerified: false };
    const serverFirst = first.value;
    const attrs = new Map(serverFirst.split(',').map((a) => [a.slice(0, 1), a.slice(2)]));
    const salted = pbkdf2Sync(attempt.password, Buffer.from(attrs.get('s') ?? '', 'base64'), Number(attrs.get('i')), hash.bytes, hash.name);
    const withoutProof = `c=${Buffer.concat([Buffer.from(gs2), cbData]).toString('base64')},r=${attrs.get('r') ?? ''}`;
    const authMessage = `${bare},${serverFirst},${withoutProof}`;
    const clientKey = createHmac(hash.name, salted).update('Client Key').digest();
    const signature = createHmac(hash.name, createHash(hash.name).update(clientKey).digest()).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((byte, i) => byte ^ (signature[i] ?? 0)));
    const final = await this.send(`<response xmlns='${attempt.sasl2 ? SASL2 : SASL}'>${Buffer.from(`${withoutProof},p=${proof.toString('base64')}`).toString('base64')}</response>`);
    if (final.kind !== 'success') return { result: final.kind === 'failure' ? final.value : `unexpected ${final.kind}`, serverFirst, serverVerified: false };
    const serverKey = createHmac(hash.name, salted).update('Server Key').digest();
    const expected = `v=${createHmac(hash.name, serverKey).update(authMessage).digest('base64')}`;
    return { result: 'success', serverFirst, serverVerified: final.value === expected };
  }

  async plain(username: string, password: string): Promise<string> {
    const answer = await this.send(`<auth xmlns='${SASL}' mechanism='PLAIN'>${Buffer.from(`\0${username}\0${password}`).toString('base64')}</auth>`);
    return answer.kind === 'failure' ? answer.value : answer.kind;
  }

  /** Sends an <auth/> with a mechanism name and an initial response as given. */
  async rawAuth(mechanism: string, initial: string): Promise<string> {
    const answer = await this.send(`<auth xmlns='${SASL}' mechanism='${mechanism}'>${Buffer.from(initial).toString('base64')}</auth>`);
    return answer.kind === 'failure' ? answer.value : answer.kind;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.text += this.decoder.write(chunk);
    for (const waiter of [...this.waiters]) waiter();
  };

  private listen(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      for (const waiter of [...this.waiters]) waiter();
    });
  }

  private async send(xml: string): Promise<{ kind: 'challenge' | 'success' | 'failure'; value: string }> {
    this.socket.write(xml);
    // SASL2's <success/> carries the data in <additional-data/>, its <failure/> the condition with a namespace.
    const match = await this.expect(/<(challenge|success)[^>]*?(?:\/>|>(?:<additional-data>)?([^<]*)(?:<\/additional-data>)?(?:<(?!\/\1)[\s\S]*?)?<\/\1>)|<failure[^>]*><([a-z-]+)[^>]*\/>/);
    if (match[3] !== undefined) return { kind: 'failure', value: match[3] };
    return { kind: match[1] === 'success' ? 'success' : 'challenge', value: Buffer.from(match[2] ?? '', 'base64').toString('utf8') };
  }

  private expect(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const match = this.text.slice(this.cursor).match(pattern);
        if (!match && !this.closed) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        if (!match) return reject(new Error(`connection closed waiting for ${String(pattern)}: ${this.text.slice(this.cursor, this.cursor + 300)}`));
        this.cursor += (match.index ?? 0) + match[0].length;
        resolve(match);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${String(pattern)}: ${this.text.slice(this.cursor, this.cursor + 300)}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}

function once(socket: net.Socket, event: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once(event, () => resolve());
    socket.once('error', reject);
  });
}
