// XEP-0153 vCard-Based Avatars on the server side: the photo hash (§3.1) and its addition to broadcast
// presence that lacks the update element, with real xmpp.js clients on both storage back ends.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { xml } from '@xmpp/client';
import { parse, type Element } from 'ltx';
import type { RosterItem } from '../../src/storage/types.js';
import { describeBackends } from '../../test/support/backends.js';
import { connect, type ClientTransport, type TestClient } from '../../test/support/clients.js';
import type { TestServer } from '../../test/support/server.js';
import { photoHash } from './avatar-hash.js';
import { vcardStores } from './store/index.js';

const UPDATE = 'vcard-temp:x:update';
const PASSWORD = 'secret';
const IMAGE = Buffer.from('\x89PNG\r\n\x1a\n not really a picture, but bytes all the same', 'latin1');
const IMAGE_SHA1 = createHash('sha1').update(IMAGE).digest('hex');

/** Example 1 of §3.1, with a real image in BINVAL, wrapped at 76 characters as RFC 2045 recommends. */
const withPhoto = (image: Buffer): Element =>
  parse(`<vCard xmlns='vcard-temp'>
    <BDAY>1476-06-09</BDAY>
    <N><GIVEN>Juliet</GIVEN><FAMILY>Capulet</FAMILY></N>
    <PHOTO>
      <TYPE>image/png</TYPE>
      <BINVAL>
        ${(image.toString('base64').match(/.{1,76}/g) ?? []).join('\n        ')}
      </BINVAL>
    </PHOTO>
  </vCard>`);

describe('XEP-0153 photo hash', function () {
  it('§3.1: is the lower-case hex SHA-1 of the image bytes, not of the base64 (whose whitespace is ignored, §4.6)', function () {
    assert.equal(photoHash(withPhoto(IMAGE)), IMAGE_SHA1);
    assert.equal(photoHash(parse(`<vCard xmlns='vcard-temp'><PHOTO><BINVAL>aGVs\nbG8=</BINVAL></PHOTO></vCard>`)), 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d');
  });

  it('§4.1 rule 3: is empty when there is no image to advertise', function () {
    assert.equal(photoHash(parse(`<vCard xmlns='vcard-temp'><FN>No photo</FN></vCard>`)), '');
    assert.equal(photoHash(parse(`<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>  </BINVAL></PHOTO></vCard>`)), '');
    assert.equal(photoHash(parse(`<vCard xmlns='vcard-temp'><PHOTO><EXTVAL>http://example.org/me.png</EXTVAL></PHOTO></vCard>`)), '');
  });
});

describeBackends('XEP-0153 vCard-based avatars (server side)', function (backend) {
  let server: TestServer;
  const open: TestClient[] = [];
  let serial = 0;

  const users = async (...prefixes: string[]): Promise<string[]> => {
    const names = prefixes.map((p) => `${p}${++serial}`);
    for (const name of names) await server.addUser(name, PASSWORD);
    return names;
  };
  const befriend = async (a: string, b: string): Promise<void> => {
    const both = (jid: string): RosterItem => ({ jid, subscription: 'both', ask: false, approved: false, groups: [] });
    await server.server.stores.roster.setItem(a, both(`${b}@localhost`));
    await server.server.stores.roster.setItem(b, both(`${a}@localhost`));
  };
  const login = async (username: string, transport: ClientTransport, resource: string): Promise<TestClient> => {
    const client = await connect(server, { transport, username, password: PASSWORD, resource });
    open.push(client);
    return client;
  };
  const presenceFrom = (jid: string, type?: string) => (s: Element): boolean => s.is('presence') && s.attrs.from === jid && s.attrs.type === type;
  /** Sends presence and returns what a contact receives of it. */
  const broadcast = async (from: TestClient, to: TestClient, presence: Element): Promise<Element> => {
    await from.xmpp.send(presence);
    return to.next(presenceFrom(from.jid, presence.attrs.type as string | undefined));
  };
  const photoOf = (presence: Element): string | undefined => {
    const x = presence.getChildren('x').filter((c) => c.attrs.xmlns === UPDATE);
    assert.ok(x.length <= 1, `one update element at most: ${presence.toString()}`);
    return x[0]?.getChild('photo')?.getText();
  };

  before(async function () {
    server = await backend.start();
  });
  afterEach(async function () {
    await Promise.all(open.splice(0).map((c) => c.stop()));
  });
  after(async function () {
    await server?.stop();
  });

  it('§3.1 Examples 1-3: after the vCard with a photo is stored, broadcast presence carries the hash, to contacts and to the sender', async function () {
    const [juliet, romeo] = (await users('juliet', 'romeo')) as [string, string];
    await befriend(juliet, romeo);
    const romeoClient = await login(romeo, 'websocket', 'orchard');
    await romeoClient.xmpp.send(xml('presence'));
    const julietClient = await login(juliet, 'tcp', 'balcony');
    await julietClient.xmpp.iqCaller.request(xml('iq', { type: 'set', id: 'vc1' }, withPhoto(IMAGE)));

    await julietClient.xmpp.send(xml('presence', {}, xml('status', {}, 'at the window')));
    const seen = await romeoClient.next(presenceFrom(julietClient.jid));
    assert.equal(photoOf(seen), IMAGE_SHA1);
    assert.equal(seen.getChildText('status'), 'at the window', 'the rest of the presence as she sent it');
    assert.equal(photoOf(await julietClient.next(presenceFrom(julietClient.jid))), IMAGE_SHA1);
  });

  it('§4.1 rule 3: a user without a vCard photo gets an empty <photo/>', async function () {
    const [juliet, romeo] = (await users('juliet', 'romeo')) as [string, string];
    await befriend(juliet, romeo);
    const romeoClient = await login(romeo, 'tls', 'orchard');
    await romeoClient.xmpp.send(xml('presence'));
    const julietClient = await login(juliet, 'websocket', 'balcony');
    const seen = await broadcast(julietClient, romeoClient, xml('presence'));
    assert.equal(photoOf(seen), '');
    assert.match(seen.toString(), /<x xmlns="vcard-temp:x:update"><photo\/><\/x>/);
  });

  it('takes the hash from the stored vCard when the user logs in, for the very first presence', async function () {
    const [juliet, romeo] = (await users('juliet', 'romeo')) as [string, string];
    await befriend(juliet, romeo);
    await server.server.stores.module('vcard', vcardStores).set(juliet, withPhoto(IMAGE).toString());
    const romeoClient = await login(romeo, 'tcp', 'orchard');
    await romeoClient.xmpp.send(xml('presence'));
    const julietClient = await login(juliet, 'tls', 'balcony');
    assert.equal(photoOf(await broadcast(julietClient, romeoClient, xml('presence'))), IMAGE_SHA1);
  });

  it('§4.1, §4.3: leaves the update element of a client that includes one as it is', async function () {
    const [juliet, romeo] = (await users('juliet', 'romeo')) as [string, string];
    await befriend(juliet, romeo);
    await server.server.stores.module('vcard', vcardStores).set(juliet, withPhoto(IMAGE).toString());
    const romeoClient = await login(romeo, 'websocket', 'orchard');
    await romeoClient.xmpp.send(xml('presence'));
    const julietClient = await login(juliet, 'tcp', 'balcony');

    const notReady = await broadcast(julietClient, romeoClient, xml('presence', {}, xml('x', { xmlns: UPDATE })));
    assert.match(notReady.toString(), /<x xmlns="vcard-temp:x:update"\/>/, 'Example 4 stays "not ready"');
    const own = await broadcast(julietClient, romeoClient, xml('presence', {}, xml('x', { xmlns: UPDATE }, xml('photo', {}, '01b87fcd030b72895ff8e88db57ec525450f000d'))));
    assert.equal(photoOf(own), '01b87fcd030b72895ff8e88db57ec525450f000d');
  });

  it('§4.2: a new vCard changes the hash of the next presence; the server sends no presence of its own', async function () {
    const [juliet, romeo] = (await users('juliet', 'romeo')) as [string, string];
    await befriend(juliet, romeo);
    const romeoClient = await login(romeo, 'tcp', 'orchard');
    await romeoClient.xmpp.send(xml('presence'));
    const julietClient = await login(juliet, 'websocket', 'balcony');
    assert.equal(photoOf(await broadcast(julietClient, romeoClient, xml('presence'))), '');

    await julietClient.xmpp.iqCaller.request(xml('iq', { type: 'set', id: 'vc1' }, withPhoto(IMAGE)));
    const unsolicited = await romeoClient.next(presenceFrom(julietClient.jid), 400).catch(() => undefined);
    assert.equal(unsolicited, undefined, 'publishing the new hash is the client’s business');
    assert.equal(photoOf(await broadcast(julietClient, romeoClient, xml('presence', {}, xml('show', {}, 'away')))), IMAGE_SHA1);

    // Another resource of hers replaces the photo; every session of hers advertises the new one.
    const other = await login(juliet, 'tls', 'chamber');
    const newer = Buffer.from('a different picture');
    await other.xmpp.iqCaller.request(xml('iq', { type: 'set', id: 'vc2' }, withPhoto(newer)));
    const expected = createHash('sha1').update(newer).digest('hex');
    assert.equal(photoOf(await broadcast(julietClient, romeoClient, xml('presence'))), expected);
    assert.equal(photoOf(await broadcast(other, romeoClient, xml('presence'))), expected);

    // Removing the photo empties it.
    await other.xmpp.iqCaller.request(xml('iq', { type: 'set', id: 'vc3' }, xml('vCard', { xmlns: 'vcard-temp' }, xml('FN', {}, 'Juliet'))));
    assert.equal(photoOf(await broadcast(julietClient, romeoClient, xml('presence'))), '');
  });

  it('does not touch unavailable or directed presence', async function () {
    const [juliet, romeo, nurse] = (await users('juliet', 'romeo', 'nurse')) as [string, string, string];
    await befriend(juliet, romeo);
    await server.server.stores.module('vcard', vcardStores).set(juliet, withPhoto(IMAGE).toString());
    const romeoClient = await login(romeo, 'websocket', 'orchard');
    await romeoClient.xmpp.send(xml('presence'));
    const nurseClient = await login(nurse, 'tcp', 'kitchen');
    const julietClient = await login(juliet, 'tls', 'balcony');
    await broadcast(julietClient, romeoClient, xml('presence'));

    await julietClient.xmpp.send(xml('presence', { to: nurseClient.jid }, xml('status', {}, 'come here')));
    const directed = await nurseClient.next(presenceFrom(julietClient.jid));
    assert.equal(photoOf(directed), undefined);
    const gone = await broadcast(julietClient, romeoClient, xml('presence', { type: 'unavailable' }));
    assert.equal(photoOf(gone), undefined);
  });
});
