// XEP-0357 push notifications against a real server: the app server is a XEP-0114 component on a raw
// socket, the user's client a raw stream with stream management (XEP-0198), the sender an xmpp.js client.
// Notifications for a session waiting for resumption and for messages stored offline, the body only when
// asked for, counts reset when the client is back, disable, an app server's error, bad input.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { xml } from '@xmpp/client';
import type { Element as LtxElement } from 'ltx';
import { connect, type TestClient } from '../../test/support/clients.js';
import { plainAuth, rawLogin, RawStream, STREAM_HEADER } from '../../test/support/raw-stream.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { pushStores } from './store/index.js';

const PUSH = 'urn:xmpp:push:0';
const PUBSUB = 'http://jabber.org/protocol/pubsub';
const DATA = 'jabber:x:data';
const SM = 'urn:xmpp:sm:3';
const APP = 'push.localhost';
const APP_SECRET = 'app-server-secret';
const PASSWORD = 'pu5h-n0tify';
const RESUME_TIMEOUT = 2;

const publishOptions = (extra = ''): string =>
  `<x xmlns='${DATA}' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>eruio234vzxc2kla-91</value></field>${extra}</x>`;
const INCLUDE_BODY = "<field var='include-body'><value>true</value></field>";
const errorOf = (condition: string): RegExp => new RegExp(`<error type="\\w+"><${condition} xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>`);

/** The fields of a publish's summary form (§7), by var. */
function summary(iq: LtxElement): Record<string, string> {
  const form = iq.getChild('pubsub', PUBSUB)?.getChild('publish')?.getChild('item')?.getChild('notification', PUSH)?.getChild('x', DATA);
  assert.ok(form, `no summary form in ${iq.toString()}`);
  assert.equal(form.attrs.type, 'submit');
  return Object.fromEntries(form.getChildren('field').map((f) => [String(f.attrs.var), f.getChildText('value') ?? '']));
}

/** The publish-options form's fields, by var; undefined without one. */
function options(iq: LtxElement): Record<string, string> | undefined {
  const form = iq.getChild('pubsub', PUBSUB)?.getChild('publish-options')?.getChild('x', DATA);
  return form && Object.fromEntries(form.getChildren('field').map((f) => [String(f.attrs.var), f.getChildText('value') ?? '']));
}

/** A loopback port nothing listens on now. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

describe('XEP-0357 push notifications', function () {
  this.timeout(30_000);
  let server: TestServer;
  let componentPort: number;
  let app: RawStream;
  const raws: RawStream[] = [];
  const clients: TestClient[] = [];
  let users = 0;

  before(async function () {
    // A module's test does not import another module (test/architecture.test.ts): the component port is chosen here.
    await start();
  });

  /** A server with a [push] table of `push`, and the app server connected to it. */
  async function start(push: { includeBody?: string } = {}): Promise<void> {
    componentPort = await freePort();
    server = await startTestServer({
      c2s: { requireTls: false },
      stream_management: { resumeTimeout: RESUME_TIMEOUT },
      component: { port: componentPort },
      components: [{ domain: APP, secret: APP_SECRET }],
      push,
    });
    app = await appServer();
  }

  afterEach(async function () {
    for (const raw of raws.splice(0)) raw.destroy();
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    // Sessions left waiting for resumption end now, and whatever that or the test left at the app server is
    // not the next test's.
    for (const session of [...server.server.sessions.all()]) session.close();
    await delay(300);
    await app.expect(/[\s\S]*$/);
  });

  after(async function () {
    app?.destroy();
    await server?.stop();
  });

  /** The app server: a XEP-0114 component (§3 handshake). */
  async function appServer(): Promise<RawStream> {
    const stream = await RawStream.connect(componentPort);
    stream.write(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${APP}'>`);
    const [, id = ''] = await stream.expect(/<stream:stream [^>]*id='([^']+)'>/);
    stream.write(`<handshake>${createHash('sha1').update(id + APP_SECRET).digest('hex')}</handshake>`);
    await stream.expect(/<handshake\/>/);
    return stream;
  }

  /** The next publish at the app server, answered with a result (or `error`). */
  async function published(error?: string): Promise<LtxElement> {
    const iq = await app.element('iq');
    assert.equal(iq.attrs.type, 'set');
    assert.equal(iq.attrs.to, APP);
    const reply = error
      ? `<iq type='error' id='${iq.attrs.id}' from='${APP}' to='${iq.attrs.from}'><error type='cancel'><${error} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`
      : `<iq type='result' id='${iq.attrs.id}' from='${APP}' to='${iq.attrs.from}'/>`;
    app.write(reply);
    return iq;
  }

  async function user(prefix: string): Promise<string> {
    const name = `${prefix}${++users}`;
    await server.addUser(name, PASSWORD);
    return name;
  }

  async function sender(): Promise<TestClient> {
    const bob = await connect(server, { transport: 'websocket', username: await user('bob'), password: PASSWORD });
    clients.push(bob);
    return bob;
  }

  const say = (from: TestClient, to: string, body: string) => from.xmpp.send(xml('message', { to, type: 'chat', id: body }, xml('body', {}, body)));

  /**
   * An available client on a raw stream, with resumable stream management unless `sm` is false (a client that
   * logs out: this one never acknowledges, so what it received would be routed again when it closes).
   */
  async function phone(username: string, sm = true): Promise<{ stream: RawStream; jid: string; previd: string }> {
    const { stream, jid } = await rawLogin(server.ports.c2s, username, PASSWORD, 'phone');
    raws.push(stream);
    let previd = '';
    if (sm) {
      stream.write(`<enable xmlns='${SM}' resume='true'/>`);
      [, previd = ''] = await stream.expect(/<enabled xmlns="urn:xmpp:sm:3" id="([^"]+)"/);
    }
    stream.write('<presence/>');
    return { stream, jid, previd };
  }

  async function iq(stream: RawStream, id: string, payload: string, type = 'set'): Promise<string> {
    stream.write(`<iq type='${type}' id='${id}'>${payload}</iq>`);
    const [answer] = await stream.expect(new RegExp(`<iq [^>]*id="${id}"[^>]*(?:/>|>.*?</iq>)`, 's'));
    return answer;
  }

  async function enable(stream: RawStream, node: string, form = publishOptions()): Promise<void> {
    const answer = await iq(stream, `enable-${node}`, `<enable xmlns='${PUSH}' jid='${APP}' node='${node}'>${form}</enable>`);
    assert.match(answer, /type="result"/, answer);
  }

  async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    for (let waited = 0; !check(); waited += 20) {
      if (waited > timeoutMs) throw new Error(`timed out waiting for ${what}`);
      await delay(20);
    }
  }

  const hibernating = (jid: string) => () => server.server.sessions.get(jid)?.connected === false;
  const offline = (username: string) => () => server.server.sessions.resources(`${username}@localhost`).length === 0;
  const registrations = (username: string) => server.server.stores.module('push', pushStores).list(username);

  it('advertises urn:xmpp:push:0 on the account (§4)', async function () {
    const alice = await phone(await user('alice'));
    const answer = await iq(alice.stream, 'disco', "<query xmlns='http://jabber.org/protocol/disco#info'/>", 'get');
    assert.match(answer, /<feature var="urn:xmpp:push:0"\/>/);
  });

  it('a message to a session waiting for resumption: one notification with count and sender, no body; counts reset on resumption (§5, §7)', async function () {
    const name = await user('alice');
    const alice = await phone(name);
    await enable(alice.stream, 'node-a');
    const bob = await sender();

    // Control: while the client is connected, a message goes to it and to no app server.
    await say(bob, `${name}@localhost`, 'online');
    await alice.stream.expect(/<body>online<\/body>/);
    await app.silence(/<iq/, 300);

    alice.stream.destroy();
    await until(hibernating(alice.jid), 'the session to wait for resumption');
    await say(bob, `${name}@localhost`, 'Wherefore art thou?');
    const first = await published();
    assert.ok(hibernating(alice.jid)(), 'notified while the session waits for resumption');
    assert.deepEqual(summary(first), { FORM_TYPE: 'urn:xmpp:push:summary', 'message-count': '1', 'last-message-sender': bob.jid });
    assert.equal(first.getChild('pubsub', PUBSUB)?.getChild('publish')?.attrs.node, 'node-a');
    assert.equal(first.attrs.from, `${name}@localhost`, 'from the account (§7 Example 6)');
    assert.deepEqual(options(first), { FORM_TYPE: 'http://jabber.org/protocol/pubsub#publish-options', secret: 'eruio234vzxc2kla-91' }, 'the client\'s publish-options go along');
    await say(bob, `${name}@localhost`, 'second');
    assert.equal(summary(await published())['message-count'], '2');
    await app.silence(/<iq/, 300);

    // The client resumes: it is online again, so the next absence counts from 1.
    const back = await RawStream.connect(server.ports.c2s);
    raws.push(back);
    back.write(STREAM_HEADER());
    await back.expect(/<\/stream:features>/);
    back.write(plainAuth(name, PASSWORD));
    await back.expect(/<success /);
    back.write(STREAM_HEADER());
    await back.expect(/<\/stream:features>/);
    back.write(`<resume xmlns='${SM}' previd='${alice.previd}' h='1'/>`);
    await back.expect(/<resumed /);
    await back.expect(/<body>second<\/body>/);
    back.destroy();
    await until(hibernating(alice.jid), 'the session to wait again');
    await say(bob, `${name}@localhost`, 'third');
    assert.equal(summary(await published())['message-count'], '1');
  });

  it('xmpp.js over WebSocket with its stream management: notified while cut off, the message arrives on resumption', async function () {
    const name = await user('alice');
    const alice = await connect(server, { transport: 'websocket', username: name, password: PASSWORD, resource: 'phone' });
    clients.push(alice);
    await until(() => alice.xmpp.streamManagement.enabled && alice.xmpp.streamManagement.id !== '', 'xmpp.js to enable resumable stream management');
    const form = xml(
      'x',
      { xmlns: DATA, type: 'submit' },
      xml('field', { var: 'FORM_TYPE' }, xml('value', {}, 'http://jabber.org/protocol/pubsub#publish-options')),
      xml('field', { var: 'secret' }, xml('value', {}, 'xmppjs')),
    );
    await alice.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('enable', { xmlns: PUSH, jid: APP, node: 'xmppjs' }, form)));
    await alice.xmpp.send(xml('presence'));
    const bob = await sender();
    let resumed = false;
    alice.xmpp.streamManagement.on('resumed', () => (resumed = true));

    (alice.xmpp.socket as { socket: { terminate(): void } }).socket.terminate();
    await until(hibernating(alice.jid), 'the session to wait for resumption');
    await say(bob, `${name}@localhost`, 'wake up');
    const iq = await published();
    assert.deepEqual(summary(iq), { FORM_TYPE: 'urn:xmpp:push:summary', 'message-count': '1', 'last-message-sender': bob.jid });
    assert.equal(options(iq)?.secret, 'xmppjs');

    const session = server.server.sessions.get(alice.jid);
    const arrived = alice.next((s) => s.is('message') && s.getChildText('body') === 'wake up', 10_000);
    await alice.xmpp.reconnect.reconnect();
    await arrived;
    await until(() => resumed, 'the resumed event');
    assert.equal(server.server.sessions.get(alice.jid), session, 'the same session, resumed');
  });

  it('carries the body when the client asked for it (positive control of the body rule, §9)', async function () {
    const name = await user('alice');
    const alice = await phone(name);
    await enable(alice.stream, 'with-body', publishOptions(INCLUDE_BODY));
    const bob = await sender();
    alice.stream.destroy();
    await until(hibernating(alice.jid), 'the session to wait for resumption');
    await say(bob, `${name}@localhost`, 'Wherefore art thou?');
    const iq = await published();
    assert.ok(hibernating(alice.jid)(), 'notified while the session waits for resumption, not after it ended');
    assert.equal(summary(iq)['last-message-body'], 'Wherefore art thou?');
    assert.deepEqual(Object.keys(options(iq) ?? {}).sort(), ['FORM_TYPE', 'secret'], 'include-body is the server\'s, not forwarded');
  });

  it('no second notification when the resumption timeout sends the messages to offline storage', async function () {
    const name = await user('alice');
    const alice = await phone(name);
    await enable(alice.stream, 'timeout');
    const bob = await sender();
    alice.stream.destroy();
    await until(hibernating(alice.jid), 'the session to wait for resumption');
    await say(bob, `${name}@localhost`, 'kept');
    assert.equal(summary(await published())['message-count'], '1');
    assert.ok(hibernating(alice.jid)(), 'notified while the session waits for resumption');
    await until(offline(name), 'the resumption timeout', (RESUME_TIMEOUT + 3) * 1000);
    await app.silence(/<iq/, 500);
    assert.equal((await server.server.stores.offline.count(name)), 1, 'the message is in offline storage');
  });

  it('a message that goes to offline storage after the client logged out: a notification (§7)', async function () {
    const name = await user('alice');
    const alice = await phone(name, false);
    await enable(alice.stream, 'node-b');
    const bob = await sender();
    alice.stream.write('</stream:stream>');
    await until(offline(name), 'the session to end');
    await say(bob, `${name}@localhost`, 'while you were out');
    const iq = await published();
    assert.deepEqual(summary(iq), { FORM_TYPE: 'urn:xmpp:push:summary', 'message-count': '1', 'last-message-sender': bob.jid });
    // A chat state alone wakes no one.
    await bob.xmpp.send(xml('message', { to: `${name}@localhost`, type: 'chat' }, xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' })));
    await app.silence(/<iq/, 300);
  });

  it('disable stops notifications: with the node, and without it for all of the app server\'s (§6)', async function () {
    const name = await user('alice');
    const bob = await sender();
    let alice = await phone(name, false);
    await enable(alice.stream, 'one');
    await enable(alice.stream, 'two');
    alice.stream.write('</stream:stream>');
    await until(offline(name), 'the session to end');
    // Control: both registrations are notified before any disable.
    await say(bob, `${name}@localhost`, 'before');
    const nodes = [await published(), await published()].map((i) => i.getChild('pubsub', PUBSUB)?.getChild('publish')?.attrs.node).sort();
    assert.deepEqual(nodes, ['one', 'two']);

    alice = await phone(name, false);
    assert.match(await iq(alice.stream, 'd1', `<disable xmlns='${PUSH}' jid='${APP}' node='one'/>`), /type="result"/);
    alice.stream.write('</stream:stream>');
    await until(offline(name), 'the session to end');
    await say(bob, `${name}@localhost`, 'after one');
    const afterOne = await published();
    assert.equal(afterOne.getChild('pubsub', PUBSUB)?.getChild('publish')?.attrs.node, 'two');
    assert.equal(summary(afterOne)['message-count'], '1', 'the client was online in between: the count started again');
    await app.silence(/<iq/, 300);

    alice = await phone(name, false);
    assert.match(await iq(alice.stream, 'd2', `<disable xmlns='${PUSH}' jid='${APP}'/>`), /type="result"/);
    assert.match(await iq(alice.stream, 'd3', `<disable xmlns='${PUSH}' jid='${APP}'/>`), errorOf('item-not-found'));
    alice.stream.write('</stream:stream>');
    await until(offline(name), 'the session to end');
    await say(bob, `${name}@localhost`, 'after all');
    await app.silence(/<iq/, 500);
    assert.deepEqual(await registrations(name), []);
  });

  it('an error from the app server removes that registration; the next message publishes to the others only (§8)', async function () {
    const name = await user('alice');
    const bob = await sender();
    const alice = await phone(name, false);
    await enable(alice.stream, 'gone');
    await enable(alice.stream, 'alive');
    alice.stream.write('</stream:stream>');
    await until(offline(name), 'the session to end');
    await say(bob, `${name}@localhost`, 'first');
    const first = await app.element('iq');
    const second = await app.element('iq');
    for (const publish of [first, second]) {
      const node = publish.getChild('pubsub', PUBSUB)?.getChild('publish')?.attrs.node;
      app.write(
        node === 'gone'
          ? `<iq type='error' id='${publish.attrs.id}' from='${APP}' to='${publish.attrs.from}'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`
          : `<iq type='result' id='${publish.attrs.id}' from='${APP}' to='${publish.attrs.from}'/>`,
      );
    }
    for (let i = 0; i < 100 && (await registrations(name)).length !== 1; i++) await delay(20);
    assert.deepEqual((await registrations(name)).map((r) => r.node), ['alive']);
    await say(bob, `${name}@localhost`, 'second');
    const next = await published();
    assert.equal(next.getChild('pubsub', PUBSUB)?.getChild('publish')?.attrs.node, 'alive');
    assert.equal(summary(next)['message-count'], '2');
    await app.silence(/<iq/, 300);
  });

  it('an app server that cannot be reached keeps its registration (§8 is about refusals)', async function () {
    const name = await user('alice');
    const bob = await sender();
    const alice = await phone(name, false);
    await enable(alice.stream, 'here');
    assert.match(await iq(alice.stream, 'nowhere', `<enable xmlns='${PUSH}' jid='push.nowhere.example' node='lost'/>`), /type="result"/);
    alice.stream.write('</stream:stream>');
    await until(offline(name), 'the session to end');
    await say(bob, `${name}@localhost`, 'anyone?');
    // The reachable one is the control: it is published to, and both were counted (the publish was tried).
    assert.equal((await published()).getChild('pubsub', PUBSUB)?.getChild('publish')?.attrs.node, 'here');
    await delay(200);
    const kept = (await registrations(name)).map((r) => [r.jid, r.count]).sort();
    assert.deepEqual(kept, [[APP, 1], ['push.nowhere.example', 1]]);
  });

  it('answers bad input with bad-request or item-not-found, and keeps nothing of it', async function () {
    const name = await user('alice');
    const { stream } = await phone(name);
    const cases: Array<[string, string]> = [
      [`<enable xmlns='${PUSH}' node='n'/>`, 'bad-request'],
      [`<enable xmlns='${PUSH}' jid='${APP}'/>`, 'bad-request'],
      [`<enable xmlns='${PUSH}' jid='a@@b' node='n'/>`, 'bad-request'],
      [`<enable xmlns='${PUSH}' jid='${APP}' node='n'><x xmlns='${DATA}' type='submit'><field var='FORM_TYPE'><value>urn:example:other</value></field></x></enable>`, 'bad-request'],
      [`<enable xmlns='${PUSH}' jid='${APP}' node='n'><x xmlns='${DATA}' type='form'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field></x></enable>`, 'bad-request'],
      [`<enable xmlns='${PUSH}' jid='${APP}' node='n'>${publishOptions()}${publishOptions()}</enable>`, 'bad-request'],
      [`<enable xmlns='${PUSH}' jid='${APP}' node='n'><x xmlns='${DATA}' type='submit'><field><value>v</value></field></x></enable>`, 'bad-request'],
      [`<enable xmlns='${PUSH}' jid='${APP}' node='n'>${publishOptions("<field var='include-body'><value>maybe</value></field>")}</enable>`, 'bad-request'],
      [`<enable xmlns='${PUSH}' jid='${APP}' node='n'><foo xmlns='urn:example'/></enable>`, 'bad-request'],
      [`<disable xmlns='${PUSH}' node='n'/>`, 'bad-request'],
      [`<disable xmlns='${PUSH}' jid='${APP}' node='never-enabled'/>`, 'item-not-found'],
    ];
    for (const [i, [payload, condition]] of cases.entries()) {
      assert.match(await iq(stream, `bad-${i}`, payload), errorOf(condition), payload);
    }
    assert.match(await iq(stream, 'get', `<enable xmlns='${PUSH}' jid='${APP}' node='n'/>`, 'get'), errorOf('bad-request'));
    assert.deepEqual(await registrations(name), []);
    // Control: the same enable, well formed, is kept.
    await enable(stream, 'n');
    assert.deepEqual((await registrations(name)).map((r) => r.node), ['n']);
  });

  it('keeps at most max_per_account registrations, forgetting the oldest', async function () {
    const name = await user('alice');
    const { stream } = await phone(name);
    for (let i = 0; i < 11; i++) {
      await enable(stream, `n${i}`, '');
      await delay(2);
    }
    const kept = (await registrations(name)).map((r) => r.node);
    assert.equal(kept.length, 10);
    assert.ok(!kept.includes('n0') && kept.includes('n10'), kept.join());
  });
  describe('[push] include_body = "never"', function () {
    let saved: { server: TestServer; app: RawStream; componentPort: number };

    before(async function () {
      saved = { server, app, componentPort };
      await start({ includeBody: 'never' });
    });

    after(async function () {
      app.destroy();
      await server.stop();
      ({ server, app, componentPort } = saved);
    });

    it('sends no body even to a client that asked for it (§9); the notification itself goes out', async function () {
      const name = await user('alice');
      const alice = await phone(name);
      await enable(alice.stream, 'never', publishOptions(INCLUDE_BODY));
      const bob = await sender();
      alice.stream.destroy();
      await until(hibernating(alice.jid), 'the session to wait for resumption');
      await say(bob, `${name}@localhost`, 'secret plans');
      assert.deepEqual(summary(await published()), { FORM_TYPE: 'urn:xmpp:push:summary', 'message-count': '1', 'last-message-sender': bob.jid });
    });
  });
});
