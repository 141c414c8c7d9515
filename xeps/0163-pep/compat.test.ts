// The bridges of compat.ts against a real server with xmpp.js clients, both back ends: XEP-0411 bookmarks
// (XEP-0402 on PEP <-> XEP-0048 in XEP-0049 private storage, both ways), XEP-0398 avatars (vCard PHOTO <->
// XEP-0084), and the last item sent when a contact's subscription is approved (XEP-0060 §12.13, on_sub).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { describeBackends } from '../../test/support/backends.js';
import type { TestClient } from '../../test/support/clients.js';
import type { TestServer } from '../../test/support/server.js';
import {
  AVATAR_DATA, AVATAR_METADATA, befriend, BOOKMARKS, capsClient, eventFor, itemsIq, itemsOf, NICK, PASSWORD, PUBSUB_EVENT, publishIq, refusal,
} from './test-kit.js';

const PRIVATE = 'jabber:iq:private';
const LEGACY = 'storage:bookmarks';
const VCARD = 'vcard-temp';
/** nbxmpp's (Gajim's) XEP-0402 publish-options. */
const BOOKMARK_OPTIONS = {
  'pubsub#notify_delete': 'true', 'pubsub#notify_retract': 'true', 'pubsub#persist_items': 'true',
  'pubsub#max_items': 'max', 'pubsub#access_model': 'whitelist', 'pubsub#send_last_published_item': 'never',
};

describeBackends('XEP-0163 bridges: bookmarks, vCard avatars, last item on subscription', function (backend) {
  let server: TestServer;
  const open: TestClient[] = [];
  let serial = 0;

  const users = async (...prefixes: string[]): Promise<string[]> => {
    const names = prefixes.map((p) => `${p}${++serial}`);
    for (const name of names) await server.addUser(name, PASSWORD);
    return names;
  };
  const login = async (username: string, features?: readonly string[]): ReturnType<typeof capsClient> => {
    const client = await capsClient(server, username, { features });
    open.push(client);
    return client;
  };
  const bare = (user: string): string => `${user}@${server.domain}`;
  const privateGet = async (client: TestClient): Promise<Element | undefined> =>
    (await client.xmpp.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: PRIVATE }, xml('storage', { xmlns: LEGACY }))))).getChild('query', PRIVATE)?.getChild('storage', LEGACY);
  const legacyConferences = (storage: Element | undefined): Array<Record<string, string | undefined>> =>
    (storage?.getChildren('conference') ?? []).map((c: Element) => ({ jid: c.attrs.jid, name: c.attrs.name, autojoin: c.attrs.autojoin, nick: c.getChildText('nick') ?? undefined }));

  before(async function () {
    server = await backend.start({ c2s: { requireTls: false } });
  });
  afterEach(async function () {
    await Promise.all(open.splice(0).map((c) => c.stop()));
  });
  after(async function () {
    await server?.stop();
  });

  it('XEP-0411: a XEP-0402 bookmark is read back through XEP-0048 private storage, and a XEP-0048 set becomes XEP-0402 items', async function () {
    const [alice, bob] = (await users('alice', 'bob')) as [string, string];
    await befriend(server, alice, bob);
    const client = await login(alice, [`${BOOKMARKS}+notify`]);
    const room = 'theplay@conference.localhost';
    const conference = xml('conference', { xmlns: BOOKMARKS, name: 'The Play’s the Thing', autojoin: 'true' }, xml('nick', {}, 'JC'));
    await client.xmpp.iqCaller.request(publishIq(BOOKMARKS, room, conference, BOOKMARK_OPTIONS));
    await client.next(eventFor(BOOKMARKS));
    assert.deepEqual(legacyConferences(await privateGet(client)), [{ jid: room, name: 'The Play’s the Thing', autojoin: 'true', nick: 'JC' }]);

    // The other way: a XEP-0048 client replaces the list (one changed, one new, one url kept as it is).
    const other = 'orchard@conference.localhost';
    await client.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('query', { xmlns: PRIVATE }, xml('storage', { xmlns: LEGACY },
      xml('conference', { jid: room, name: 'Renamed', autojoin: 'false' }, xml('nick', {}, 'JC')),
      xml('conference', { jid: other, name: 'Orchard', autojoin: '1' }),
      xml('url', { name: 'Home', url: 'https://example.org/' })))));
    const items = itemsOf(await client.xmpp.iqCaller.request(itemsIq(bare(alice), BOOKMARKS)));
    assert.deepEqual(items.map(([id, c]) => [id, c?.attrs.name, c?.attrs.autojoin ?? 'false']).sort(), [[other, 'Orchard', 'true'], [room, 'Renamed', 'false']]);
    const pushed = await client.next((s) => eventFor(BOOKMARKS)(s) && s.getChild('event', PUBSUB_EVENT)?.getChild('items')?.getChild('item')?.attrs.id === other);
    assert.ok(pushed);
    const back = await privateGet(client);
    assert.equal(back?.getChild('url')?.attrs.url, 'https://example.org/');
    assert.equal(legacyConferences(back).length, 2);

    // Dropping a conference in XEP-0048 retracts its item.
    await client.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('query', { xmlns: PRIVATE }, xml('storage', { xmlns: LEGACY }, xml('conference', { jid: other, name: 'Orchard', autojoin: 'true' })))));
    assert.deepEqual(itemsOf(await client.xmpp.iqCaller.request(itemsIq(bare(alice), BOOKMARKS))).map(([id]) => id), [other]);

    // Bookmarks are private (XEP-0402 §3: whitelist), even to a contact.
    const bobClient = await login(bob);
    assert.equal(await refusal(bobClient.xmpp.iqCaller.request(itemsIq(bare(alice), BOOKMARKS))), 'not-allowed/closed-node');
  });

  it('XEP-0048 first: without a PEP bookmarks node private storage answers what it stored; the set creates the node', async function () {
    const [alice] = (await users('alice')) as [string];
    const client = await login(alice);
    assert.deepEqual(legacyConferences(await privateGet(client)), []);
    assert.equal(await refusal(client.xmpp.iqCaller.request(itemsIq(bare(alice), BOOKMARKS))), 'item-not-found');
    await client.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('query', { xmlns: PRIVATE }, xml('storage', { xmlns: LEGACY }, xml('conference', { jid: 'a@conference.localhost', autojoin: 'true' }, xml('nick', {}, 'al'))))));
    const [[id, conference]] = itemsOf(await client.xmpp.iqCaller.request(itemsIq(bare(alice), BOOKMARKS))) as [[string, Element]];
    assert.equal(id, 'a@conference.localhost');
    assert.equal(conference.attrs.autojoin, 'true');
    assert.equal(conference.getChildText('nick'), 'al');
  });

  it('XEP-0398: a vCard PHOTO is published as the PEP avatar (contacts with +notify hear it), and a PEP avatar becomes the vCard PHOTO', async function () {
    const [alice, bob] = (await users('alice', 'bob')) as [string, string];
    await befriend(server, alice, bob);
    const bobClient = await login(bob, [`${AVATAR_METADATA}+notify`]);
    const client = await login(alice);
    const photo = Buffer.from('GIF89a-first-photo');
    const photoId = createHash('sha1').update(photo).digest('hex');
    await client.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('vCard', { xmlns: VCARD }, xml('FN', {}, 'Alice'), xml('PHOTO', {}, xml('TYPE', {}, 'image/gif'), xml('BINVAL', {}, photo.toString('base64'))))));
    const event = await bobClient.next(eventFor(AVATAR_METADATA));
    const info = event.getChild('event', PUBSUB_EVENT)?.getChild('items')?.getChild('item')?.getChild('metadata', AVATAR_METADATA)?.getChild('info');
    assert.deepEqual([info?.attrs.id, info?.attrs.type, info?.attrs.bytes], [photoId, 'image/gif', String(photo.length)]);
    const [[, data]] = itemsOf(await bobClient.xmpp.iqCaller.request(itemsIq(bare(alice), AVATAR_DATA, [photoId]))) as [[string, Element]];
    assert.equal(Buffer.from(data.text(), 'base64').toString(), 'GIF89a-first-photo');
    const vcardPhoto = async (): Promise<string | undefined> => {
      const vcard = (await bobClient.xmpp.iqCaller.request(xml('iq', { type: 'get', to: bare(alice) }, xml('vCard', { xmlns: VCARD })))).getChild('vCard', VCARD);
      assert.equal(vcard?.getChildText('FN'), 'Alice', 'the rest of the vCard stays');
      return vcard?.getChild('PHOTO')?.getChildText('BINVAL') ?? undefined;
    };
    assert.equal(await vcardPhoto(), photo.toString('base64'));

    // A PEP client publishes a new avatar: data, then metadata (XEP-0084 §4.1-§4.2); the vCard follows.
    const next = Buffer.from('PNG-second-photo');
    const nextId = createHash('sha1').update(next).digest('hex');
    await client.xmpp.iqCaller.request(publishIq(AVATAR_DATA, nextId, xml('data', { xmlns: AVATAR_DATA }, next.toString('base64'))));
    await client.xmpp.iqCaller.request(publishIq(AVATAR_METADATA, nextId, xml('metadata', { xmlns: AVATAR_METADATA }, xml('info', { id: nextId, bytes: String(next.length), type: 'image/png' }))));
    assert.equal(await vcardPhoto(), next.toString('base64'));
  });

  it('XEP-0060 §12.13: when the owner approves a subscription, the new subscriber’s resource with +notify gets the last item', async function () {
    const [alice, frank] = (await users('alice', 'frank')) as [string, string];
    const aliceClient = await login(alice);
    await aliceClient.xmpp.iqCaller.request(publishIq(NICK, 'current', xml('nick', { xmlns: NICK }, 'Alice')));
    const frankClient = await login(frank, [`${NICK}+notify`]);
    await assert.rejects(frankClient.next(eventFor(NICK), 200), 'not before the subscription');
    await frankClient.xmpp.send(xml('presence', { type: 'subscribe', to: bare(alice) }));
    await aliceClient.next((s) => s.is('presence') && s.attrs.type === 'subscribe');
    await aliceClient.xmpp.send(xml('presence', { type: 'subscribed', to: bare(frank) }));
    const last = await frankClient.next(eventFor(NICK));
    assert.equal(last.getChild('event', PUBSUB_EVENT)?.getChild('items')?.getChild('item')?.getChildText('nick', NICK), 'Alice');
  });
});
