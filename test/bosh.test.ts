// XMPP over BOSH (XEP-0124 v1.11.2, XEP-0206 v1.4) at /http-bind: Strophe.js logs in and chats with an
// xmpp.js user on WebSocket; raw HTTP requests walk the spec's examples, the rid window, holding and
// waiting, inactivity and pause, termination, every refused input with its terminal condition, and CORS.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { $msg, $pres } from 'strophe.js';
import { boshPost, bodyXml, isTerminate, PING, RawBosh, XBOSH, type BoshResponse } from './support/bosh.js';
import { connect, type TestClient } from './support/clients.js';
import { startTestServer, type TestServer } from './support/server.js';
import { connectStrophe, StropheAuthError, type StropheClient } from './support/strophe.js';

const PASSWORD = 'b0sh-secret';
const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const STREAM = 'http://etherx.jabber.org/streams';
const STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';

const payloads = (res: BoshResponse): Element[] => res.body?.getChildElements() ?? [];
const messageTo = (to: string, text: string, id = text): string => `<message xmlns='jabber:client' to='${to}' type='chat' id='${id}'><body>${text}</body></message>`;
const isMessage = (body: string) => (s: Element): boolean => s.is('message') && s.getChildText('body') === body;
const later = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('XMPP over BOSH (XEP-0124, XEP-0206)', function () {
  let server: TestServer;
  const stropheClients: StropheClient[] = [];
  const xmppClients: TestClient[] = [];
  let userCount = 0;

  /** A fresh account, so tests do not share sessions or resources. */
  async function user(prefix: string): Promise<string> {
    const name = `${prefix}${++userCount}`;
    await server.addUser(name, PASSWORD);
    return name;
  }

  async function websocketUser(prefix: string, resource = 'ws'): Promise<TestClient> {
    const name = await user(prefix);
    const client = await connect(server, { transport: 'websocket', username: name, password: PASSWORD, resource });
    xmppClients.push(client);
    return client;
  }

  async function boshUser(prefix: string, resource = 'bosh', attrs: Record<string, string | number> = {}): Promise<{ bosh: RawBosh; jid: string }> {
    const name = await user(prefix);
    const bosh = new RawBosh(server);
    await bosh.login(name, PASSWORD, resource, attrs);
    return { bosh, jid: `${name}@localhost/${resource}` };
  }

  before(async function () {
    server = await startTestServer();
  });

  afterEach(async function () {
    await Promise.all([...stropheClients.splice(0).map((c) => c.stop()), ...xmppClients.splice(0).map((c) => c.stop())]);
  });

  after(async function () {
    await server?.stop();
  });

  describe('Strophe.js as the client', function () {
    it('logs in with SCRAM-SHA-256, restarts the stream after SASL (XEP-0206 §5) and binds', async function () {
      const name = await user('juliet');
      const juliet = await connectStrophe(server, { transport: 'bosh', username: name, password: PASSWORD, resource: 'balcony', mechanisms: ['SCRAM-SHA-256'] });
      stropheClients.push(juliet);
      assert.equal(juliet.jid, `${name}@localhost/balcony`);
      assert.match(juliet.sent.find((b) => b.includes('<auth ')) ?? '', /mechanism="SCRAM-SHA-256"/);
      const restartAt = juliet.sent.findIndex((b) => /xmpp:restart="true"/.test(b));
      assert.ok(restartAt > 0, 'Strophe asked for a stream restart');
      assert.ok(juliet.sent.findIndex((b) => b.includes('<auth ')) < restartAt, 'after SASL');
      assert.ok(juliet.received.some((b) => b.includes('<stream:features><bind ')), 'the restart was answered with the bind feature');
      const session = server.server.sessions.get(`${name}@localhost/balcony`);
      assert.equal(session?.transport, 'bosh');
    });

    it('logs in with PLAIN', async function () {
      const name = await user('romeo');
      const romeo = await connectStrophe(server, { transport: 'bosh', username: name, password: PASSWORD, resource: 'garden', mechanisms: ['PLAIN'] });
      stropheClients.push(romeo);
      assert.match(romeo.sent.find((b) => b.includes('<auth ')) ?? '', /mechanism="PLAIN"/);
      assert.ok(server.server.sessions.get(`${name}@localhost/garden`));
    });

    it('exchanges chat messages both ways with an xmpp.js client on WebSocket', async function () {
      const name = await user('juliet');
      const juliet = await connectStrophe(server, { transport: 'bosh', username: name, password: PASSWORD, resource: 'web', mechanisms: ['SCRAM-SHA-1'] });
      stropheClients.push(juliet);
      const romeo = await websocketUser('romeo');

      juliet.send($msg({ to: romeo.jid, type: 'chat', id: 'b1' }).c('body').t('Wherefore art thou?'));
      const fromBosh = await romeo.next(isMessage('Wherefore art thou?'));
      assert.equal(fromBosh.attrs.from, `${name}@localhost/web`);

      juliet.send($pres());
      await romeo.xmpp.send(xml('message', { to: `${name}@localhost`, type: 'chat', id: 'w1' }, xml('body', {}, 'By the orchard wall.')));
      const toBosh = await juliet.next((s) => s.tagName === 'message');
      assert.equal(toBosh.getAttribute('from'), romeo.jid);
      assert.equal(toBosh.getElementsByTagName('body')[0]?.textContent, 'By the orchard wall.');
    });

    it('reports a wrong password as not-authorized', async function () {
      const name = await user('juliet');
      await assert.rejects(
        connectStrophe(server, { transport: 'bosh', username: name, password: 'tybalt', mechanisms: ['SCRAM-SHA-256'] }),
        (err: unknown) => err instanceof StropheAuthError && err.condition === 'not-authorized',
      );
    });

    it('disconnects with a terminate body, and the server ends the session', async function () {
      const name = await user('juliet');
      const juliet = await connectStrophe(server, { transport: 'bosh', username: name, password: PASSWORD, resource: 'leaving' });
      assert.ok(server.server.sessions.get(`${name}@localhost/leaving`));
      await juliet.stop();
      assert.match(juliet.sent.at(-1) ?? '', /type="terminate"/);
      for (let i = 0; i < 50 && server.server.sessions.get(`${name}@localhost/leaving`); i++) await later(20);
      assert.equal(server.server.sessions.get(`${name}@localhost/leaving`), undefined);
    });
  });

  describe('session creation (XEP-0124 §7, XEP-0206 §3, §4)', function () {
    it('answers with the session attributes and the stream features in the same response', async function () {
      const bosh = new RawBosh(server);
      const res = await bosh.create({ wait: 300, hold: 5, ack: '1' });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'text/xml; charset=utf-8');
      assert.equal(res.headers['cache-control'], 'no-store');
      const a = res.body?.attrs ?? {};
      assert.match(a.sid ?? '', /^[0-9a-f]{32}$/, 'a 128-bit random sid');
      assert.equal(a.wait, '60', 'at most the 60 s the server allows');
      assert.equal(a.hold, '1', 'at most one held request');
      assert.equal(a.requests, '2', 'hold + 1');
      assert.equal(a.inactivity, '60');
      assert.equal(a.polling, '2');
      assert.equal(a.maxpause, '120');
      assert.equal(a.ver, '1.6', 'the lower of the two versions');
      assert.equal(a.from, 'localhost');
      assert.equal(a.ack, String(bosh.rid - 1), 'ack is the rid of the session request (§9.1)');
      assert.equal(a['xmlns:xmpp'], XBOSH);
      assert.equal(a['xmpp:version'], '1.0');
      assert.equal(a['xmpp:restartlogic'], 'true');
      assert.match(a.authid ?? '', /^[\w-]{8,}$/, 'the stream id');
      const features = res.body?.getChild('features', STREAM);
      assert.deepEqual(features?.getChild('mechanisms', SASL)?.getChildren('mechanism').map((m) => m.getText()).includes('PLAIN'), true);
      assert.equal(a['xmlns:stream'], STREAM);
    });

    it("sends the 'content' the client asked for as the Content-Type, and offers BOSH 1.11 to newer clients", async function () {
      const bosh = new RawBosh(server);
      const res = await bosh.create({ content: 'text/html; charset=utf-8', ver: '1.20' });
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(res.body?.attrs.ver, '1.11');
      assert.equal(res.body?.attrs.ack, undefined, 'no acknowledgements unless asked for');
    });

    it('refuses another domain with host-unknown, and a request without rid or with a bad wait with bad-request', async function () {
      assert.ok(isTerminate(await new RawBosh(server).create({ to: 'elsewhere.example' }), 'host-unknown'));
      assert.ok(isTerminate(await new RawBosh(server).create({ rid: undefined }), 'bad-request'));
      assert.ok(isTerminate(await new RawBosh(server).create({ rid: 'twelve' }), 'bad-request'));
      assert.ok(isTerminate(await new RawBosh(server).create({ wait: '-1' }), 'bad-request'));
      // A line feed written as a character reference survives attribute normalisation; it must not reach a header.
      const injection = `<body xmlns='http://jabber.org/protocol/httpbind' rid='77' to='localhost' ver='1.6' content='text/xml&#10;X-Evil: 1'/>`;
      assert.ok(isTerminate(await boshPost(server, injection), 'bad-request'));
    });

    it('answers an unsupported xmpp:version with a remote-stream-error (XEP-0206 §6)', async function () {
      const res = await new RawBosh(server).create({ 'xmpp:version': '2.0' });
      assert.ok(isTerminate(res, 'remote-stream-error'));
      assert.ok(res.body?.getChild('error', STREAM)?.getChild('unsupported-version', STREAM_ERRORS));
    });

    it('gives a legacy client (no ver) the old HTTP status codes with its binding errors (§17.1)', async function () {
      const bad = await new RawBosh(server).create({ ver: undefined, wait: 'soon' });
      assert.equal(bad.status, 400);
      const bosh = new RawBosh(server);
      assert.equal((await bosh.create({ ver: undefined })).status, 200);
      const lost = await boshPost(server, bodyXml({ rid: bosh.rid + 5, sid: bosh.sid }));
      assert.equal(lost.status, 404);
      assert.ok(isTerminate(lost, 'item-not-found'));
    });
  });

  describe('request ids (§14)', function () {
    it('resends the cached response to a repeated rid (§14.3)', async function () {
      const { bosh } = await boshUser('juliet');
      const request = bosh.next(PING('p1'));
      const first = await boshPost(server, request);
      assert.equal(payloads(first)[0]?.attrs.id, 'p1');
      const again = await boshPost(server, request);
      assert.equal(again.text, first.text);
      assert.ok(payloads(await bosh.request(PING('p2'))).some((p) => p.attrs.id === 'p2'), 'the session goes on');
    });

    it('continues the session on a new connection after the held request was dropped', async function () {
      const { bosh, jid } = await boshUser('juliet');
      const romeo = await websocketUser('romeo');
      // The held request carries a message, so the server has surely read it before it is dropped.
      const heldRid = bosh.rid;
      let held: import('node:http').ClientRequest | undefined;
      const dropped = bosh.request(messageTo(romeo.jid, 'before the drop'), {}, { onRequest: (r) => (held = r) }).catch(() => 'dropped');
      await romeo.next(isMessage('before the drop'));
      held?.destroy();
      assert.equal(await dropped, 'dropped');
      await later(100);
      await romeo.xmpp.send(xml('message', { to: jid, type: 'chat' }, xml('body', {}, 'while you were away')));
      await later(100);
      const next = await bosh.request('', {}, { timeoutMs: 15_000 });
      assert.equal(next.status, 200);
      // Not lost either way: in the next response, or in the one kept for the dropped rid (§14.3).
      const resent = await boshPost(server, bodyXml({ rid: heldRid, sid: bosh.sid }));
      const delivered = [...payloads(next), ...payloads(resent)].filter((p) => p.is('message'));
      assert.deepEqual(delivered.map((m) => m.getChildText('body')), ['while you were away']);
      assert.ok(payloads(await bosh.request(PING('p3'))).some((p) => p.attrs.id === 'p3'), 'the session goes on');
    });

    it('processes requests that arrive out of order in rid order (§14.2)', async function () {
      const { bosh } = await boshUser('juliet');
      const romeo = await websocketUser('romeo');
      const first = bosh.next(messageTo(romeo.jid, 'first'));
      const second = bosh.next(messageTo(romeo.jid, 'second'));
      const early = boshPost(server, second);
      await later(150);
      const inOrder = boshPost(server, first);
      const received: string[] = [];
      received.push((await romeo.next((s) => s.is('message'))).getChildText('body') ?? '');
      received.push((await romeo.next((s) => s.is('message'))).getChildText('body') ?? '');
      assert.deepEqual(received, ['first', 'second']);
      assert.equal((await inOrder).status, 200, 'the lower rid is answered first, released by the higher one');
      await bosh.request('', { pause: 10 });
      assert.equal((await early).status, 200);
    });

    it('answers the older copy of a rid still held with a recoverable error and the newer with the response (§14.3)', async function () {
      const { bosh } = await boshUser('juliet', 'bosh', { wait: 2 });
      const poll = bosh.next();
      const older = boshPost(server, poll);
      await later(150);
      const newer = boshPost(server, poll);
      const olderRes = await older;
      assert.equal(olderRes.body?.attrs.type, 'error');
      const newerRes = await newer;
      assert.equal(newerRes.status, 200);
      assert.equal(newerRes.body?.attrs.type, undefined);
    });

    it('terminates with item-not-found for a rid beyond the window, and forgets the session', async function () {
      const { bosh, jid } = await boshUser('juliet');
      const res = await boshPost(server, bodyXml({ rid: bosh.rid + 2, sid: bosh.sid }, PING('x')));
      assert.ok(isTerminate(res, 'item-not-found'));
      assert.equal(res.status, 200);
      assert.equal(server.server.sessions.get(jid), undefined);
      assert.ok(isTerminate(await bosh.request(PING('y')), 'item-not-found'), 'requests after the termination');
    });

    it('terminates with item-not-found for an old rid whose response is no longer kept', async function () {
      const { bosh } = await boshUser('juliet');
      const old = bosh.rid - 4;
      assert.ok(isTerminate(await boshPost(server, bodyXml({ rid: old, sid: bosh.sid })), 'item-not-found'));
    });

    it("acknowledges the highest rid received when answering an older request (§9.1, with ack='1')", async function () {
      const { bosh } = await boshUser('juliet', 'bosh', { ack: '1' });
      const pollRid = bosh.rid;
      const poll = bosh.request();
      await later(150);
      const ping = bosh.request(PING('p5'));
      const released = await poll;
      assert.equal(released.body?.attrs.ack, String(pollRid + 1));
      const pause = await bosh.request('', { pause: 10 });
      assert.equal((await ping).body?.attrs.ack, String(pollRid + 2));
      assert.equal(pause.body?.attrs.ack, undefined, 'no ack when it would be the rid answered');
    });
  });

  describe('bad input: each answered with its terminal condition (§17.2), none left hanging', function () {
    const quick = { timeoutMs: 3000 };

    it('an unknown sid: item-not-found', async function () {
      const res = await boshPost(server, bodyXml({ rid: 42, sid: 'f'.repeat(32) }), quick);
      assert.equal(res.status, 200);
      assert.ok(isTerminate(res, 'item-not-found'));
    });

    it('a body over http.max_bosh_body: policy-violation, and the session it names ends', async function () {
      const { bosh, jid } = await boshUser('juliet');
      const huge = bosh.next(`<message xmlns='jabber:client' to='localhost'><body>${'x'.repeat(server.config.http.maxBoshBody)}</body></message>`);
      const res = await boshPost(server, huge, quick);
      assert.ok(isTerminate(res, 'policy-violation'));
      assert.equal(server.server.sessions.get(jid), undefined);
    });

    it('a stanza over the stream limit inside a body under the cap: policy-violation', async function () {
      const bosh = new RawBosh(server);
      await bosh.create();
      // Before authentication the stanza limit is c2s.pre_auth_max_stanza_size.
      const big = `<auth xmlns='${SASL}' mechanism='PLAIN'>${'A'.repeat(server.config.c2s.preAuthMaxStanzaSize)}</auth>`;
      assert.ok(isTerminate(await bosh.request(big, {}, quick), 'policy-violation'));
      assert.ok(isTerminate(await bosh.request('', {}, quick), 'item-not-found'));
    });

    it('malformed XML: bad-request, and the session named in the start tag ends', async function () {
      const { bosh, jid } = await boshUser('juliet');
      const res = await boshPost(server, `<body xmlns='http://jabber.org/protocol/httpbind' rid='${bosh.rid}' sid='${bosh.sid}'><message><body>unclosed</message></body>`, quick);
      assert.ok(isTerminate(res, 'bad-request'));
      assert.equal(server.server.sessions.get(jid), undefined);
      assert.ok(isTerminate(await boshPost(server, 'not xml at all', quick), 'bad-request'));
    });

    it('a root other than <body/> in the httpbind namespace: bad-request', async function () {
      assert.ok(isTerminate(await boshPost(server, `<stream:stream xmlns:stream='http://etherx.jabber.org/streams' rid='1'/>`, quick), 'bad-request'));
      assert.ok(isTerminate(await boshPost(server, `<body rid='5' to='localhost'/>`, quick), 'bad-request'));
    });

    it('comments, character data or a missing rid in a body: bad-request (§6)', async function () {
      const one = await boshUser('juliet');
      assert.ok(isTerminate(await boshPost(server, one.bosh.next('<!-- hello -->'), quick), 'bad-request'));
      const two = await boshUser('juliet');
      assert.ok(isTerminate(await boshPost(server, two.bosh.next('stray text'), quick), 'bad-request'));
      const three = await boshUser('juliet');
      assert.ok(isTerminate(await boshPost(server, bodyXml({ sid: three.bosh.sid }), quick), 'bad-request'));
      assert.equal(server.server.sessions.get(three.jid), undefined);
    });

    it("requests after the client's termination: item-not-found", async function () {
      const { bosh } = await boshUser('juliet');
      assert.equal((await bosh.request('', { type: 'terminate' }, quick)).body?.attrs.type, 'terminate');
      assert.ok(isTerminate(await bosh.request(PING('late'), {}, quick), 'item-not-found'));
    });
  });

  describe('holding requests (§8, §11, §12)', function () {
    it("answers a held request with an empty body once 'wait' passes", async function () {
      const { bosh } = await boshUser('juliet', 'bosh', { wait: 1 });
      const started = Date.now();
      const res = await bosh.request('', {}, { timeoutMs: 8000 });
      assert.ok(Date.now() - started >= 900, 'held for about a second');
      assert.equal(res.status, 200);
      assert.equal(res.body?.attrs.type, undefined);
      assert.equal(payloads(res).length, 0);
    });

    it('with hold=1, a second request releases the first', async function () {
      const { bosh } = await boshUser('juliet', 'bosh', { wait: 30 });
      const started = Date.now();
      const poll = bosh.request('', {}, { timeoutMs: 20_000 });
      await later(150);
      const ping = bosh.request(PING('p6'), {}, { timeoutMs: 20_000 });
      const released = await poll;
      assert.ok(Date.now() - started < 15_000, 'long before the 30 s wait');
      // Answers go out in rid order, so the ping's result may ride on the older request (§8); the newest
      // request stays held, until a pause (§10) has everything answered at once.
      const pause = await bosh.request('', { pause: 10 });
      const ids = [...payloads(released), ...payloads(await ping), ...payloads(pause)].map((p) => p.attrs.id);
      assert.deepEqual(ids, ['p6']);
    });

    it('terminates with policy-violation when empty requests come faster than polling allows (§11)', async function () {
      const { bosh } = await boshUser('juliet');
      const poll = bosh.request('', {}, { timeoutMs: 5000 });
      await later(100);
      assert.ok(isTerminate(await bosh.request('', {}, { timeoutMs: 5000 }), 'policy-violation'));
      assert.ok(isTerminate(await poll, 'policy-violation'));
    });

    it('makes hold=0 a polling session and terminates one that polls too often (§12)', async function () {
      const bosh = new RawBosh(server);
      const created = await bosh.create({ hold: 0 });
      assert.equal(created.body?.attrs.hold, '0');
      assert.equal(created.body?.attrs.requests, '1');
      assert.equal(created.body?.attrs.inactivity, '64', 'longer than the polling interval for a polling session');
      // Poll until there is nothing to collect; the next empty poll within 2 s is one too many.
      let res = await bosh.request();
      for (let i = 0; i < 3 && payloads(res).length > 0; i++) res = await bosh.request();
      assert.equal(payloads(res).length, 0);
      assert.ok(isTerminate(await bosh.request(), 'policy-violation'));
    });
  });

  describe('termination (§13, XEP-0206 §6)', function () {
    it("processes the payloads of the client's terminate request, then ends the session", async function () {
      const { bosh, jid } = await boshUser('juliet');
      const romeo = await websocketUser('romeo');
      const res = await bosh.request(messageTo(romeo.jid, 'parting is such sweet sorrow'), { type: 'terminate' });
      assert.equal(res.body?.attrs.type, 'terminate');
      assert.equal(res.body?.attrs.condition, undefined);
      assert.equal((await romeo.next(isMessage('parting is such sweet sorrow'))).attrs.from, jid);
      assert.equal(server.server.sessions.get(jid), undefined);
    });

    it('carries a stream error as remote-stream-error: a second login with the same resource (conflict)', async function () {
      const name = await user('juliet');
      const bosh = new RawBosh(server);
      await bosh.login(name, PASSWORD, 'same');
      const poll = bosh.request('', {}, { timeoutMs: 8000 });
      await later(100);
      const rival = await connect(server, { transport: 'websocket', username: name, password: PASSWORD, resource: 'same' });
      xmppClients.push(rival);
      const res = await poll;
      assert.ok(isTerminate(res, 'remote-stream-error'));
      assert.ok(res.body?.getChild('error', STREAM)?.getChild('conflict', STREAM_ERRORS));
      assert.equal(res.body?.attrs['xmlns:stream'], STREAM);
    });

    it('carries a stream error as remote-stream-error: something that is not a stanza', async function () {
      const { bosh } = await boshUser('juliet');
      const res = await bosh.request(`<juggle xmlns='urn:example:circus'/>`);
      assert.ok(isTerminate(res, 'remote-stream-error'));
      assert.ok(res.body?.getChild('error', STREAM)?.getChild('unsupported-stanza-type', STREAM_ERRORS));
    });
  });

  describe('inactivity and pause (§10)', function () {
    let idle: TestServer;

    before(async function () {
      idle = await startTestServer({ http: { boshInactivity: 2 } });
      await idle.addUser('juliet', PASSWORD);
      await idle.addUser('romeo', PASSWORD);
      const roster = idle.server.stores.roster;
      const both = (jid: string) => ({ jid, subscription: 'both' as const, ask: false, approved: false, groups: [] });
      await roster.setItem('juliet', both('romeo@localhost'));
      await roster.setItem('romeo', both('juliet@localhost'));
    });

    after(async function () {
      await idle?.stop();
    });

    it('ends a session that sends no request for the inactivity period; contacts see it go unavailable', async function () {
      const romeo = await connect(idle, { transport: 'websocket', username: 'romeo', password: PASSWORD, resource: 'ws' });
      xmppClients.push(romeo);
      await romeo.xmpp.send(xml('presence'));
      const bosh = new RawBosh(idle);
      await bosh.login('juliet', PASSWORD, 'idle');
      await bosh.request(`<iq xmlns='jabber:client' type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq><presence xmlns='jabber:client'/>`, {}, { timeoutMs: 15_000 });
      await romeo.next((s) => s.is('presence') && s.attrs.from === 'juliet@localhost/idle' && s.attrs.type === undefined, 8000);
      // Juliet stops asking. About two seconds later the server gives up on her.
      const gone = await romeo.next((s) => s.is('presence') && s.attrs.from === 'juliet@localhost/idle' && s.attrs.type === 'unavailable', 10_000);
      assert.ok(gone);
      assert.equal(idle.server.sessions.get('juliet@localhost/idle'), undefined);
      assert.ok(isTerminate(await bosh.request('', {}, { timeoutMs: 3000 }), 'item-not-found'));
    });

    it('answers a pause request at once, without payloads, and keeps the session through the pause', async function () {
      const bosh = new RawBosh(idle);
      await bosh.login('juliet', PASSWORD, 'pausing');
      const res = await bosh.request('', { pause: 6 }, { timeoutMs: 3000 });
      assert.equal(res.status, 200);
      assert.equal(payloads(res).length, 0);
      await later(3500);
      assert.ok(payloads(await bosh.request(PING('p7'))).some((p) => p.attrs.id === 'p7'), 'still there after more than the inactivity period');
      assert.ok(idle.server.sessions.get('juliet@localhost/pausing'));
    });

    it('routes what was queued for a client that timed out again: the message goes offline and arrives at the next login, the iq is bounced (Strophe.js)', async function () {
      await idle.addUser('nurse', PASSWORD);
      await idle.addUser('friar', PASSWORD);
      const friar = await connect(idle, { transport: 'websocket', username: 'friar', password: PASSWORD, resource: 'cell' });
      xmppClients.push(friar);
      const nurse = await connectStrophe(idle, { transport: 'bosh', username: 'nurse', password: PASSWORD, resource: 'bosh', wait: 1 });
      nurse.send($pres());
      await later(300);
      // Strophe stops asking; its one held request comes back empty after 'wait' (1 s), and from then on
      // nothing can carry a stanza to it until the inactivity timeout (2 s) ends the session.
      nurse.connection.pause();
      const answered = nurse.received.length;
      const deadline = Date.now() + 5000;
      while (nurse.received.length === answered && Date.now() < deadline) await later(20);
      assert.ok(nurse.received.length > answered, 'the held request was answered');
      const full = 'nurse@localhost/bosh';
      assert.ok(idle.server.sessions.get(full), 'still bound: a stanza for it is queued, not refused');
      await friar.xmpp.send(xml('message', { to: full, type: 'chat', id: 'queued-1' }, xml('body', null, 'Are you there?')));
      await friar.xmpp.send(xml('iq', { to: full, type: 'get', id: 'queued-iq' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));

      const bounced = await friar.next((s) => s.is('iq') && s.attrs.id === 'queued-iq', 10_000);
      assert.equal(idle.server.sessions.get(full), undefined, 'the session timed out');
      assert.equal(bounced.attrs.type, 'error');
      assert.ok(bounced.getChild('error')?.getChild('service-unavailable'), bounced.toString());
      assert.ok(!nurse.received.some((b) => b.includes('queued-1')), 'the message never reached the old session');
      let stored = await idle.server.stores.offline.list('nurse', 10);
      for (let tries = 0; stored.length === 0 && tries < 100; tries++) stored = await later(20).then(() => idle.server.stores.offline.list('nurse', 10));
      assert.equal(stored.length, 1);
      assert.match(stored[0]?.stanza ?? '', /Are you there\?/);
      nurse.connection.reset();

      const again = await connectStrophe(idle, { transport: 'bosh', username: 'nurse', password: PASSWORD, resource: 'back' });
      stropheClients.push(again);
      again.send($pres());
      const delivered = await again.next((s) => s.tagName === 'message' && s.getAttribute('id') === 'queued-1', 8000);
      assert.equal(delivered.getElementsByTagName('body')[0]?.textContent, 'Are you there?');
      assert.equal(delivered.getElementsByTagName('delay').length, 1, 'stamped by offline storage (XEP-0203)');
      let left = await idle.server.stores.offline.list('nurse', 10);
      for (let tries = 0; left.length > 0 && tries < 100; tries++) left = await later(20).then(() => idle.server.stores.offline.list('nurse', 10));
      assert.equal(left.length, 0, 'removed from offline storage once handed over');
    });
  });

  describe('HTTP and CORS', function () {
    it('answers a CORS preflight and allows any origin by default', async function () {
      const pre = await boshPost(server, '', { method: 'OPTIONS', headers: { Origin: 'https://chat.example.org', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } });
      assert.equal(pre.status, 204);
      assert.equal(pre.headers['access-control-allow-origin'], '*');
      assert.match(pre.headers['access-control-allow-methods'] ?? '', /POST/);
      assert.match(pre.headers['access-control-allow-methods'] ?? '', /OPTIONS/);
      assert.match(pre.headers['access-control-allow-headers'] ?? '', /Content-Type/i);
      assert.equal(pre.headers['access-control-max-age'], '86400');
      const created = await new RawBosh(server).create();
      assert.equal(created.headers['access-control-allow-origin'], '*');
    });

    it('describes itself on GET and refuses other methods with 405', async function () {
      const get = await boshPost(server, '', { method: 'GET' });
      assert.equal(get.status, 200);
      assert.match(get.headers['content-type'] ?? '', /^text\/plain/);
      assert.match(get.text, /BOSH/);
      const put = await boshPost(server, '', { method: 'PUT' });
      assert.equal(put.status, 405);
      assert.match(put.headers.allow ?? '', /POST/);
    });

    it('allows only the configured origins when http.cors_origins is set', async function () {
      const strict = await startTestServer({ http: { corsOrigins: ['https://chat.example.org'] } });
      try {
        const allowed = await new RawBosh(strict).create({}).then(() => boshPost(strict, '', { method: 'OPTIONS', headers: { Origin: 'https://chat.example.org' } }));
        assert.equal(allowed.headers['access-control-allow-origin'], 'https://chat.example.org');
        assert.equal(allowed.headers.vary, 'Origin');
        const refused = await boshPost(strict, bodyXml({ rid: 7, to: 'localhost', ver: '1.6' }), { headers: { Origin: 'https://evil.example' } });
        assert.equal(refused.status, 403);
        assert.equal(strict.server.sessions.size, 0);
      } finally {
        await strict.stop();
      }
    });
  });
});
