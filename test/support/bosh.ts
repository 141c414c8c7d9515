// A raw BOSH client (XEP-0124, XEP-0206) for protocol tests: it writes <body/> wrappers by hand, with
// whatever rid, sid and attributes a test wants, and reads each HTTP answer whole.
import http from 'node:http';
import { parse, type Element } from 'ltx';
import type { TestServer } from './server.js';

export const HTTPBIND = 'http://jabber.org/protocol/httpbind';
export const XBOSH = 'urn:xmpp:xbosh';

export interface BoshResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The parsed <body/> (undefined when the answer is not XML). */
  body: Element | undefined;
}

export interface PostOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Resolves with the request so a test can drop its connection; the promise then rejects. */
  onRequest?: (request: http.ClientRequest) => void;
  timeoutMs?: number;
}

/** One HTTP request to /http-bind on a fresh connection. */
export function boshPost(server: TestServer, data: string, options: PostOptions = {}): Promise<BoshResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port: server.ports.http, path: '/http-bind', method: options.method ?? 'POST', agent: false, headers: { 'Content-Type': 'text/xml; charset=utf-8', ...options.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let body: Element | undefined;
          try {
            body = text.startsWith('<') ? parse(text) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
        res.on('error', reject);
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`no answer from /http-bind within ${options.timeoutMs ?? 10_000} ms`));
    }, options.timeoutMs ?? 10_000);
    request.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    options.onRequest?.(request);
    request.end(data);
  });
}

function attrString(attrs: Record<string, string | number | undefined>): string {
  let out = '';
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) out += ` ${k}='${String(v).replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;')}'`;
  return out;
}

/** A request body: <body xmlns=httpbind ...attrs>payload</body>. */
export function bodyXml(attrs: Record<string, string | number | undefined>, payload = ''): string {
  const open = `<body xmlns='${HTTPBIND}'${attrString(attrs)}`;
  return payload === '' ? `${open}/>` : `${open}>${payload}</body>`;
}

export const isTerminate = (res: BoshResponse, condition?: string): boolean =>
  res.body?.attrs.type === 'terminate' && res.body.attrs.condition === condition;

/** A BOSH session driven by hand. */
export class RawBosh {
  sid = '';
  /** The rid the next request gets. */
  rid = 1_000_000 + Math.floor(Math.random() * 1_000_000_000);

  constructor(readonly server: TestServer) {}

  /** Sends the session creation request (XEP-0124 §7.1) with the usual XEP-0206 attributes, overridable. */
  async create(attrs: Record<string, string | number | undefined> = {}): Promise<BoshResponse> {
    const res = await boshPost(this.server, bodyXml({ rid: this.rid++, to: this.server.domain, 'xml:lang': 'en', ver: '1.6', wait: 10, hold: 1, 'xmlns:xmpp': XBOSH, 'xmpp:version': '1.0', ...attrs }));
    this.sid = res.body?.attrs.sid ?? '';
    return res;
  }

  /** The next request's body, taking the next rid. */
  next(payload = '', attrs: Record<string, string | number | undefined> = {}): string {
    return bodyXml({ rid: this.rid++, sid: this.sid, ...attrs }, payload);
  }

  request(payload = '', attrs: Record<string, string | number | undefined> = {}, options: PostOptions = {}): Promise<BoshResponse> {
    return boshPost(this.server, this.next(payload, attrs), options);
  }

  /** Creates a session and logs in with PLAIN: SASL, the restart (XEP-0206 §5) and resource binding. */
  async login(username: string, password: string, resource: string, attrs: Record<string, string | number | undefined> = {}): Promise<void> {
    const created = await this.create(attrs);
    if (!created.text.includes('<mechanism>PLAIN</mechanism>')) throw new Error(`no PLAIN in ${created.text}`);
    const auth = await this.request(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${username}\0${password}`).toString('base64')}</auth>`);
    if (!auth.text.includes('<success')) throw new Error(`no success in ${auth.text}`);
    const restart = await this.request('', { to: this.server.domain, 'xml:lang': 'en', 'xmpp:restart': 'true', 'xmlns:xmpp': XBOSH });
    if (!restart.text.includes('urn:ietf:params:xml:ns:xmpp-bind')) throw new Error(`no bind feature in ${restart.text}`);
    const bind = await this.request(`<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    if (!bind.text.includes('</jid>')) throw new Error(`no bound JID in ${bind.text}`);
  }
}

/** An XEP-0199 ping to the server: a payload the server answers at once. */
export const PING = (id: string): string => `<iq xmlns='jabber:client' type='get' id='${id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`;
