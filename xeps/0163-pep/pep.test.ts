// XEP-0163 PEP against a real server with xmpp.js clients, both back ends: avatars (XEP-0084) reaching only
// contacts whose caps say +notify (§4.3.2), last item on coming online (§6.1.2), publish-options preconditions
// (XEP-0060 §7.1.5), access models (§4.5), OMEMO device lists, items by id, retract, delete, max_items, the
// account's disco#info, and bad input.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { describeBackends } from '../../test/support/backends.js';
import type { TestClient } from '../../test/support/clients.js';
import type { TestServer } from '../../test/support/server.js';
import {
  AVATAR_DATA, AVATAR_METADATA, avatarId, avatarPng, befriend, capsClient, DEVICELIST, eventFor, form, INFO, itemsIq, itemsOf,
  metadata, NICK, PASSWORD, PUBSUB, PUBSUB_EVENT, PUBSUB_OWNER, publishIq, refusal,
} from './test-kit.js';

const notify = (node: string): string => `${node}+notify`;

describeBackends('XEP-0163 Personal Eventing Protocol', function (backend) {
  let server: TestServer;
  const open: TestClient[] = [];
  let serial = 0;

  const users = async (...prefixes: string[]): Promise<string[]> => {
    const names = prefixes.map((p) => `${p}${++serial}`);
    for (const name of names) await server.addUser(name, PASSWORD);
    return names;
  };
  const login = async (username: string, features?: readonly string[], resource?: string, ver?: string): ReturnType<typeof capsClient> => {
    const client = await capsClient(server, username, { features, resource, ver, transport: serial % 2 === 0 ? 'tcp' : 'websocket' });
    open.push(client);
    return client;
  };
  const bare = (user: string): string => `${user}@${server.domain}`;

  before(async function () {
    server = await backend.start({ c2s: { requireTls: false }, pep: { maxPayloadSize: 4096 } });
  });
  afterEach(async function () {
    await Promise.all(open.splice(0).map((c) => c.stop()));
  });
  after(async function () {
    await server?.stop();
  });

  it('XEP-0084: an avatar published by an xmpp.js client reaches a contact whose caps say metadata+notify, not one without (§4.3.2)', async function () {
    const [alice, bob, carol] = (await users('alice', 'bob', 'carol')) as [string, string, string];
    await befriend(server, alice, bob);
    await befriend(server, alice, carol);
    const bobClient = await login(bob, [notify(AVATAR_METADATA), notify(NICK)]);
    const carolClient = await login(carol, [notify(NICK)]);
    const aliceClient = await login(alice, [notify(AVATAR_METADATA)]);
    assert.equal(bobClient.discoQueries(), 1, 'the server asked bob’s caps node once');

    const data = xml('data', { xmlns: AVATAR_DATA }, avatarPng.toString('base64'));
    const published = await aliceClient.xmpp.iqCaller.request(publishIq(AVATAR_DATA, avatarId, data));
    assert.equal(published.getChild('pubsub', PUBSUB)?.getChild('publish')?.getChild('item')?.attrs.id, avatarId);
    await aliceClient.xmpp.iqCaller.request(publishIq(AVATAR_METADATA, avatarId, metadata()));

    const event = await bobClient.next(eventFor(AVATAR_METADATA));
    assert.equal(event.attrs.from, bare(alice));
    assert.equal(event.attrs.type, 'headline');
    const item = event.getChild('event', PUBSUB_EVENT)?.getChild('items')?.getChild('item');
    assert.equal(item?.attrs.id, avatarId);
    assert.equal(item?.getChild('metadata', AVATAR_METADATA)?.getChild('info')?.attrs.bytes, String(avatarPng.length));
    // The owner's own resource with +notify hears it too (XEP-0163 §4.3.1); nobody asked for data+notify.
    await aliceClient.next(eventFor(AVATAR_METADATA));

    // Positive control: carol's caps are known and notifications reach her (her nick+notify)...
    await aliceClient.xmpp.iqCaller.request(publishIq(NICK, undefined, xml('nick', { xmlns: NICK }, 'Alice')));
    const nick = await carolClient.next(eventFor(NICK));
    assert.equal(nick.getChild('event', PUBSUB_EVENT)?.getChild('items')?.getChild('item')?.getChildText('nick', NICK), 'Alice');
    await bobClient.next(eventFor(NICK));
    // ...and the avatar, published before the nick on the same path, did not.
    await assert.rejects(carolClient.next(eventFor(AVATAR_METADATA), 300));
    await assert.rejects(bobClient.next(eventFor(AVATAR_DATA), 300));

    // The data is there for contacts to fetch by id (XEP-0084 §4.2, XEP-0060 §6.5.8).
    const fetched = itemsOf(await bobClient.xmpp.iqCaller.request(itemsIq(bare(alice), AVATAR_DATA, [avatarId])));
    assert.equal(fetched[0]?.[1]?.text(), avatarPng.toString('base64'));
  });

  it('§6.1.2: a contact coming online with +notify gets the last item; a resource with the same caps and no subscription does not', async function () {
    const [alice, dave, eve] = (await users('alice', 'dave', 'eve')) as [string, string, string];
    await befriend(server, alice, dave);
    const aliceClient = await login(alice);
    await aliceClient.xmpp.iqCaller.request(publishIq(NICK, 'current', xml('nick', { xmlns: NICK }, 'old')));
    await aliceClient.xmpp.iqCaller.request(publishIq(NICK, 'current', xml('nick', { xmlns: NICK }, 'Alice II')));

    const eveClient = await login(eve, [notify(NICK)]);
    const daveClient = await login(dave, [notify(NICK)]);
    const last = await daveClient.next(eventFor(NICK));
    assert.equal(last.getChild('event', PUBSUB_EVENT)?.getChild('items')?.getChild('item')?.getChildText('nick', NICK), 'Alice II');
    assert.equal(daveClient.discoQueries(), 0, 'eve’s identical caps were resolved and cached: dave was not asked');
    await assert.rejects(daveClient.next(eventFor(NICK), 200), 'only the last item, once');
    await assert.rejects(eveClient.next(eventFor(NICK), 200));
  });

  it('XEP-0115 §5.4: a ver that its answer does not match serves that resource only and is not cached', async function () {
    const [alice, bob, carol] = (await users('alice', 'bob', 'carol')) as [string, string, string];
    await befriend(server, alice, bob);
    await befriend(server, alice, carol);
    const forged = `forged${serial}/AAAAAAAAAAAAAAAAAAAAAAAAAA=`;
    const bobClient = await login(bob, [notify(NICK)], 'one', forged);
    const carolClient = await login(carol, [notify(NICK)], 'two', forged);
    assert.equal(bobClient.discoQueries(), 1);
    assert.equal(carolClient.discoQueries(), 1, 'not taken from a cache: asked again');
    const aliceClient = await login(alice);
    await aliceClient.xmpp.iqCaller.request(publishIq(NICK, undefined, xml('nick', { xmlns: NICK }, 'Alice')));
    await bobClient.next(eventFor(NICK));
    await carolClient.next(eventFor(NICK));
  });

  it('§7.1.5: publish-options that the existing node does not match are conflict + precondition-not-met', async function () {
    const [alice] = (await users('alice')) as [string];
    const client = await login(alice);
    await client.xmpp.iqCaller.request(publishIq(NICK, '1', xml('nick', { xmlns: NICK }, 'a'), { 'pubsub#access_model': 'presence' }));
    assert.equal(await refusal(client.xmpp.iqCaller.request(publishIq(NICK, '2', xml('nick', { xmlns: NICK }, 'b'), { 'pubsub#access_model': 'whitelist' }))), 'conflict/precondition-not-met');
    assert.equal(await refusal(client.xmpp.iqCaller.request(publishIq(NICK, '2', xml('nick', { xmlns: NICK }, 'b'), { 'pubsub#max_items': '7' }))), 'conflict/precondition-not-met');
    // Positive control: matching options publish.
    await client.xmpp.iqCaller.request(publishIq(NICK, '3', xml('nick', { xmlns: NICK }, 'c'), { 'pubsub#access_model': 'presence', 'pubsub#persist_items': 'true' }));
    assert.deepEqual(itemsOf(await client.xmpp.iqCaller.request(itemsIq(bare(alice), NICK))).map(([id]) => id), ['3']);
  });

  it('§4.5 access models: presence (subscribers only), open (anyone), whitelist (the owner only)', async function () {
    const [alice, friend, stranger] = (await users('alice', 'friend', 'stranger')) as [string, string, string];
    await befriend(server, alice, friend);
    const aliceClient = await login(alice);
    const friendClient = await login(friend);
    const strangerClient = await login(stranger);
    await aliceClient.xmpp.iqCaller.request(publishIq(NICK, 'n', xml('nick', { xmlns: NICK }, 'Alice')));

    assert.equal(itemsOf(await friendClient.xmpp.iqCaller.request(itemsIq(bare(alice), NICK)))[0]?.[0], 'n');
    // XEP-0060 §6.5.9.4: presence access without a subscription.
    assert.equal(await refusal(strangerClient.xmpp.iqCaller.request(itemsIq(bare(alice), NICK))), 'not-authorized/presence-subscription-required');
    assert.equal(await refusal(strangerClient.xmpp.iqCaller.request(itemsIq(bare(alice), 'urn:example:none'))), 'item-not-found');

    // The owner opens the node (XEP-0060 §8.2); now anyone reads it.
    const config = await aliceClient.xmpp.iqCaller.request(xml('iq', { type: 'get' }, xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('configure', { node: NICK }))));
    const field = config.getChild('pubsub', PUBSUB_OWNER)?.getChild('configure')?.getChild('x')?.getChildren('field').find((f: Element) => f.attrs.var === 'pubsub#access_model');
    assert.equal(field?.getChildText('value'), 'presence');
    await aliceClient.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('configure', { node: NICK }, form('http://jabber.org/protocol/pubsub#node_config', { 'pubsub#access_model': 'open' })))));
    assert.equal(itemsOf(await strangerClient.xmpp.iqCaller.request(itemsIq(bare(alice), NICK)))[0]?.[0], 'n');

    await aliceClient.xmpp.iqCaller.request(publishIq('urn:example:private', 'p', xml('secret', { xmlns: 'urn:example:private' }), { 'pubsub#access_model': 'whitelist' }));
    assert.equal(await refusal(friendClient.xmpp.iqCaller.request(itemsIq(bare(alice), 'urn:example:private'))), 'not-allowed/closed-node');
    assert.equal(itemsOf(await aliceClient.xmpp.iqCaller.request(itemsIq(bare(alice), 'urn:example:private'))).length, 1);
  });

  it('OMEMO: a device list published with open access is fetched by someone without a subscription, and so is a bundle', async function () {
    const [alice, bob] = (await users('alice', 'bob')) as [string, string];
    const aliceClient = await login(alice);
    const bobClient = await login(bob);
    const list = xml('list', { xmlns: 'eu.siacs.conversations.axolotl' }, xml('device', { id: '12345' }), xml('device', { id: '4223' }));
    await aliceClient.xmpp.iqCaller.request(publishIq(DEVICELIST, 'current', list, { 'pubsub#access_model': 'open' }));
    const bundleNode = 'eu.siacs.conversations.axolotl.bundles:12345';
    const bundle = xml('bundle', { xmlns: 'eu.siacs.conversations.axolotl' }, xml('signedPreKeyPublic', { signedPreKeyId: '1' }, 'BASE64'), xml('identityKey', {}, 'KEY'));
    await aliceClient.xmpp.iqCaller.request(publishIq(bundleNode, 'current', bundle, { 'pubsub#access_model': 'open' }));

    const [[id, got]] = itemsOf(await bobClient.xmpp.iqCaller.request(itemsIq(bare(alice), DEVICELIST))) as [[string, Element]];
    assert.equal(id, 'current');
    assert.deepEqual(got.getChildren('device').map((d: Element) => d.attrs.id), ['12345', '4223']);
    assert.equal(itemsOf(await bobClient.xmpp.iqCaller.request(itemsIq(bare(alice), bundleNode, [], 1)))[0]?.[1]?.getChildText('identityKey'), 'KEY');
  });

  it('XEP-0060: max_items keeps the newest, items by id, retract and delete notify, the node is gone after delete', async function () {
    const [alice, bob] = (await users('alice', 'bob')) as [string, string];
    await befriend(server, alice, bob);
    const node = 'urn:example:feed';
    const aliceClient = await login(alice);
    const bobClient = await login(bob, [notify(node)]);
    const entry = (n: number): Element => xml('entry', { xmlns: node }, String(n));
    await aliceClient.xmpp.iqCaller.request(publishIq(node, 'e1', entry(1), { 'pubsub#max_items': '2' }));
    await aliceClient.xmpp.iqCaller.request(publishIq(node, 'e2', entry(2)));
    await aliceClient.xmpp.iqCaller.request(publishIq(node, 'e3', entry(3)));
    assert.deepEqual(itemsOf(await bobClient.xmpp.iqCaller.request(itemsIq(bare(alice), node))).map(([id]) => id), ['e2', 'e3']);
    assert.deepEqual(itemsOf(await bobClient.xmpp.iqCaller.request(itemsIq(bare(alice), node, ['e3']))).map(([id]) => id), ['e3']);
    assert.deepEqual(itemsOf(await bobClient.xmpp.iqCaller.request(itemsIq(bare(alice), node, [], 1))).map(([id]) => id), ['e3']);
    assert.equal(await refusal(bobClient.xmpp.iqCaller.request(itemsIq(bare(alice), node, ['e1']))), 'item-not-found');
    for (let i = 0; i < 3; i++) await bobClient.next(eventFor(node));

    await aliceClient.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('pubsub', { xmlns: PUBSUB }, xml('retract', { node }, xml('item', { id: 'e2' })))));
    const retract = await bobClient.next(eventFor(node));
    assert.equal(retract.getChild('event', PUBSUB_EVENT)?.getChild('items')?.getChild('retract')?.attrs.id, 'e2');
    assert.equal(await refusal(aliceClient.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('pubsub', { xmlns: PUBSUB }, xml('retract', { node }, xml('item', { id: 'e2' })))))), 'item-not-found');

    await aliceClient.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('delete', { node }))));
    const deleted = await bobClient.next(eventFor(node));
    assert.equal(deleted.getChild('event', PUBSUB_EVENT)?.getChild('delete')?.attrs.node, node);
    assert.equal(await refusal(bobClient.xmpp.iqCaller.request(itemsIq(bare(alice), node))), 'item-not-found');
  });

  it('bad input: someone else’s node, no node, no or two payloads, a payload too big, an unsupported option or action', async function () {
    const [alice, bob] = (await users('alice', 'bob')) as [string, string];
    const client = await login(alice);
    const nick = xml('nick', { xmlns: NICK }, 'x');
    const request = (iq: Element): Promise<string> => refusal(client.xmpp.iqCaller.request(iq));
    assert.equal(await request(publishIq(NICK, '1', nick, undefined, bare(bob))), 'forbidden');
    assert.equal(await request(xml('iq', { type: 'set' }, xml('pubsub', { xmlns: PUBSUB }, xml('publish', {}, xml('item', {}, nick))))), 'bad-request/nodeid-required');
    assert.equal(await request(xml('iq', { type: 'set' }, xml('pubsub', { xmlns: PUBSUB }, xml('publish', { node: NICK }, xml('item', { id: '1' }))))), 'bad-request/payload-required');
    assert.equal(await request(xml('iq', { type: 'set' }, xml('pubsub', { xmlns: PUBSUB }, xml('publish', { node: NICK }, xml('item', { id: '1' }, nick, xml('nick', { xmlns: NICK }, 'y')))))), 'bad-request/invalid-payload');
    assert.equal(await request(publishIq(NICK, '1', xml('nick', { xmlns: NICK }, 'x'.repeat(5000)))), 'not-acceptable/payload-too-big');
    assert.equal(await request(publishIq(NICK, '1', nick, { 'pubsub#unknown_option': '1' })), 'conflict/precondition-not-met');
    assert.equal(await request(xml('iq', { type: 'set' }, xml('pubsub', { xmlns: PUBSUB }, xml('subscribe', { node: NICK, jid: bare(alice) })))), 'feature-not-implemented/unsupported');
    assert.equal(await request(xml('iq', { type: 'set', to: bare(bob) }, xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('delete', { node: NICK })))), 'forbidden');
    // Nothing of the above created a node; a good publish still works (positive control).
    assert.equal(await request(itemsIq(bare(alice), NICK)), 'item-not-found');
    await client.xmpp.iqCaller.request(publishIq(NICK, '1', nick));
    assert.equal(itemsOf(await client.xmpp.iqCaller.request(itemsIq(bare(alice), NICK))).length, 1);
  });

  it('§1, §7: the account’s disco#info has identity pubsub/pep and the pubsub features', async function () {
    const [alice] = (await users('alice')) as [string];
    const client = await login(alice);
    const query = (await client.xmpp.iqCaller.request(xml('iq', { type: 'get', to: bare(alice) }, xml('query', { xmlns: INFO })))).getChild('query', INFO);
    assert.ok(query?.getChildren('identity').some((i: Element) => i.attrs.category === 'pubsub' && i.attrs.type === 'pep'), query?.toString());
    const features = query?.getChildren('feature').map((f: Element) => f.attrs.var) ?? [];
    for (const f of ['publish', 'publish-options', 'auto-create', 'retrieve-items', 'retract-items', 'access-presence', 'filtered-notifications']) assert.ok(features.includes(`${PUBSUB}#${f}`), f);
    assert.ok(features.includes('urn:xmpp:bookmarks:1#compat'), 'XEP-0402 §4');
  });
});
