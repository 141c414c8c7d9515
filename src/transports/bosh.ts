// BOSH (XEP-0124 v1.11.2) carrying XMPP (XEP-0206 v1.4) at /http-bind on the HTTP port: reads POSTed
// <body/> wrappers, creates sessions (§7) and hands each request to its session (bosh-session.ts), which is
// a StreamTransport for the ordinary c2s stream. Also answers CORS preflights and a GET with a short note.
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Jid } from '../jid.js';
import type { Logger } from '../observability/log.js';
import { UNSHAPED, type ConnectionShaping } from '../stream/limits.js';
import { NS } from '../xml/ns.js';
import type { ParserLimits } from '../xml/parser.js';
import {
  BoshError, LEGACY_STATUS, attr, parseRequestBody, parseRid, parseUnsigned, readStartTag, terminateBody, type BindingCondition, type RequestBody,
} from './bosh-body.js';
import { BoshSession, streamHeader, type BoshReply } from './bosh-session.js';
import { sendText } from './http-server.js';
import { FORWARDING_HEADERS, type ClientOrigin, type RequestView } from './client-origin.js';

export const BOSH_PATH = '/http-bind';

/** The BOSH version implemented (XEP-0124 1.11); a client's lower 'ver' is echoed back (§7.2). */
const VERSION: readonly [number, number] = [1, 11];
/** Longest 'wait' granted, in seconds (§7.2: at most what the client asked for). */
export const MAX_WAIT = 60;
/** Requests held at once: one, so 'requests' is 2 and a client's new request releases the held one. */
export const MAX_HOLD = 1;
/** Shortest polling interval, in seconds (§12). */
export const POLLING = 2;
/** Longest pause a client may ask for, in seconds (§10). */
export const MAX_PAUSE = 120;
const CONTENT_TYPE = 'text/xml; charset=utf-8';
const VER = /^(\d{1,4})\.(\d{1,4})$/;
/** A 'content' value used as our Content-Type header (§7.1): printable ASCII only. */
const CONTENT = /^[\x20-\x7e]{1,256}$/;

const FORWARDING: ReadonlySet<string> = new Set(FORWARDING_HEADERS);

const ANY_ORIGIN: Readonly<Record<string, string>> = { 'Access-Control-Allow-Origin': '*' };
const NO_CORS: Readonly<Record<string, string>> = {};
const PREFLIGHT: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Methods': 'POST, GET, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type',
  'Access-Control-Max-Age': '86400',
};

export interface BoshOptions {
  domain: string;
  log: Logger;
  /** A new stream's parser limits (the pre-authentication stanza cap and the depth). */
  limits: ParserLimits;
  /** [limits]: request bytes per second (a request over the rate waits), and the queue cap of a session. */
  shaping?: ConnectionShaping;
  /** Largest request body, in bytes; larger ones end the session with policy-violation. */
  maxBodyBytes: number;
  /** Seconds without any request before a session is dropped (§10). */
  inactivity: number;
  /** Origins allowed to call the endpoint from a browser; "*" allows all. */
  corsOrigins: readonly string[];
  /** Who the client is and whether its path is secure (client-origin.ts: TLS, or a trusted proxy saying https). */
  originOf(request: RequestView): ClientOrigin;
}

export class BoshEndpoint {
  private readonly sessions = new Map<string, BoshSession>();
  private readonly bodyLimits: ParserLimits;
  private readonly anyOrigin: boolean;
  private readonly origins: ReadonlySet<string>;
  private readonly forget = (session: BoshSession): void => {
    this.sessions.delete(session.sid);
  };

  constructor(private readonly options: BoshOptions, private readonly onSession: (session: BoshSession) => void) {
    // The body is one more level of nesting; each payload is checked against its stream's stanza cap.
    this.bodyLimits = { maxStanzaBytes: options.maxBodyBytes, maxDepth: options.limits.maxDepth + 1 };
    this.anyOrigin = options.corsOrigins.includes('*');
    this.origins = new Set(options.corsOrigins);
  }

  get size(): number {
    return this.sessions.size;
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    // req.headers is built on first use and then kept with the request, which a session may hold for
    // 'wait' seconds: only the few headers read here are looked up, in rawHeaders.
    const cors = this.corsHeaders(rawHeader(req.rawHeaders, 'origin'));
    if (!cors) return sendText(res, 403, 'This origin may not use the BOSH endpoint.\n');
    switch (req.method) {
      case 'POST':
        return this.post(req, res, cors);
      case 'OPTIONS':
        res.writeHead(204, { ...cors, ...PREFLIGHT });
        res.end();
        return;
      case 'GET':
      case 'HEAD':
        return sendText(res, 200, 'This is an XMPP over BOSH endpoint (XEP-0124, XEP-0206): POST <body/> elements here.\n', { ...cors });
      default:
        return sendText(res, 405, 'Method not allowed\n', { Allow: 'POST, GET, OPTIONS', ...cors });
    }
  };

  /** Ends every session at once (server shutdown, after the streams were closed with system-shutdown). */
  close(): void {
    for (const session of [...this.sessions.values()]) session.destroy();
  }

  private corsHeaders(origin: string | undefined): Readonly<Record<string, string>> | undefined {
    if (this.anyOrigin) return ANY_ORIGIN;
    if (origin === undefined) return NO_CORS;
    if (this.origins.has(origin)) return { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
    return undefined;
  }

  private post(req: IncomingMessage, res: ServerResponse, cors: Readonly<Record<string, string>>): void {
    const reply = new HttpReply(res, cors);
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      chunks.push(chunk);
      if (size <= this.options.maxBodyBytes) return;
      req.off('data', onData);
      req.off('end', onEnd);
      // The rest of the body is left unread; the connection closes after the answer.
      res.setHeader('Connection', 'close');
      const head = Buffer.concat(chunks).subarray(0, 8192).toString('utf8');
      this.unreadable(head, 'policy-violation', reply, this.originOf(req).secure, 'body too large');
    };
    const onEnd = (): void => {
      const data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      // A held request stays in memory until answered; its body chunks and these closures need not.
      chunks.length = 0;
      req.off('data', onData);
      req.off('end', onEnd);
      // RFC 6120 §11.6: invalid UTF-8 is malformed input, never replaced with U+FFFD (XEP-0124 §17.2 bad-request).
      if (!isUtf8(data)) return this.unreadable(data.subarray(0, 8192).toString('utf8'), 'bad-request', reply, this.originOf(req).secure, 'invalid UTF-8');
      this.receive(data.toString('utf8'), size, req, reply);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    // Not an arrow here: it would share this function's closure context, and keep the body chunks and
    // the two listeners above alive for as long as the session holds the request.
    req.on('error', ignore);
  }

  private receive(text: string, bytes: number, req: IncomingMessage, reply: HttpReply): void {
    const origin = this.originOf(req);
    const secure = origin.secure;
    let body: RequestBody;
    try {
      body = parseRequestBody(text, this.bodyLimits);
    } catch (err) {
      if (err instanceof BoshError) return this.unreadable(text, err.condition, reply, secure, err.message);
      throw err;
    }
    const rid = parseRid(body.attrs.rid);
    const sid = body.attrs.sid;
    if (sid === undefined) {
      if (rid === undefined) return refuse(reply, 'bad-request', body.attrs.ver === undefined);
      return this.create(body.attrs, rid, reply, origin);
    }
    const session = this.sessions.get(sid);
    if (!session) return refuse(reply, 'item-not-found', false);
    if (rid === undefined) return session.reject('bad-request', reply, secure, "missing or invalid 'rid'");
    // limits.read_rate*: a request over the session's rate is read later (its answer waits), never dropped.
    const wait = session.readDelay(bytes);
    if (wait === 0) return session.handle(body, rid, reply, secure, bytes);
    setTimeout(() => session.handle(body, rid, reply, secure, bytes), wait).unref();
  }

  /** A body that could not be parsed: if its start tag names a session, that session ends (§17.2). */
  private unreadable(head: string, condition: BindingCondition, reply: HttpReply, secure: boolean, text: string): void {
    const sid = readStartTag(head)?.sid;
    const session = sid === undefined ? undefined : this.sessions.get(sid);
    if (session) return session.reject(condition, reply, secure, text);
    this.options.log.debug({ condition, text }, 'BOSH request refused');
    refuse(reply, condition, false);
  }

  /** §7.1 session creation request; XEP-0206 §3. */
  private create(attrs: Record<string, string>, rid: number, reply: HttpReply, origin: ClientOrigin): void {
    const legacy = attrs.ver === undefined;
    const ver = VER.exec(attrs.ver ?? `${VERSION[0]}.${VERSION[1]}`);
    const wait = parseUnsigned(attrs.wait, MAX_WAIT);
    const hold = parseUnsigned(attrs.hold, 1);
    const content = attrs.content ?? CONTENT_TYPE;
    if (!ver || Number.isNaN(wait) || Number.isNaN(hold) || !CONTENT.test(content)) return refuse(reply, 'bad-request', legacy);
    if (attrs.to !== undefined && Jid.tryParse(attrs.to)?.toString() !== this.options.domain) return refuse(reply, 'host-unknown', legacy);

    const grantedWait = Math.min(wait, MAX_WAIT);
    const grantedHold = Math.min(hold, MAX_HOLD);
    const requests = grantedHold + 1;
    const polling = grantedWait === 0 || grantedHold === 0;
    // §12: a polling session may be silent longer than the polling interval between requests.
    const inactivity = this.options.inactivity + (polling ? 2 * POLLING : 0);
    const ack = attrs.ack === '1';
    const sid = randomBytes(16).toString('hex');
    const major = Number(ver[1]);
    const minor = Number(ver[2]);
    const lower = major < VERSION[0] || (major === VERSION[0] && minor < VERSION[1]);
    const creationAttrs =
      attr('sid', sid) + attr('wait', grantedWait) + attr('requests', requests) + attr('hold', grantedHold) +
      attr('inactivity', inactivity) + attr('polling', POLLING) + attr('maxpause', MAX_PAUSE) +
      attr('ver', lower ? `${major}.${minor}` : `${VERSION[0]}.${VERSION[1]}`) + attr('from', this.options.domain) +
      (ack ? attr('ack', rid) : '') +
      attr('xmlns:xmpp', NS.xbosh) + attr('xmpp:version', '1.0') + attr('xmpp:restartlogic', 'true');
    const session = new BoshSession({
      sid,
      wait: grantedWait,
      hold: grantedHold,
      requests,
      inactivity,
      polling: POLLING,
      maxPause: MAX_PAUSE,
      ack,
      legacy,
      contentType: content,
      creationAttrs,
      remoteAddress: origin.remoteAddress,
      secure: origin.secure,
      limits: this.options.limits,
      // Serialised stanzas (UTF-16 units) queued for a client that is not polling before it is cut off.
      maxQueuedChars: (this.options.shaping ?? UNSHAPED).maxOutputBytes,
      read: (this.options.shaping ?? UNSHAPED).read,
      log: this.options.log,
      onEnd: this.forget,
    });
    this.sessions.set(sid, session);
    this.onSession(session);
    session.start(rid, reply, streamHeader(attrs));
  }

  private originOf(req: IncomingMessage): ClientOrigin {
    return this.options.originOf({ headers: forwardingHeaders(req.rawHeaders), socket: req.socket });
  }
}

function ignore(): void {}

/** A header's value from Node's rawHeaders (name, value, name, value...); repeated headers joined with ', ' as req.headers does. */
function rawHeader(raw: readonly string[], lowerCaseName: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() !== lowerCaseName) continue;
    value = value === undefined ? raw[i + 1] : `${value}, ${raw[i + 1] as string}`;
  }
  return value;
}

/** The forwarding headers client-origin.ts reads, as a short-lived object instead of req.headers. */
function forwardingHeaders(raw: readonly string[]): RequestView['headers'] {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (!FORWARDING.has(name)) continue;
    const previous = headers[name];
    headers[name] = previous === undefined ? (raw[i + 1] as string) : `${previous}, ${raw[i + 1] as string}`;
  }
  return headers;
}

/** A terminal binding condition for a request that belongs to no session (XEP-0124 §17.2; §17.1 for legacy clients). */
function refuse(reply: BoshReply, condition: BindingCondition, legacy: boolean): void {
  reply.send(terminateBody(condition), CONTENT_TYPE, legacy ? LEGACY_STATUS[condition] ?? 200 : 200);
}

/** One POST, answered once: now, or later by the session holding it. */
class HttpReply implements BoshReply {
  onGone: (() => void) | undefined;
  private answered = false;
  private closed = false;

  constructor(private readonly res: ServerResponse, private readonly cors: Readonly<Record<string, string>>) {
    res.on('close', () => {
      if (this.answered) return;
      this.closed = true;
      const listener = this.onGone;
      this.onGone = undefined;
      listener?.();
    });
  }

  get gone(): boolean {
    return this.closed;
  }

  send(body: string, contentType: string, status = 200): void {
    if (this.answered) return;
    this.answered = true;
    if (this.closed || this.res.destroyed) return;
    this.res.writeHead(status, { ...this.cors, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
    this.res.end(body);
  }

  drop(): void {
    this.answered = true;
    this.res.destroy();
  }
}
