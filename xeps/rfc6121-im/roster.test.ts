// RFC 6121 §2 (roster get, set, remove, pushes) and §2.6 versioning, with real clients over TCP and
// WebSocket, on both storage back ends.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { deriveCredentials } from '../../src/auth/credentials.js';
import { describeBackends } from '../../test/support/backends.js';
import type { TestServer } from '../../test/support/server.js';
import { MAX_ROSTER_SIZE } from './roster.js';
import { Clients, isPush, nothing, PASSWORD, pushed, refusal, ROSTER, rosterGet, rosterSet } from './test-kit.js';

describeBackends('RFC 6121 roster', function (backend) {
  let server: TestServer | undefined;
  const clients = new Clients(() => server as TestServer);
  let serial = 0;
  const user = async (prefix: string): Promise<string> => {
    const name = `${prefix}${++serial}`;
    await (server as TestServer).addUser(name, PASSWORD);
    return name;
  };

  before(async function () {
    server = await backend.start({ c2s: { requireTls: false } });
  });
  afterEach(() => clients.stopAll());
  after(async function () {
    await server?.stop();
  });

  it('advertises roster versioning and pre-approval after authentication only (§2.6.1, §3.4)', async function () {
    const peer = await clients.rawAuthenticated(await user('alice'));
    const [before, after] = peer.received.split('<success');
    assert.doesNotMatch(before ?? '', /rosterver|pre-approval/);
    assert.match(after ?? '', /<ver xmlns=["']urn:xmpp:features:rosterver["']\/>/);
    assert.match(after ?? '', /<sub xmlns=["']urn:xmpp:features:pre-approval["']\/>/);
  });

  it('gets, sets, updates and removes items, pushing every change with its version to both interested resources (§2.2-§2.5)', async function () {
    const alice = await user('alice');
    const tcp = await clients.login(alice, 'tcp', 'laptop');
    const web = await clients.login(alice, 'websocket', 'phone');

    const empty = await rosterGet(tcp, '');
    const query = empty.getChild('query', ROSTER);
    assert.ok(query, 'a client that sends ver gets the roster with its version');
    assert.equal(query.getChildren('item').length, 0);
    const ver0 = query.attrs.ver as string;
    assert.ok(ver0 !== undefined && ver0 !== '');
    await rosterGet(web);

    await rosterSet(tcp, { jid: 'Nurse@Localhost', name: 'Nurse' }, 'Servants', 'Friends');
    for (const client of [tcp, web]) {
      const { ver, item } = pushed(await client.next(isPush('nurse@localhost')));
      assert.equal(item.attrs.subscription, 'none');
      assert.equal(item.attrs.name, 'Nurse');
      assert.equal(item.attrs.ask, undefined);
      assert.deepEqual(item.getChildren('group').map((g) => g.getText()), ['Servants', 'Friends']);
      assert.ok(ver !== undefined && ver !== ver0, 'pushes carry the new version');
    }

    const full = (await rosterGet(web)).getChild('query', ROSTER);
    assert.equal(full?.attrs.ver, undefined, 'no ver for a client that sent none');
    assert.deepEqual(full?.getChildren('item').map((i) => [i.attrs.jid, i.attrs.name, i.attrs.subscription]), [['nurse@localhost', 'Nurse', 'none']]);

    await rosterSet(web, { jid: 'nurse@localhost', name: 'Nanny' });
    const update = pushed(await tcp.next(isPush('nurse@localhost')));
    assert.equal(update.item.attrs.name, 'Nanny');
    assert.equal(update.item.getChildren('group').length, 0, 'a set replaces the groups');
    await web.next(isPush('nurse@localhost'));

    await rosterSet(tcp, { jid: 'nurse@localhost', subscription: 'remove' });
    for (const client of [tcp, web]) {
      const { item } = pushed(await client.next(isPush('nurse@localhost')));
      assert.equal(item.attrs.subscription, 'remove');
    }
    assert.equal((await rosterGet(tcp)).getChild('query', ROSTER)?.getChildren('item').length, 0);
    assert.equal(await refusal(rosterSet(tcp, { jid: 'nurse@localhost', subscription: 'remove' })), 'item-not-found', '§2.5.3');
  });

  it('answers an empty result when the client already has the current version (§2.6.3)', async function () {
    const alice = await user('alice');
    const tcp = await clients.login(alice, 'tcp', 'a');
    const ver0 = (await rosterGet(tcp, '')).getChild('query', ROSTER)?.attrs.ver as string;
    await rosterSet(tcp, { jid: 'romeo@example.net' });
    const { ver } = pushed(await tcp.next(isPush('romeo@example.net')));
    assert.ok(ver);

    const current = await rosterGet(tcp, ver);
    assert.equal(current.attrs.type, 'result');
    assert.equal(current.children.length, 0, 'the same version: an empty result, no items');

    const stale = (await rosterGet(tcp, ver0)).getChild('query', ROSTER);
    assert.equal(stale?.attrs.ver, ver);
    assert.deepEqual(stale?.getChildren('item').map((i) => i.attrs.jid), ['romeo@example.net']);
  });

  it('pushes only to resources that asked for the roster (§2.1.6)', async function () {
    const alice = await user('alice');
    const interested = await clients.login(alice, 'tcp', 'interested');
    const quiet = await clients.login(alice, 'websocket', 'quiet');
    await rosterGet(interested);
    await rosterSet(quiet, { jid: 'tybalt@localhost' });
    await interested.next(isPush('tybalt@localhost'));
    await nothing(quiet, isPush());
  });

  it('refuses invalid roster sets with the errors of §2.3.3', async function () {
    const alice = await user('alice');
    const tcp = await clients.login(alice, 'tcp', 'a');
    const set = (...items: ReturnType<typeof xml>[]): Promise<unknown> => tcp.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('query', { xmlns: ROSTER }, ...items)));
    const long = 'x'.repeat(1024);

    assert.equal(await refusal(set(xml('item', { jid: 'a@localhost' }), xml('item', { jid: 'b@localhost' }))), 'bad-request', 'two items');
    assert.equal(await refusal(set()), 'bad-request', 'no item');
    assert.equal(await refusal(rosterSet(tcp, { name: 'nobody' })), 'bad-request', 'no jid');
    assert.equal(await refusal(rosterSet(tcp, { jid: 'a@b@c' })), 'bad-request', 'invalid jid');
    assert.equal(await refusal(rosterSet(tcp, { jid: `${alice}@localhost` })), 'not-allowed', 'own jid');
    assert.equal(await refusal(rosterSet(tcp, { jid: 'c@localhost', subscription: 'both' })), 'bad-request', 'subscription other than remove');
    assert.equal(await refusal(rosterSet(tcp, { jid: 'c@localhost', name: long })), 'not-acceptable', 'name too long');
    assert.equal(await refusal(rosterSet(tcp, { jid: 'c@localhost' }, '')), 'not-acceptable', 'empty group');
    assert.equal(await refusal(rosterSet(tcp, { jid: 'c@localhost' }, long)), 'not-acceptable', 'group too long');
    assert.equal(await refusal(rosterSet(tcp, { jid: 'c@localhost' }, 'Friends', 'Friends')), 'bad-request', 'duplicate groups');
    assert.equal((await rosterGet(tcp)).getChild('query', ROSTER)?.getChildren('item').length, 0, 'nothing was stored');

    await rosterSet(tcp, { jid: 'c@localhost', ask: 'subscribe', name: 'x'.repeat(1023) });
    const item = (await rosterGet(tcp)).getChild('query', ROSTER)?.getChild('item');
    assert.equal(item?.attrs.ask, undefined, "'ask' from a client is ignored (§2.1.2.2)");
    assert.equal(item?.attrs.subscription, 'none');
  });

  it("refuses access to another user's roster and reveals nothing of it (§2.3.3, §2.1.5)", async function () {
    const alice = await user('alice');
    const bob = await user('bob');
    const tcp = await clients.login(bob, 'tcp', 'b');
    await rosterSet(tcp, { jid: 'secret@localhost', name: 'Secret' });
    const mallory = await clients.login(alice, 'websocket', 'm');
    let reply = '';
    mallory.xmpp.on('stanza', (s) => (reply += s.toString()));
    assert.equal(await refusal(mallory.xmpp.iqCaller.request(xml('iq', { type: 'get', to: `${bob}@localhost` }, xml('query', { xmlns: ROSTER })))), 'forbidden');
    assert.equal(await refusal(mallory.xmpp.iqCaller.request(xml('iq', { type: 'set', to: `${bob}@localhost` }, xml('query', { xmlns: ROSTER }, xml('item', { jid: 'x@localhost' }))))), 'forbidden');
    assert.doesNotMatch(reply, /secret@localhost/);
    const bobs = (await rosterGet(tcp)).getChild('query', ROSTER)?.getChildren('item').map((i) => i.attrs.jid);
    assert.deepEqual(bobs, ['secret@localhost']);
  });

  it(`refuses a new item beyond ${MAX_ROSTER_SIZE} with not-allowed (§2.3.3)`, async function () {
    this.timeout(60_000);
    const alice = `full${++serial}`;
    const { stores, config } = (server as TestServer).server;
    const roster = Array.from({ length: MAX_ROSTER_SIZE }, (_, i) => ({ jid: `c${i}@localhost`, subscription: 'none' as const, ask: false, approved: false, groups: [] }));
    await stores.bulk.load([{ username: alice, credentials: await deriveCredentials(PASSWORD, config.auth.scramIterations), roster }], { onExisting: 'fail' });
    const tcp = await clients.login(alice, 'tcp', 'a');
    assert.equal(await refusal(rosterSet(tcp, { jid: 'one-too-many@localhost' })), 'not-allowed');
    await rosterSet(tcp, { jid: 'c0@localhost', name: 'still editable' });
  });
});
