// The load generator's XMPP client: just enough of RFC 6120 (TCP) and RFC 7395 (WebSocket) to log in
// the way a real client does, one round trip at a time, and then stay connected:
//
//   open -> features -> SASL (PLAIN or SCRAM) -> success -> open again -> features -> bind -> <presence/>
//
// After that the client idles, answering the server's XEP-0199 pings so it is not dropped. Replies are
// parsed with the server's own parsers (src/xml), which the benchmark does not measure.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { xml, type Element } from '../../src/xml/element.js';
import { parseFrame } from '../../src/xml/framed-parser.js';
import { NS } from '../../src/xml/ns.js';
import { XmlStreamParser, type ParserLimits } from '../../src/xml/parser.js';
import { ScramClient, type ScramHash } from './login-scram.js';

export type TransportName = 'websocket' | 'tcp';
export type MechanismName = 'PLAIN' | 'SCRAM-SHA-1' | 'SCRAM-SHA-256';

export const MECHANISM_NAMES: readonly MechanismName[] = ['PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256'];
const SCRAM_HASH: Record<MechanismName, ScramHash | undefined> = { PLAIN: undefined, 'SCRAM-SHA-1': 'sha1', 'SCRAM-SHA-256': 'sha256' };

export interface LoginTarget {
  transport: TransportName;
  host: string;
  /** The c2s port for TCP, the HTTP port for WebSocket. */
  port: number;
  domain: string;
  mechanism: MechanismName;
  /** A login not bound by then fails. */
  timeoutMs: number;
}

/** Milliseconds from the start of the login (before the connect) to each step. */
export interface LoginTimings {
  connected: number;
  authenticated: number;
  bound: number;
}

export const CLIENT_LIMITS: ParserLimits = { maxStanzaBytes: 1024 * 1024, maxDepth: 64 };

export type Item = { kind: 'header' } | { kind: 'element'; element: Element };

/** One connection's byte or frame channel, the same shape for every transport (BOSH: loadtest/xmpp-load/bosh-wire.ts). */
export interface Wire {
  openStream(): void;
  send(element: Element): void;
  /** Forget the old stream; the next thing the server sends is a new header. */
  restart(): void;
  /** Ends the stream the way a client that logs out does (</stream:stream>, <close/>, a terminate body). */
  close(): void;
  destroy(): void;
}

/** A queue of what the server sent, read in order by the login sequence. */
export class Inbox {
  private readonly items: Item[] = [];
  private waiter: { resolve(item: Item): void; reject(err: Error): void } | undefined;
  private failure: Error | undefined;
  /** Once set, elements go here instead of the queue (the idle phase). */
  passive: ((item: Item) => void) | undefined;

  push(item: Item): void {
    if (this.passive) return this.passive(item);
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter.resolve(item);
    } else this.items.push(item);
  }

  fail(err: Error): void {
    this.failure ??= err;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(err);
  }

  next(): Promise<Item> {
    const item = this.items.shift();
    if (item) return Promise.resolve(item);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }
}

export function tcpWire(target: LoginTarget, inbox: Inbox, onConnect: () => void, onClose: (err: Error) => void): Wire {
  const socket = net.connect({ host: target.host, port: target.port });
  const parser = new XmlStreamParser(
    {
      onStreamStart: () => inbox.push({ kind: 'header' }),
      onElement: (element) => {
        // The server restarts its stream right after <success/>; so must the parser, before the next byte.
        if (element.name === 'success' && element.attrs.xmlns === NS.sasl) parser.reset();
        inbox.push({ kind: 'element', element });
      },
      onStreamEnd: () => onClose(new Error('server closed the stream')),
      onError: (err) => onClose(new Error(`client parser: ${err.condition} ${err.text ?? ''}`)),
    },
    CLIENT_LIMITS,
  );
  socket.setNoDelay(true);
  socket.on('connect', onConnect);
  socket.on('data', (chunk: Buffer) => parser.write(chunk));
  socket.on('error', (err) => onClose(err));
  socket.on('close', () => onClose(new Error('connection closed')));
  const header = `<?xml version='1.0'?><stream:stream xmlns='${NS.client}' xmlns:stream='${NS.stream}' to='${target.domain}' version='1.0' xml:lang='en'>`;
  return {
    openStream: () => void socket.write(header),
    send: (element) => void socket.write(element.toString()),
    restart: () => undefined, // the parser was reset when <success/> arrived
    close: () => void socket.end('</stream:stream>'),
    destroy: () => socket.destroy(),
  };
}

export function websocketWire(target: LoginTarget, inbox: Inbox, onConnect: () => void, onClose: (err: Error) => void): Wire {
  const ws = new WebSocket(`ws://${target.host}:${target.port}/xmpp-websocket`, 'xmpp', { perMessageDeflate: false });
  ws.on('open', onConnect);
  ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
    if (isBinary) return onClose(new Error('binary frame from the server'));
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
    let element: Element;
    try {
      element = parseFrame(text, CLIENT_LIMITS);
    } catch (err) {
      return onClose(new Error(`client parser: ${String(err)}`));
    }
    if (element.attrs.xmlns === NS.framing) {
      if (element.name === 'open') return inbox.push({ kind: 'header' });
      if (element.name === 'close') return onClose(new Error('server closed the stream'));
    }
    inbox.push({ kind: 'element', element });
  });
  ws.on('error', (err) => onClose(err));
  ws.on('close', (code) => onClose(new Error(`websocket closed (${code})`)));
  const open = `<open xmlns='${NS.framing}' to='${target.domain}' version='1.0' xml:lang='en'/>`;
  return {
    openStream: () => ws.send(open),
    send: (element) => {
      element.attrs.xmlns ??= NS.client; // RFC 7395 §3.3.3: each frame stands alone
      ws.send(element.toString());
    },
    restart: () => undefined, // every <open/> is a frame of its own
    close: () => {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(`<close xmlns='${NS.framing}'/>`);
      ws.close(1000);
    },
    destroy: () => ws.terminate(),
  };
}

/** The next element from the server; a stream header there is a protocol error. */
export async function nextElement(inbox: Inbox, what: string): Promise<Element> {
  const item = await inbox.next();
  if (item.kind !== 'element') throw new Error(`expected ${what}, got a stream header`);
  return item.element;
}

/** Opens (or, after SASL, restarts) the stream and reads the header and the features that follow (RFC 6120 §4.3.2). */
export async function openStream(wire: Wire, inbox: Inbox): Promise<Element> {
  wire.openStream();
  const header = await inbox.next();
  if (header.kind !== 'header') throw new Error(`expected a stream header, got ${describe(header.element)}`);
  const features = await nextElement(inbox, 'stream features');
  if (features.name !== 'stream:features') throw new Error(`expected stream features, got ${describe(features)}`);
  return features;
}

export function describe(element: Element): string {
  const text = element.toString();
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

/** A logged-in, idle client session. */
export class BenchSession {
  private closed = false;
  private closeReason: string | undefined;
  /** Pings answered while idle. */
  pings = 0;

  private constructor(private readonly wire: Wire, private readonly inbox: Inbox, readonly jid: string, readonly timings: LoginTimings) {}

  /** Logs in; rejects with a message naming the step that failed. */
  static async login(target: LoginTarget, username: string, password: string, resource: string): Promise<BenchSession> {
    const start = performance.now();
    const inbox = new Inbox();
    let connectedAt = Number.NaN;
    let session: BenchSession | undefined;
    let connected!: () => void;
    let notConnected!: (err: Error) => void;
    const connecting = new Promise<void>((resolve, reject) => {
      connected = resolve;
      notConnected = reject;
    });
    const onConnect = (): void => {
      connectedAt = performance.now() - start;
      connected();
    };
    const onClose = (err: Error): void => {
      inbox.fail(err);
      notConnected(err);
      session?.markClosed(err.message);
    };
    const make = target.transport === 'tcp' ? tcpWire : websocketWire;
    const wire = make(target, inbox, onConnect, onClose);
    const timer = setTimeout(() => onClose(new Error(`login timed out after ${target.timeoutMs} ms`)), target.timeoutMs);

    try {
      const expect = (what: string): Promise<Element> => nextElement(inbox, what);
      const openAndFeatures = (): Promise<Element> => openStream(wire, inbox);

      await connecting;
      const features = await openAndFeatures();
      const offered = features.getChild('mechanisms', NS.sasl)?.getChildren('mechanism').map((m) => m.getText()) ?? [];
      if (!offered.includes(target.mechanism)) throw new Error(`${target.mechanism} not offered (offered: ${offered.join(' ') || 'none'})`);
      await authenticate(target.mechanism, wire, expect, username, password);
      const authenticatedAt = performance.now() - start;

      wire.restart();
      const bindFeatures = await openAndFeatures();
      if (!bindFeatures.getChild('bind', NS.bind)) throw new Error(`no <bind/> in ${describe(bindFeatures)}`);
      wire.send(xml('iq', { type: 'set', id: 'bind' }, xml('bind', { xmlns: NS.bind }, xml('resource', null, resource))));
      const result = await expect('the bind result');
      const jid = result.getChild('bind', NS.bind)?.getChildText('jid');
      if (result.name !== 'iq' || result.attrs.type !== 'result' || result.attrs.id !== 'bind' || !jid) throw new Error(`bind failed: ${describe(result)}`);
      const boundAt = performance.now() - start;
      clearTimeout(timer);

      session = new BenchSession(wire, inbox, jid, { connected: connectedAt, authenticated: authenticatedAt, bound: boundAt });
      const idle = session;
      inbox.passive = (item) => idle.onIdleItem(item);
      wire.send(xml('presence'));
      return session;
    } catch (err) {
      clearTimeout(timer);
      wire.destroy();
      throw err;
    }
  }

  get open(): boolean {
    return !this.closed;
  }

  get reason(): string | undefined {
    return this.closeReason;
  }

  close(): void {
    this.closed = true;
    this.closeReason ??= 'closed by the benchmark';
    this.wire.destroy();
  }

  private markClosed(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
  }

  private onIdleItem(item: Item): void {
    if (item.kind !== 'element') return;
    const el = item.element;
    if (el.name === 'iq' && el.attrs.type === 'get') {
      // XEP-0199 ping (or anything else): an empty result keeps the session alive.
      this.pings++;
      this.wire.send(xml('iq', { type: 'result', id: el.attrs.id, to: el.attrs.from }));
    }
  }
}

export async function authenticate(
  mechanism: MechanismName,
  wire: Wire,
  expect: (what: string) => Promise<Element>,
  username: string,
  password: string,
): Promise<void> {
  const hash = SCRAM_HASH[mechanism];
  const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
  const unb64 = (el: Element): string => Buffer.from(el.getText().trim(), 'base64').toString('utf8');
  const isSasl = (el: Element, name: string): boolean => el.name === name && el.attrs.xmlns === NS.sasl;

  if (hash === undefined) {
    wire.send(xml('auth', { xmlns: NS.sasl, mechanism }, b64(`\0${username}\0${password}`)));
    const answer = await expect('SASL success');
    if (!isSasl(answer, 'success')) throw new Error(`PLAIN failed: ${describe(answer)}`);
    return;
  }
  const scram = new ScramClient(hash, username, password);
  wire.send(xml('auth', { xmlns: NS.sasl, mechanism }, b64(scram.first())));
  const challenge = await expect('SASL challenge');
  if (!isSasl(challenge, 'challenge')) throw new Error(`${mechanism} failed: ${describe(challenge)}`);
  wire.send(xml('response', { xmlns: NS.sasl }, b64(await scram.final(unb64(challenge)))));
  const answer = await expect('SASL success');
  if (!isSasl(answer, 'success')) throw new Error(`${mechanism} failed: ${describe(answer)}`);
  scram.verify(unb64(answer));
}
