// The floor relay over BOSH (XEP-0124 with XEP-0206) at /http-bind, the least a Node server must do for
// hold=1: every session holds at most one request; a new request releases the held one (with what is queued,
// or empty); a request with nothing to answer is held until a stanza comes for the session or `wait` passes.
// No rid window, no resend cache, no inactivity timer, no polling rules: requests are taken in arrival order.
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { FloorSession, attribute, splitPieces, type FloorOptions } from './session.js';

const NS_HTTPBIND = 'http://jabber.org/protocol/httpbind';
const WAIT_SECONDS = 60;
const HEADERS = { 'Content-Type': 'text/xml; charset=utf-8' };
const EMPTY = `<body xmlns='${NS_HTTPBIND}'/>`;

class BoshFloorSession {
  readonly xmpp: FloorSession;
  private queue: string[] = [];
  private held: http.ServerResponse | undefined;
  private heldSince = 0;

  constructor(options: FloorOptions) {
    this.xmpp = new FloorSession(options, (text) => this.push(text));
  }

  /** A stanza for the client: answers the held request at once, or waits for the next one. */
  push(text: string): void {
    this.queue.push(text);
    if (this.held) this.answer(this.held);
  }

  /** After the request's payload is handled: release the held request, then answer or hold this one. */
  take(response: http.ServerResponse): void {
    if (this.held) this.answer(this.held);
    if (this.queue.length > 0) this.answer(response);
    else {
      this.held = response;
      this.heldSince = Date.now();
    }
  }

  /** Answers a request held past `wait` seconds, empty. */
  expire(now: number): void {
    if (this.held && now - this.heldSince >= WAIT_SECONDS * 1000) this.answer(this.held);
  }

  end(response: http.ServerResponse): void {
    if (this.held) this.answer(this.held);
    this.xmpp.close();
    reply(response, `<body xmlns='${NS_HTTPBIND}' type='terminate'/>`);
  }

  private answer(response: http.ServerResponse): void {
    if (response === this.held) this.held = undefined;
    const payload = this.queue.join('');
    this.queue = [];
    reply(response, payload === '' ? EMPTY : `<body xmlns='${NS_HTTPBIND}'>${payload}</body>`);
  }
}

function reply(response: http.ServerResponse, text: string): void {
  response.writeHead(200, { ...HEADERS, 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

/** The request handler for POST /http-bind; the caller routes other paths elsewhere. */
export function boshHandler(options: FloorOptions): (request: http.IncomingMessage, response: http.ServerResponse) => void {
  const sessions = new Map<string, BoshFloorSession>();
  setInterval(() => {
    const now = Date.now();
    for (const session of sessions.values()) session.expire(now);
  }, 1000).unref();

  const create = (response: http.ServerResponse): void => {
    const sid = randomBytes(8).toString('hex');
    const session = new BoshFloorSession(options);
    sessions.set(sid, session);
    reply(
      response,
      `<body xmlns='${NS_HTTPBIND}' xmlns:xmpp='urn:xmpp:xbosh' sid='${sid}' wait='${WAIT_SECONDS}' requests='2' hold='1' inactivity='60' polling='2' ver='1.11' from='${options.domain}' xmpp:version='1.0' xmpp:restartlogic='true'>${session.xmpp.features()}</body>`,
    );
  };

  return (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const tagEnd = body.indexOf('>');
      if (!body.startsWith('<body') || tagEnd < 0) return void response.writeHead(400).end();
      const sid = attribute(body, 'sid');
      if (sid === undefined) return create(response);
      const session = sessions.get(sid);
      if (!session) return reply(response, `<body xmlns='${NS_HTTPBIND}' type='terminate' condition='item-not-found'/>`);
      if (body[tagEnd - 1] !== '/') {
        splitPieces(body.slice(tagEnd + 1, body.lastIndexOf('</body>')), (piece) => session.xmpp.handle(piece));
      }
      if (attribute(body, 'type') === 'terminate') {
        sessions.delete(sid);
        return session.end(response);
      }
      if (attribute(body, 'xmpp:restart') === 'true') session.push(session.xmpp.features());
      session.take(response);
    });
  };
}
