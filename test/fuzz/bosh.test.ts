// Fuzzing the BOSH request handler (src/transports/bosh.ts, bosh-session.ts, bosh-body.ts) over real HTTP:
// arbitrary and near-valid <body/> requests (rid, sid, wait, hold, ver, to, xmpp:version, xmpp:restart, bad rid
// sequences, unknown sids, huge bodies, non-XML, odd content types and methods). Every request gets an HTTP
// answer; a BOSH error is a terminate body with a condition of XEP-0124 §17.2 (or, for a client without 'ver',
// its legacy HTTP status); and after the client's terminate no session is left, in BOSH or in the registry.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { BoshEndpoint } from '../../src/transports/bosh.js';
import { NS } from '../../src/xml/ns.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { counted, FUZZ_TIMEOUT, fuzzParams } from './support.js';

/** XEP-0124 §17.2 */
const CONDITIONS = new Set(['bad-request', 'host-gone', 'host-unknown', 'improper-addressing', 'internal-server-error', 'item-not-found',
  'other-request', 'policy-violation', 'remote-connection-failed', 'remote-stream-error', 'see-other-uri', 'system-shutdown', 'undefined-condition']);
const MAX_BODY = 20_000;

interface Answer { status: number; type: string; body: string }

function send(port: number, method: string, contentType: string | undefined, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'Content-Length': String(body.length) };
    if (contentType !== undefined) headers['Content-Type'] = contentType;
    const req = request({ host: '127.0.0.1', port, path: '/http-bind', method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // A body over the cap is answered before it is all sent; the server then closes the connection.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve({ status: -1, type: '', body: '' }) : reject(err)));
    req.end(body);
  });
}

type Rid = 'next' | 'same' | 'old' | 'skip' | 'far' | 'junk' | 'none';
interface Req {
  method: string;
  contentType: string | undefined;
  rid: Rid;
  sid: 'real' | 'unknown' | 'none';
  attrs: string;
  payload: string;
  raw: Buffer | undefined;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const payloadArb = fc.constantFrom('', '', `<auth xmlns='${NS.sasl}' mechanism='PLAIN'>${b64('\0juliet\0r0m30')}</auth>`,
  `<auth xmlns='${NS.sasl}' mechanism='PLAIN'>${b64('\0juliet\0no')}</auth>`, `<iq type='set' id='b'><bind xmlns='${NS.bind}'/></iq>`,
  "<message to='juliet@localhost'><body>x</body></message>", '<presence/>', '<garbage/>', "<iq type='get' id='x'/>", 'text', '<a>', '</b>',
  "<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>");
const attrsArb = fc.array(fc.constantFrom(" type='terminate'", " xmpp:restart='true'", " xmpp:restart='false'", " type='bogus'", " wait='1'",
  " hold='1'", " hold='0'", " hold='5'", " ver='1.6'", " ver='1.11'", " ver='x'", " to='localhost'", " to='elsewhere.example'", " to=''",
  " xmpp:version='1.0'", " xmpp:version='0.9'", " xml:lang='en'", " content='text/xml'", " content='\u0001'", " ack='1'", " pause='5'", " wait='-1'",
  " wait='99999999999'", " rid='1'"), { maxLength: 4 });
const reqArb: fc.Arbitrary<Req> = fc.record({
  method: fc.oneof({ weight: 12, arbitrary: fc.constant('POST') }, fc.constantFrom('GET', 'OPTIONS', 'PUT', 'DELETE', 'HEAD')),
  contentType: fc.constantFrom('text/xml; charset=utf-8', 'text/xml; charset=utf-8', 'application/json', undefined, 'x/y'),
  rid: fc.oneof({ weight: 6, arbitrary: fc.constant<Rid>('next') }, fc.constantFrom<Rid>('same', 'old', 'far', 'junk', 'none')),
  sid: fc.oneof({ weight: 6, arbitrary: fc.constant('real' as const) }, fc.constantFrom('unknown' as const, 'none' as const)),
  attrs: attrsArb.map((a) => [...new Set(a)].join('')),
  payload: fc.array(payloadArb, { maxLength: 3 }).map((p) => p.join('')),
  raw: fc.option(fc.oneof(
    fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b)),
    fc.string({ maxLength: 60 }).map((s) => Buffer.from(s)),
    fc.constant(Buffer.alloc(MAX_BODY + 10, 'a')),
    fc.constant(Buffer.from(`<body xmlns='${NS.httpbind}' rid='5' sid='x'>${'<presence/>'.repeat(2000)}</body>`)),
    fc.constant(Buffer.from([0x3c, 0x62, 0xff, 0x3e])),
  ), { freq: 8 }),
});

function ridOf(kind: Rid, last: number): string | undefined {
  switch (kind) {
    case 'next': return String(last + 1);
    case 'same': return String(last);
    case 'old': return String(last - 3);
    case 'skip': return String(last + 2);
    case 'far': return String(last + 1000);
    case 'junk': return '0x10';
    case 'none': return undefined;
  }
}

/** What an answer must look like: some HTTP status, and for a body of type terminate, a defined condition. */
function checkAnswer(answer: Answer): void {
  assert.ok(answer.status === -1 || (answer.status >= 200 && answer.status < 600), `status ${answer.status}`);
  if (!answer.body.startsWith('<body')) return;
  const type = /\stype=['"]([^'"]*)['"]/.exec(answer.body)?.[1];
  const condition = /\scondition=['"]([^'"]*)['"]/.exec(answer.body)?.[1];
  if (type === 'terminate' && condition !== undefined) assert.ok(CONDITIONS.has(condition), `condition ${condition}`);
  if (type === 'terminate' && condition === 'remote-stream-error') assert.match(answer.body, /<stream:error[\s>]/, 'remote-stream-error carries the stream error');
}

describe('fuzz: BOSH request handler', function () {
  this.timeout(FUZZ_TIMEOUT);
  let server: TestServer;
  let endpoint: BoshEndpoint;
  let http: Server;
  let port: number;

  before(async () => {
    server = await startTestServer({ auth: { scramIterations: 16, failuresBeforeDelay: 1_000_000, addressFailuresBeforeDelay: 1_000_000, lockoutFailures: 1_000_000 } });
    await server.addUser('juliet', 'r0m30');
    endpoint = new BoshEndpoint({
      domain: 'localhost', log: server.server.log, limits: { maxStanzaBytes: 10_240, maxDepth: 16 }, maxBodyBytes: MAX_BODY, inactivity: 30,
      corsOrigins: ['*'], originOf: () => ({ remoteAddress: '127.0.0.1', secure: true, https: false, forwardedHeadersTrusted: false }),
    }, (session) => server.server.connect(session));
    http = createServer(endpoint.handle);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    port = (http.address() as AddressInfo).port;
  });
  after(async () => {
    endpoint?.close();
    await new Promise((resolve) => http?.close(resolve));
    await server?.stop();
  });

  it('sequences of arbitrary and near-valid requests on a session', async () => {
    let created = 0;
    await fc.assert(fc.asyncProperty(fc.array(reqArb, { maxLength: 6 }), fc.integer({ min: 1, max: 1_000_000 }), async (reqs, firstRid) => {
      counted();
      const open = await send(port, 'POST', 'text/xml; charset=utf-8', Buffer.from(
        `<body rid='${firstRid}' wait='1' hold='1' ver='1.6' to='localhost' xml:lang='en' xmpp:version='1.0' xmlns='${NS.httpbind}' xmlns:xmpp='${NS.xbosh}'/>`));
      checkAnswer(open);
      const sid = /\ssid=['"]([^'"]+)['"]/.exec(open.body)?.[1];
      assert.ok(sid, `a session: ${open.body}`);
      created++;
      let last = firstRid;
      const pending: Promise<Answer>[] = [];
      const others = new Map<string, number>();
      for (const r of reqs) {
        const rid = ridOf(r.rid, last);
        if (r.rid === 'next' && r.sid === 'real' && r.raw === null && r.method === 'POST') last = Number(rid);
        const sidAttr = r.sid === 'real' ? ` sid='${sid}'` : r.sid === 'unknown' ? " sid='nosuchsession'" : '';
        const body = r.raw ?? Buffer.from(`<body${rid === undefined ? '' : ` rid='${rid}'`}${sidAttr}${r.attrs} xmlns='${NS.httpbind}' xmlns:xmpp='${NS.xbosh}'>${r.payload}</body>`);
        const answer = send(port, r.method, r.contentType, r.method === 'GET' || r.method === 'HEAD' ? Buffer.alloc(0) : body);
        // A body without sid is a session creation request: that session is terminated below too. Its rid is the
        // one in the body, which may come from the arbitrary attributes rather than the model.
        const sentRid = /\srid=['"](\d+)['"]/.exec(body.toString())?.[1];
        if (r.sid === 'none' && r.raw === null && sentRid !== undefined) void answer.then((a) => { const other = /\ssid=['"]([^'"]+)['"]/.exec(a.body)?.[1]; if (other) others.set(other, Number(sentRid)); });
        pending.push(answer);
        // A request the session holds is answered when the next one comes (hold 1) or after 'wait'.
        await Promise.race([answer, new Promise((resolve) => setTimeout(resolve, 5))]);
      }
      // The client's terminate. This model of the session's rids can be off by one where a request above was refused
      // without ending the session (a rid used twice is answered with a recoverable error, §17.3; a rid skipped leaves
      // a gap the session waits for, §14.3): the terminate is sent again with the rids around, as a client would resend.
      let end: Answer | undefined;
      for (const rid of [last + 1, last, last + 2, last - 1, last + 3]) {
        end = await send(port, 'POST', 'text/xml; charset=utf-8', Buffer.from(`<body rid='${rid}' sid='${sid}' type='terminate' xmlns='${NS.httpbind}'><presence type='unavailable'/></body>`));
        checkAnswer(end);
        await new Promise((resolve) => setTimeout(resolve, 20));
        if (endpoint.size === 0) break;
      }
      for (const answer of await Promise.all(pending)) checkAnswer(answer);
      for (const [other, otherRid] of others) checkAnswer(await send(port, 'POST', 'text/xml', Buffer.from(`<body rid='${otherRid + 1}' sid='${other}' type='terminate' xmlns='${NS.httpbind}'/>`)));
      // Every session ends: at the terminate, or (after a bad rid or sid) when the endpoint ended it itself.
      for (let i = 0; i < 200 && (endpoint.size > 0 || server.server.sessions.size > 0); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(endpoint.size, 0, `no BOSH session left after terminate (answered ${end?.status} ${end?.body.slice(0, 200)}; before: ${(await Promise.all(pending)).map((a) => `${a.status} ${a.body.slice(0, 120)}`).join(' | ')})`);
      assert.equal(server.server.sessions.size, 0, 'no bound session left after terminate');
    }), fuzzParams(100));
    assert.ok(created > 0);
  });
});
