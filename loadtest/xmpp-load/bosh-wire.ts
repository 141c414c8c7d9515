// The client half of BOSH (XEP-0124 v1.11) carrying XMPP (XEP-0206 v1.4), as a Wire for the login sequence of
// loadtest/bench/login-client.ts: the session creation request stands for the first stream header, an
// `xmpp:restart` request for the one after SASL, and every stanza goes out in the next request.
//
// Request discipline, as a browser library keeps it: never more than `requests` (hold + 1) requests open, sent in
// rid order; when idle, `hold` requests waiting at the server for something to carry back; whatever the session
// wants to send in one event-loop turn leaves in one request. Requests go through one keep-alive http.Agent shared by
// every session of the process, so a session costs one or two TCP connections, not one per request.
import http from 'node:http';
import { parseFrame } from '../../src/xml/framed-parser.js';
import { NS } from '../../src/xml/ns.js';
import type { Element } from '../../src/xml/element.js';
import { CLIENT_LIMITS, type Inbox, type Wire } from '../bench/login-client.js';

export interface BoshTarget {
  host: string;
  port: number;
  path: string;
  domain: string;
  /** Seconds the server may hold a request (§7.1 'wait'). */
  wait: number;
  /** Requests the server may hold at once (§7.1 'hold'). */
  hold: number;
  agent: http.Agent;
  /** Called when a request is sent again after its pooled connection was reset (see `post`). */
  onResend?: (reason: string) => void;
}

/** How many times one request is sent again after a reset pooled connection before the session counts as lost. */
const RESENDS_PER_REQUEST = 3;

/** One keep-alive agent for a whole run: sockets are reused across requests and sessions. */
export function boshAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 100_000, scheduling: 'lifo' });
}

const attr = (name: string, value: string | number): string => ` ${name}='${String(value).replace(/&/g, '&amp;').replace(/'/g, '&apos;')}'`;

export function boshWire(target: BoshTarget, inbox: Inbox, onConnect: () => void, onClose: (err: Error) => void): Wire {
  let rid = 1 + Math.floor(Math.random() * 2 ** 40);
  let sid: string | undefined;
  let requests = target.hold + 1;
  let open = 0;
  let payloads: string[] = [];
  let restartWanted = false;
  let terminateWanted = false;
  let pumpQueued = false;
  let ended = false;
  const inFlight = new Set<http.ClientRequest>();
  // Requests leave in rid order: each is written only once the one before it is on the wire. Otherwise a request
  // on a reused keep-alive socket overtakes an earlier one still connecting, and a server that does not hold
  // early rids back (XEP-0124 §9 asks it to; ejabberd 23.01 does not) leaves both unanswered.
  let previousWritten: Promise<void> = Promise.resolve();
  // A request stays open for up to 'wait' seconds at the server; past that with some slack, it is lost.
  const requestTimeoutMs = (target.wait + 30) * 1000;

  const fail = (err: Error): void => {
    if (ended) return;
    ended = true;
    for (const request of inFlight) request.destroy();
    inFlight.clear();
    onClose(err);
  };

  const post = (attrs: string, payload: string, onBody: (body: Element) => void): void => {
    const requestRid = rid++;
    const text = `<body xmlns='${NS.httpbind}'${attr('rid', requestRid)}${attrs}${payload === '' ? '/>' : `>${payload}</body>`}`;
    open++;
    const written = new Promise<void>((resolve) => send(requestRid, text, onBody, 0, resolve));
    previousWritten = written;
  };

  // One attempt at a request. A keep-alive connection the server closes as idle can be picked from the pool at that
  // very moment; the request on it is reset before the server reads it. Browsers and Strophe.js send such a request
  // again with the same rid, which XEP-0124 §14.3 allows (the server answers a repeated rid from its cache), so
  // this client does too, instead of losing the session to a race of HTTP's own making.
  const send = (requestRid: number, text: string, onBody: (body: Element) => void, resends: number, onWritten: () => void): void => {
    let answered = false;
    const request = http.request(
      {
        host: target.host,
        port: target.port,
        path: target.path,
        method: 'POST',
        agent: target.agent,
        headers: { 'Content-Type': 'text/xml; charset=utf-8', 'Content-Length': Buffer.byteLength(text) },
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          inFlight.delete(request);
          open--;
          if (ended) return;
          if (res.statusCode !== 200) return fail(new Error(`BOSH HTTP ${res.statusCode ?? '?'}`));
          let body: Element;
          try {
            body = parseFrame(Buffer.concat(chunks).toString('utf8'), CLIENT_LIMITS);
          } catch (err) {
            return fail(new Error(`BOSH response not XML: ${String(err)}`));
          }
          if (body.attrs.type === 'terminate') {
            // Stanzas before a termination still count (XEP-0206 §6: remote-stream-error carries them).
            for (const child of body.getChildElements()) if (child.name !== 'stream:error') inbox.push({ kind: 'element', element: child });
            return fail(new Error(`BOSH session terminated${body.attrs.condition ? `: ${body.attrs.condition}` : ''}`));
          }
          onBody(body);
          // Next turn: what the session answers to this body goes out in the request that replaces it.
          schedule();
        });
        res.on('error', (err) => fail(err));
      },
    );
    // Small bodies on a reused connection: without this, Nagle waits for the server's delayed ACK (~200 ms).
    request.on('socket', (socket) => socket.setNoDelay(true));
    inFlight.add(request);
    request.setTimeout(requestTimeoutMs, () => fail(new Error(`BOSH request ${requestRid} unanswered after ${requestTimeoutMs / 1000} s`)));
    request.on('error', (err: NodeJS.ErrnoException) => {
      inFlight.delete(request);
      if (ended) return;
      if (!answered && request.reusedSocket && err.code === 'ECONNRESET' && resends < RESENDS_PER_REQUEST) {
        target.onResend?.(`${err.code} on a reused connection`);
        return send(requestRid, text, onBody, resends + 1, () => undefined);
      }
      fail(err);
    });
    request.once('finish', onWritten);
    request.once('close', onWritten);
    if (resends > 0) request.end(text);
    else void previousWritten.then(() => request.end(text));
  };

  const deliver = (body: Element): void => {
    for (const child of body.getChildElements()) inbox.push({ kind: 'element', element: child });
  };

  /** Sends what is waiting, within the request limit; keeps `hold` requests at the server when idle. */
  const pump = (): void => {
    pumpQueued = false;
    if (ended || sid === undefined) return;
    const session = `${attr('sid', sid)}`;
    while (open < requests) {
      if (restartWanted) {
        // XEP-0206 §5: the restart request carries nothing else.
        restartWanted = false;
        post(`${session}${attr('to', target.domain)}${attr('xml:lang', 'en')}${attr('xmpp:restart', 'true')}${attr('xmlns:xmpp', NS.xbosh)}`, '', deliver);
        // The new stream starts with the request; its features come in whichever response carries them.
        inbox.push({ kind: 'header' });
      } else if (payloads.length > 0) {
        const payload = payloads.join('');
        payloads = [];
        post(terminateWanted ? `${session}${attr('type', 'terminate')}` : session, payload, deliver);
        if (terminateWanted) return finish();
      } else if (terminateWanted) {
        post(`${session}${attr('type', 'terminate')}`, '', deliver);
        return finish();
      } else if (open < target.hold) post(session, '', deliver);
      else break;
    }
  };

  const finish = (): void => {
    // The termination's answer is not awaited: the session is over for this client.
    ended = true;
  };

  const schedule = (): void => {
    if (pumpQueued) return;
    pumpQueued = true;
    setImmediate(pump);
  };

  const create = (): void => {
    const attrs =
      attr('to', target.domain) + attr('xml:lang', 'en') + attr('ver', '1.11') + attr('wait', target.wait) + attr('hold', target.hold) +
      attr('content', 'text/xml; charset=utf-8') + attr('xmlns:xmpp', NS.xbosh) + attr('xmpp:version', '1.0');
    post(attrs, '', (body) => {
      if (body.attrs.sid === undefined) return fail(new Error('BOSH session creation answered without a sid'));
      sid = body.attrs.sid;
      requests = Math.max(1, Number(body.attrs.requests) || requests);
      inbox.push({ kind: 'header' });
      deliver(body);
    });
  };

  // HTTP has no connection to wait for before the first stream header: the creation request opens the session.
  queueMicrotask(onConnect);

  return {
    openStream: () => {
      if (sid === undefined) return create();
      restartWanted = true;
      schedule();
    },
    send: (element) => {
      if (ended) return;
      element.attrs.xmlns ??= NS.client;
      payloads.push(element.toString());
      schedule();
    },
    restart: () => undefined, // the next openStream() sends the restart request
    close: () => {
      if (ended || sid === undefined) return;
      terminateWanted = true;
      payloads.push(`<presence xmlns='${NS.client}' type='unavailable'/>`);
      schedule();
    },
    destroy: () => fail(new Error('closed by the load generator')),
  };
}
