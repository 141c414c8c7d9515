// XEP-0160 offline messages with XEP-0203 delay stamps, on both back ends: what is stored and what is not,
// delivery at the next available presence with a non-negative priority, and the per-user cap.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { describeBackends } from '../../test/support/backends.js';
import type { TestServer } from '../../test/support/server.js';
import { OFFLINE_LIMIT } from './offline.js';
import { Clients, isMessage, nothing, PASSWORD, sleep } from './test-kit.js';

describeBackends('XEP-0160 offline messages', function (backend) {
  let server: TestServer | undefined;
  const clients = new Clients(() => server as TestServer);
  let serial = 0;
  const users = async (...prefixes: string[]): Promise<string[]> => {
    const names = prefixes.map((p) => `${p}${++serial}`);
    for (const name of names) await (server as TestServer).addUser(name, PASSWORD);
    return names;
  };
  const stored = async (username: string, count: number): Promise<void> => {
    const offline = (server as TestServer).server.stores.offline;
    // A deadline rather than a number of tries: on a loaded machine PostgreSQL takes seconds for the cap's worth.
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
      if ((await offline.count(username)) === count) return;
      await sleep(20);
    }
    assert.fail(`${username} never had ${count} offline messages (has ${await offline.count(username)})`);
  };

  before(async function () {
    server = await backend.start();
  });
  afterEach(() => clients.stopAll());
  after(async function () {
    await server?.stop();
  });

  it('stores chat and normal messages with content and delivers them, delay-stamped, at the next initial presence', async function () {
    const before = Date.now();
    const [a, b] = (await users('juliet', 'romeo')) as [string, string];
    const juliet = await clients.online(a, 'tcp', 'balcony');
    const B = `${b}@localhost`;
    await juliet.xmpp.send(xml('message', { to: B, type: 'chat', id: 'c1' }, xml('body', {}, 'Wherefore art thou?')));
    await juliet.xmpp.send(xml('message', { to: `${B}/gone`, id: 'n1' }, xml('subject', {}, 'no type: normal')));
    await juliet.xmpp.send(xml('message', { to: B, type: 'chat', id: 's1' }, xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' })));
    await juliet.xmpp.send(xml('message', { to: B, type: 'chat', id: 'h1' }, xml('body', {}, 'secret'), xml('no-store', { xmlns: 'urn:xmpp:hints' })));
    await juliet.xmpp.send(xml('message', { to: B, type: 'headline', id: 'hl' }, xml('body', {}, 'news')));
    await stored(b, 2);
    await nothing(juliet, (s) => s.attrs.type === 'error', 300);

    const romeo = await clients.login(b, 'websocket', 'orchard');
    await nothing(romeo, isMessage(), 300);
    await romeo.xmpp.send(xml('presence'));
    const first = await romeo.next(isMessage());
    const second = await romeo.next(isMessage());
    assert.deepEqual([first.attrs.id, second.attrs.id], ['c1', 'n1'], 'oldest first, nothing else');
    assert.equal(first.attrs.from, `${a}@localhost/balcony`);
    assert.equal(first.getChildText('body'), 'Wherefore art thou?');
    for (const message of [first, second]) {
      const delay = message.getChild('delay', 'urn:xmpp:delay');
      assert.ok(delay, 'XEP-0203 delay');
      assert.equal(delay.attrs.from, 'localhost');
      const stamp = Date.parse(String(delay.attrs.stamp));
      assert.ok(stamp >= before && stamp <= Date.now(), `stamp ${String(delay.attrs.stamp)}`);
    }
    await nothing(romeo, isMessage(), 300);
    await stored(b, 0);

    await romeo.stop();
    const again = await clients.login(b, 'tcp', 'again');
    await again.xmpp.send(xml('presence'));
    await nothing(again, isMessage(), 400);
  });

  it('waits for a non-negative priority before delivering (RFC 6121 §8.5.2.1.1)', async function () {
    const [a, b] = (await users('juliet', 'romeo')) as [string, string];
    const juliet = await clients.online(a, 'websocket', 'balcony');
    await juliet.xmpp.send(xml('message', { to: `${b}@localhost`, type: 'chat', id: 'p1' }, xml('body', {}, 'later')));
    await stored(b, 1);

    const romeo = await clients.login(b, 'tcp', 'orchard');
    await romeo.xmpp.send(xml('presence', {}, xml('priority', {}, '-1')));
    await nothing(romeo, isMessage(), 400);
    await juliet.xmpp.send(xml('message', { to: `${b}@localhost`, type: 'chat', id: 'p2' }, xml('body', {}, 'still offline for messages')));
    await stored(b, 2);

    await romeo.xmpp.send(xml('presence', {}, xml('priority', {}, '1')));
    assert.equal((await romeo.next(isMessage())).attrs.id, 'p1');
    assert.equal((await romeo.next(isMessage())).attrs.id, 'p2');
    await stored(b, 0);
  });

  it(`keeps at most ${OFFLINE_LIMIT} messages per user and answers the next with service-unavailable (XEP-0160 §5)`, async function () {
    this.timeout(40_000);
    const [a, b] = (await users('juliet', 'romeo')) as [string, string];
    const juliet = await clients.online(a, 'tcp', 'balcony');
    for (let i = 0; i < OFFLINE_LIMIT; i++) await juliet.xmpp.send(xml('message', { to: `${b}@localhost`, type: 'chat', id: `m${i}` }, xml('body', {}, `message ${i}`)));
    await stored(b, OFFLINE_LIMIT);
    await juliet.xmpp.send(xml('message', { to: `${b}@localhost`, type: 'chat', id: 'over' }, xml('body', {}, 'one too many')));
    const bounce = await juliet.next((s) => s.is('message') && s.attrs.type === 'error');
    assert.equal(bounce.attrs.id, 'over');
    assert.ok(bounce.getChild('error')?.getChild('service-unavailable', 'urn:ietf:params:xml:ns:xmpp-stanzas'));
    await stored(b, OFFLINE_LIMIT);

    const romeo = await clients.login(b, 'websocket', 'orchard');
    await romeo.xmpp.send(xml('presence'));
    for (let i = 0; i < OFFLINE_LIMIT; i++) assert.equal((await romeo.next(isMessage())).attrs.id, `m${i}`);
    await stored(b, 0);
  });
});
