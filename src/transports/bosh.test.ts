// Unit tests for the BOSH transport (XEP-0124, XEP-0206): the <body/> reader and writer, and one session's
// rules driven directly with fake HTTP replies and a fake stream.
import assert from 'node:assert/strict';
import { StreamError } from '../errors.js';
import { createLogger } from '../observability/log.js';
import type { StreamEvents, Undelivered } from '../stream/transport.js';
import { parseElement, xml, type Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { BoshError, isTrue, parseRequestBody, parseRid, parseUnsigned, readStartTag, responseBody, terminateBody, xboshAttr, type RequestBody } from './bosh-body.js';
import { BoshSession, streamHeader, type BoshReply, type BoshSessionOptions } from './bosh-session.js';

const LIMITS = { maxStanzaBytes: 4096, maxDepth: 5 };
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const later = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class FakeReply implements BoshReply {
  onGone: (() => void) | undefined;
  body: string | undefined;
  status: number | undefined;
  dropped = false;
  gone = false;

  send(body: string, _contentType: string, status = 200): void {
    if (this.body !== undefined || this.dropped) return;
    this.body = body;
    this.status = status;
  }

  drop(): void {
    this.dropped = true;
  }

  /** The client hangs up before the answer. */
  hangUp(): void {
    this.gone = true;
    this.onGone?.();
  }

  get parsed(): Element {
    assert.ok(this.body, 'answered');
    return parseElement(this.body);
  }
}

class FakeStream implements StreamEvents {
  readonly log: string[] = [];
  /** What the session handed back when it ended. */
  undelivered: readonly Undelivered[] = [];
  onStreamStart(attrs: Record<string, string>, name: string): void {
    this.log.push(`start ${name} ${JSON.stringify(attrs)}`);
  }
  onElement(element: Element): void {
    this.log.push(`element ${element.toString()}`);
  }
  onStreamEnd(): void {
    this.log.push('end');
  }
  onStreamError(error: StreamError): void {
    this.log.push(`error ${error.condition}`);
  }
  onDisconnect(undelivered: readonly Undelivered[] = []): void {
    this.log.push('disconnect');
    this.undelivered = undelivered;
  }
}

function session(overrides: Partial<BoshSessionOptions> = {}): { bosh: BoshSession; stream: FakeStream; ended: () => boolean } {
  let ended = false;
  const bosh = new BoshSession({
    sid: 'a'.repeat(32),
    wait: 30,
    hold: 1,
    requests: 2,
    inactivity: 60,
    polling: 2,
    maxPause: 120,
    ack: false,
    legacy: false,
    contentType: 'text/xml; charset=utf-8',
    creationAttrs: " sid='aaaa'",
    remoteAddress: '127.0.0.1',
    secure: true,
    limits: LIMITS,
    maxQueuedChars: 10_000,
    log: createLogger('silent'),
    onEnd: () => (ended = true),
    ...overrides,
  });
  const stream = new FakeStream();
  bosh.attach(stream);
  return { bosh, stream, ended: () => ended };
}

function body(payload = '', attrs = ''): RequestBody {
  const text = `<body xmlns='${NS.httpbind}'${attrs}>${payload}</body>`;
  return parseRequestBody(text, { maxStanzaBytes: 65536, maxDepth: 6 });
}

/** Opens a session at rid 100 and answers the creation request with features. */
async function opened(overrides: Partial<BoshSessionOptions> = {}): Promise<ReturnType<typeof session>> {
  const s = session(overrides);
  const creation = new FakeReply();
  s.bosh.start(100, creation, { version: '1.0' });
  s.bosh.openStream({ id: 'stream-1', from: 'localhost', version: '1.0' });
  s.bosh.send(xml('stream:features'));
  await tick();
  assert.ok(creation.body?.includes('<stream:features/>'));
  return s;
}

describe('BOSH <body/> wrapper (XEP-0124 §6)', function () {
  it('reads rids as positive integers up to 2^53 - 1 (§14.1)', function () {
    assert.equal(parseRid('1573741820'), 1573741820);
    assert.equal(parseRid('9007199254740991'), 9007199254740991);
    for (const bad of [undefined, '', '0', '-1', '012', '1.5', 'abc', '9007199254740992', '99999999999999999']) assert.equal(parseRid(bad), undefined, String(bad));
  });

  it('reads unsigned attributes and booleans', function () {
    assert.equal(parseUnsigned(undefined, 60), 60);
    assert.equal(parseUnsigned('0', 60), 0);
    assert.ok(Number.isNaN(parseUnsigned('-1', 60)));
    assert.ok(Number.isNaN(parseUnsigned('soon', 60)));
    assert.ok(isTrue('true') && isTrue('1') && !isTrue('false') && !isTrue(undefined));
  });

  it('finds urn:xmpp:xbosh attributes under any prefix (XEP-0206 §5)', function () {
    assert.equal(xboshAttr({ 'xmlns:xmpp': NS.xbosh, 'xmpp:restart': 'true' }, 'restart'), 'true');
    assert.equal(xboshAttr({ 'xmlns:x': NS.xbosh, 'x:version': '1.0' }, 'version'), '1.0');
    assert.equal(xboshAttr({ 'xmlns:xmpp': 'urn:other', 'xmpp:restart': 'true' }, 'restart'), undefined);
    assert.deepEqual(streamHeader({ to: 'example.com', 'xml:lang': 'en', 'xmlns:xmpp': NS.xbosh, 'xmpp:version': '1.0', rid: '1' }), { version: '1.0', to: 'example.com', 'xml:lang': 'en' });
  });

  it('puts unqualified and httpbind-qualified payloads in jabber:client (XEP-0206 §2)', function () {
    const read = body(`\n  <message to='a@b'><body>hi</body></message>\n  <iq xmlns='${NS.httpbind}' type='get'/><auth xmlns='${NS.sasl}'/>`, ` rid='5'`);
    assert.equal(read.attrs.rid, '5');
    assert.deepEqual(read.payloads.map((p) => [p.name, p.attrs.xmlns]), [['message', NS.client], ['iq', NS.client], ['auth', NS.sasl]]);
    assert.equal(read.payloads[0]?.parent, null);
  });

  it('refuses what is not a well-formed httpbind <body/> with bad-request, and size or depth with policy-violation', function () {
    const refused = (text: string, limits = { maxStanzaBytes: 1024, maxDepth: 3 }): string => {
      try {
        parseRequestBody(text, limits);
      } catch (err) {
        if (err instanceof BoshError) return err.condition;
        throw err;
      }
      return 'accepted';
    };
    assert.equal(refused(`<body xmlns='${NS.httpbind}'/>`), 'accepted');
    assert.equal(refused(`<body xmlns='${NS.httpbind}'><a/>`), 'bad-request');
    assert.equal(refused(`<body xmlns='${NS.httpbind}'/><extra/>`), 'bad-request');
    assert.equal(refused(`<body/>`), 'bad-request');
    assert.equal(refused(`<open xmlns='${NS.httpbind}'/>`), 'bad-request');
    assert.equal(refused(`<body xmlns='${NS.httpbind}'>text</body>`), 'bad-request');
    assert.equal(refused(`<body xmlns='${NS.httpbind}'><!-- c --></body>`), 'bad-request');
    assert.equal(refused(`<!DOCTYPE body><body xmlns='${NS.httpbind}'/>`), 'bad-request');
    assert.equal(refused(`<body xmlns='${NS.httpbind}'><a><b><c/></b></a></body>`), 'policy-violation');
    assert.equal(refused(`<body xmlns='${NS.httpbind}'><a>${'x'.repeat(2000)}</a></body>`), 'policy-violation');
  });

  it('reads the start tag of a body that cannot be parsed whole', function () {
    assert.equal(readStartTag(`<body xmlns='${NS.httpbind}' rid='7' sid='abc'><message><bo`)?.sid, 'abc');
    assert.equal(readStartTag(`<?xml version='1.0'?><body sid='s1' rid='1'><<<`)?.sid, 's1');
    assert.equal(readStartTag('garbage'), undefined);
    assert.equal(readStartTag(`<body sid='abc`), undefined);
  });

  it('writes response bodies, declaring the stream prefix only around payloads', function () {
    assert.equal(responseBody('', ''), `<body xmlns='${NS.httpbind}'/>`);
    assert.equal(responseBody(` ack='5'`, '<x/>'), `<body xmlns='${NS.httpbind}' ack='5' xmlns:stream='${NS.stream}'><x/></body>`);
    assert.equal(terminateBody('item-not-found'), `<body xmlns='${NS.httpbind}' type='terminate' condition='item-not-found'/>`);
    assert.equal(terminateBody(undefined), `<body xmlns='${NS.httpbind}' type='terminate'/>`);
  });
});

/** An opened session whose rid 101 (an iq) has been answered, with that answer. */
async function answeredFirst(): Promise<{ bosh: BoshSession; first: FakeReply }> {
  const { bosh } = await opened();
  const first = new FakeReply();
  bosh.handle(body(`<iq type='get' id='1'/>`), 101, first, true, 80);
  bosh.send(xml('iq', { type: 'result', id: '1' }));
  await tick();
  assert.match(first.body ?? '', /id="1"/);
  return { bosh, first };
}

describe('BOSH session (XEP-0124 §7-§14)', function () {
  it('opens the stream with the creation request and answers it with the session attributes, authid and features', async function () {
    const { bosh, stream } = session();
    const reply = new FakeReply();
    bosh.start(100, reply, { version: '1.0', to: 'localhost' });
    assert.deepEqual(stream.log, [`start body {"version":"1.0","to":"localhost"}`]);
    bosh.openStream({ id: 'stream-1', from: 'localhost', version: '1.0' });
    await tick();
    assert.equal(reply.body, undefined, 'held until the features come');
    bosh.send(xml('stream:features', null, xml('mechanisms', { xmlns: NS.sasl })));
    await tick();
    assert.equal(reply.body, `<body xmlns='${NS.httpbind}' sid='aaaa' authid='stream-1' xmlns:stream='${NS.stream}'><stream:features><mechanisms xmlns="${NS.sasl}"/></stream:features></body>`);
  });

  it('hands payloads to the stream in rid order, holding a request that comes early (§14.2)', async function () {
    const { bosh, stream } = await opened();
    const late = new FakeReply();
    bosh.handle(body(`<message id='second'/>`), 102, late, true, 100);
    assert.equal(stream.log.length, 1, 'nothing processed while rid 101 is missing');
    bosh.handle(body(`<message id='first'/>`), 101, new FakeReply(), true, 100);
    assert.deepEqual(stream.log.slice(1), [`element <message id="first" xmlns="${NS.client}"/>`, `element <message id="second" xmlns="${NS.client}"/>`]);
  });

  it('terminates with item-not-found beyond the window, and the stream hears of the disconnection (§14.2)', async function () {
    const { bosh, stream, ended } = await opened();
    const held = new FakeReply();
    bosh.handle(body(), 101, held, true, 50);
    const reply = new FakeReply();
    // rid 102 and 103 are the window (requests = 2): 104 is beyond it.
    bosh.handle(body(), 104, reply, true, 50);
    assert.equal(reply.parsed.attrs.condition, 'item-not-found');
    assert.equal(held.parsed.attrs.condition, 'item-not-found', 'every open request learns of it');
    assert.ok(ended());
    assert.equal(stream.log.at(-1), 'disconnect');
  });

  it('resends the kept response to a repeated rid, and a recoverable error to a superseded copy (§14.3)', async function () {
    const { bosh, first } = await answeredFirst();
    const again = new FakeReply();
    bosh.handle(body(`<iq type='get' id='1'/>`), 101, again, true, 80);
    assert.equal(again.body, first.body);

    const poll = new FakeReply();
    bosh.handle(body(), 102, poll, true, 50);
    const copy = new FakeReply();
    bosh.handle(body(), 102, copy, true, 50);
    assert.equal(poll.parsed.attrs.type, 'error');
    assert.equal(copy.body, undefined, 'the copy is held in its place');
    bosh.send(xml('message', { id: 'm' }));
    await tick();
    assert.match(copy.body ?? '', /id="m"/);
  });

  it('forgets a kept response once its rid can no longer be repeated (§14.3, requests=2)', async function () {
    const { bosh, first } = await answeredFirst();
    // 102 open: 101 may still come again (its answer could have been lost), so its answer stays.
    bosh.handle(body(), 102, new FakeReply(), true, 50);
    const again = new FakeReply();
    bosh.handle(body(`<iq type='get' id='1'/>`), 101, again, true, 80);
    assert.equal(again.body, first.body);
    // 103 arrives: with at most two requests open, 101 cannot come again; a copy of it now is a client error.
    bosh.handle(body(), 103, new FakeReply(), true, 50);
    const late = new FakeReply();
    bosh.handle(body(`<iq type='get' id='1'/>`), 101, late, true, 80);
    assert.equal(late.parsed.attrs.condition, 'item-not-found');
  });

  it('answers a dropped held request empty at once, so stanzas wait for the next request', async function () {
    const { bosh } = await opened();
    const held = new FakeReply();
    bosh.handle(body(), 101, held, true, 50);
    held.hangUp();
    assert.equal(held.body, `<body xmlns='${NS.httpbind}'/>`);
    bosh.send(xml('message', { id: 'kept' }));
    await tick();
    const next = new FakeReply();
    bosh.handle(body(), 102, next, true, 50);
    await tick();
    assert.match(next.body ?? '', /id="kept"/);
  });

  it('drops a request of a secure session that comes over an insecure connection, and keeps the session (§19.1)', async function () {
    const { bosh, ended } = await opened();
    const insecure = new FakeReply();
    bosh.handle(body(PING), 101, insecure, false, 80);
    assert.ok(insecure.dropped);
    assert.ok(!ended());
    const secure = new FakeReply();
    bosh.handle(body(), 101, secure, true, 50);
    assert.equal(secure.body, undefined, 'rid 101 is still to come');
  });

  it("with ack='1', reports the highest rid received on answers to older requests (§9.1)", async function () {
    const { bosh } = await opened({ ack: true });
    const poll = new FakeReply();
    bosh.handle(body(), 101, poll, true, 50);
    const next = new FakeReply();
    bosh.handle(body(`<presence/>`), 102, next, true, 60);
    await tick();
    assert.equal(poll.parsed.attrs.ack, '102');
    bosh.send(xml('message'));
    await tick();
    assert.equal(next.parsed.attrs.ack, undefined);
  });

  it('restarts the stream on xmpp:restart, ignoring payloads, and ends it after the payloads of a terminate (XEP-0206 §5, §13)', async function () {
    const { bosh, stream } = await opened();
    bosh.handle(body(`<message/>`, ` to='localhost' xml:lang='en' xmlns:xmpp='${NS.xbosh}' xmpp:restart='true'`), 101, new FakeReply(), true, 200);
    assert.equal(stream.log.at(-1), `start body {"version":"1.0","to":"localhost","xml:lang":"en"}`);
    bosh.handle(body(`<presence type='unavailable'/>`, ` type='terminate'`), 102, new FakeReply(), true, 100);
    assert.deepEqual(stream.log.slice(-2), [`element <presence type="unavailable" xmlns="${NS.client}"/>`, 'end']);
  });

  it('answers the oldest open request with the termination and the stream error, the others empty (§13, XEP-0206 §6)', async function () {
    const { bosh, stream } = await opened({ hold: 2, requests: 3 });
    const a = new FakeReply();
    const b = new FakeReply();
    bosh.handle(body(), 101, a, true, 50);
    bosh.handle(body(`<presence/>`), 102, b, true, 50);
    bosh.send(xml('message', { id: 'last words' }));
    bosh.closeStream(new StreamError('conflict'));
    const terminate = a.parsed;
    assert.equal(terminate.attrs.type, 'terminate');
    assert.equal(terminate.attrs.condition, 'remote-stream-error');
    assert.deepEqual(terminate.children.map((c) => (typeof c === 'string' ? c : c.name)), ['message', 'stream:error']);
    assert.equal(b.body, `<body xmlns='${NS.httpbind}'/>`);
    assert.equal(stream.log.at(-1), 'disconnect');
  });

  it('keeps a termination for the next request when none is held', async function () {
    const { bosh, ended } = await opened();
    bosh.closeStream();
    assert.ok(!ended());
    const next = new FakeReply();
    bosh.handle(body(), 101, next, true, 50);
    assert.equal(next.body, `<body xmlns='${NS.httpbind}' type='terminate'/>`);
    assert.ok(ended());
  });

  it('qualifies unqualified stanzas without changing a stanza shared with other recipients', async function () {
    const { bosh } = await opened();
    const shared = xml('message', { from: 'a@b' }, xml('body', null, 'hi'));
    const reply = new FakeReply();
    bosh.handle(body(), 101, reply, true, 50);
    bosh.send(shared);
    await tick();
    assert.match(reply.body ?? '', /<message from="a@b" xmlns="jabber:client"><body>hi<\/body><\/message>/);
    assert.equal(shared.attrs.xmlns, undefined);
  });

  it('terminates a session whose client stops collecting stanzas (back-pressure)', async function () {
    const { bosh, stream, ended } = await opened({ maxQueuedChars: 1000 });
    for (let i = 0; i < 20 && !ended(); i++) bosh.send(xml('message', { id: String(i) }, xml('body', null, 'x'.repeat(100))));
    assert.ok(ended());
    assert.equal(stream.log.at(-1), 'disconnect');
  });

  it('checks each payload against the stream stanza limit', async function () {
    const { bosh } = await opened();
    bosh.setLimits({ maxStanzaBytes: 100 });
    const reply = new FakeReply();
    bosh.handle(body(`<message><body>${'x'.repeat(200)}</body></message>`), 101, reply, true, 300);
    assert.equal(reply.parsed.attrs.condition, 'policy-violation');
  });

  it("refuses a 'pause' that is not a number with bad-request, and answers a valid one at once without payloads", async function () {
    const { bosh } = await opened();
    const held = new FakeReply();
    bosh.handle(body(), 101, held, true, 50);
    bosh.send(xml('message'));
    const pause = new FakeReply();
    bosh.handle(body('', ` pause='30'`), 102, pause, true, 50);
    assert.equal(held.body, `<body xmlns='${NS.httpbind}'/>`);
    assert.equal(pause.body, `<body xmlns='${NS.httpbind}'/>`);
    const bad = new FakeReply();
    bosh.handle(body('', ` pause='later'`), 103, bad, true, 50);
    assert.equal(bad.parsed.attrs.condition, 'bad-request');
  });

  it('ends the session after the inactivity period with no request held (§10)', async function () {
    const { bosh, stream, ended } = await opened({ inactivity: 0.05 });
    const poll = new FakeReply();
    bosh.handle(body(), 101, poll, true, 50);
    bosh.send(xml('message'));
    await tick();
    assert.ok(poll.body);
    await later(200);
    assert.ok(ended());
    assert.equal(stream.log.at(-1), 'disconnect');
  });

  it('hands the stanzas no request carried back to the stream when inactivity ends the session', async function () {
    const { bosh, stream, ended } = await opened({ inactivity: 0.05 });
    const poll = new FakeReply();
    bosh.handle(body(), 101, poll, true, 50);
    const carried = xml('message', { id: 'carried' }, xml('body', null, 'one'));
    bosh.send(carried);
    await tick();
    assert.match(poll.body ?? '', /id="carried"/);
    // No further request: these wait in the outbox until the session times out.
    const queued = xml('message', { id: 'queued', type: 'chat' }, xml('body', null, 'two'));
    bosh.send(queued);
    bosh.sendText(`<message xmlns="jabber:client" to="a@b/c" id="copy"><body>three</body></message>`);
    await later(200);
    assert.ok(ended());
    assert.equal(stream.log.at(-1), 'disconnect');
    assert.equal(stream.undelivered.length, 2);
    assert.equal(stream.undelivered[0], queued, 'the element as the stream sent it');
    assert.match(String(stream.undelivered[1]), /id="copy"/);
  });

  it('hands back the stanzas of a termination the client never collected, and none of one it did', async function () {
    const uncollected = await opened({ inactivity: 0.05 });
    const message = xml('message', { id: 'm' }, xml('body', null, 'hi'));
    uncollected.bosh.send(message);
    uncollected.bosh.closeStream(new StreamError('conflict'));
    await later(200);
    assert.ok(uncollected.ended());
    assert.deepEqual(uncollected.stream.undelivered, [message]);

    const collected = await opened();
    collected.bosh.send(xml('message', { id: 'm' }, xml('body', null, 'hi')));
    collected.bosh.closeStream();
    const next = new FakeReply();
    collected.bosh.handle(body(), 101, next, true, 50);
    assert.match(next.body ?? '', /type='terminate'.*id="m"/);
    assert.ok(collected.ended());
    assert.deepEqual(collected.stream.undelivered, []);
  });

  it('hands back the queue of a session terminated for not collecting it', async function () {
    const { bosh, stream, ended } = await opened({ maxQueuedChars: 1000 });
    let sent = 0;
    for (; sent < 20 && !ended(); sent++) bosh.send(xml('message', { id: String(sent) }, xml('body', null, 'x'.repeat(100))));
    assert.ok(ended());
    assert.equal(stream.undelivered.length, sent);
  });

  it('answers a held request empty when its wait is over', async function () {
    const { bosh } = await opened({ wait: 0.05 });
    const poll = new FakeReply();
    bosh.handle(body(), 101, poll, true, 50);
    await tick();
    assert.equal(poll.body, undefined);
    await later(150);
    assert.equal(poll.body, `<body xmlns='${NS.httpbind}'/>`);
  });
});

const PING = `<iq type='get' id='p'><ping xmlns='${NS.ping}'/></iq>`;
