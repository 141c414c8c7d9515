// XEP-0054 vcard-temp walked through its own examples, with real xmpp.js clients over TCP, direct TLS
// and WebSocket, on both storage back ends.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { parse, type Element } from 'ltx';
import { describeBackends } from '../../test/support/backends.js';
import { connect, type ClientTransport, type TestClient } from '../../test/support/clients.js';
import type { TestServer } from '../../test/support/server.js';
import { MAX_VCARD_BYTES } from './index.js';
import { vcardStores } from './store/index.js';

const VCARD = 'vcard-temp';
const PASSWORD = 'secret';

/** Example 5 of §3.2 (the vCard of Example 2 with a changed DESC), as a client sends it. */
const STPETER = `<vCard xmlns='vcard-temp'>
    <FN>Peter Saint-Andre</FN>
    <N>
      <FAMILY>Saint-Andre</FAMILY>
      <GIVEN>Peter</GIVEN>
      <MIDDLE/>
    </N>
    <NICKNAME>stpeter</NICKNAME>
    <URL>http://www.xmpp.org/xsf/people/stpeter.shtml</URL>
    <BDAY>1966-08-06</BDAY>
    <ORG>
      <ORGNAME>XMPP Standards Foundation</ORGNAME>
      <ORGUNIT/>
    </ORG>
    <TITLE>Executive Director</TITLE>
    <ROLE>Patron Saint</ROLE>
    <TEL><WORK/><VOICE/><NUMBER>303-308-3282</NUMBER></TEL>
    <TEL><WORK/><FAX/><NUMBER/></TEL>
    <TEL><WORK/><MSG/><NUMBER/></TEL>
    <ADR>
      <WORK/>
      <EXTADD>Suite 600</EXTADD>
      <STREET>1899 Wynkoop Street</STREET>
      <LOCALITY>Denver</LOCALITY>
      <REGION>CO</REGION>
      <PCODE>80202</PCODE>
      <CTRY>USA</CTRY>
    </ADR>
    <EMAIL><INTERNET/><PREF/><USERID>stpeter@jabber.org</USERID></EMAIL>
    <JABBERID>stpeter@jabber.org</JABBERID>
    <DESC>
      Check out my blog at https://stpeter.im/
    </DESC>
  </vCard>`;

/** Example 9 of §3.3. */
const JER = `<vCard xmlns='vcard-temp'>
    <FN>JeremieMiller</FN>
    <N>
      <GIVEN>Jeremie</GIVEN>
      <FAMILY>Miller</FAMILY>
      <MIDDLE/>
    </N>
    <NICKNAME>jer</NICKNAME>
    <EMAIL><INTERNET/><PREF/><USERID>jeremie@jabber.org</USERID></EMAIL>
    <JABBERID>jer@jabber.org</JABBERID>
  </vCard>`;

const vcardGet = (to?: string): Element => xml('iq', to === undefined ? { type: 'get', id: 'v1' } : { type: 'get', id: 'v3', to }, xml('vCard', { xmlns: VCARD }));
const vcardSet = (vcard: Element | string, to?: string): Element =>
  xml('iq', to === undefined ? { type: 'set', id: 'v2' } : { type: 'set', id: 'v2', to }, typeof vcard === 'string' ? parse(vcard) : vcard);

/** The error a request was refused with: its condition and type. */
async function refusal(request: Promise<unknown>): Promise<{ condition: string; type: string | undefined }> {
  try {
    await request;
  } catch (err) {
    const { condition, element } = err as { condition?: unknown; element?: Element };
    if (typeof condition === 'string') return { condition, type: element?.attrs.type as string | undefined };
    throw err;
  }
  throw new Error('the request succeeded');
}

describeBackends('XEP-0054 vcard-temp', function (backend) {
  let server: TestServer;
  const open: TestClient[] = [];
  let serial = 0;

  const user = async (prefix: string): Promise<string> => {
    const name = `${prefix}${++serial}`;
    await server.addUser(name, PASSWORD);
    return name;
  };
  const login = async (username: string, transport: ClientTransport, resource: string = transport): Promise<TestClient> => {
    const client = await connect(server, { transport, username, password: PASSWORD, resource });
    open.push(client);
    return client;
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

  it('§3.1 Examples 1 and 4: a user without a vCard gets an empty <vCard/>', async function () {
    const stpeter = await login(await user('stpeter'), 'tcp', 'roundabout');
    const result = await stpeter.xmpp.iqCaller.request(vcardGet());
    assert.equal(result.attrs.type, 'result');
    assert.equal(result.attrs.to, stpeter.jid);
    assert.equal(result.getChildElements().map((c) => c.toString()).join(''), '<vCard xmlns="vcard-temp"/>');
  });

  it('§3.2 Examples 5-6 and §3.1 Examples 1-2: the stored vCard comes back exactly as set, over any transport', async function () {
    const name = await user('stpeter');
    const tcp = await login(name, 'tcp', 'roundabout');
    const set = await tcp.xmpp.iqCaller.request(vcardSet(STPETER));
    assert.equal(set.attrs.type, 'result');
    assert.equal(set.attrs.id, 'v2');
    assert.equal(set.getChildElements().length, 0, 'Example 6: an empty result');

    const web = await login(name, 'websocket', 'web');
    const got = (await web.xmpp.iqCaller.request(vcardGet())).getChild('vCard', VCARD);
    assert.ok(got);
    assert.equal(got.toString(), parse(STPETER).toString());
    assert.equal(got.getChildText('FN'), 'Peter Saint-Andre');
    assert.equal(got.getChild('N')?.getChildText('GIVEN'), 'Peter');

    // The own bare JID as 'to' is the same request.
    const tls = await login(name, 'tls', 'secure');
    const bare = await tls.xmpp.iqCaller.request(vcardGet(`${name}@localhost`));
    assert.equal(bare.attrs.from, `${name}@localhost`);
    assert.equal(bare.getChild('vCard', VCARD)?.toString(), parse(STPETER).toString());
  });

  it('§3.2: a set replaces the whole vCard (there are no partial updates)', async function () {
    const client = await login(await user('stpeter'), 'websocket');
    await client.xmpp.iqCaller.request(vcardSet(STPETER));
    await client.xmpp.iqCaller.request(vcardSet(`<vCard xmlns='vcard-temp'><NICKNAME>peter</NICKNAME></vCard>`));
    const got = (await client.xmpp.iqCaller.request(vcardGet())).getChild('vCard', VCARD);
    assert.equal(got?.toString(), '<vCard xmlns="vcard-temp"><NICKNAME>peter</NICKNAME></vCard>');
  });

  it('§3.3 Examples 8-9: another user reads the vCard from the bare JID; the server answers, not the client', async function () {
    const jer = await user('jer');
    const jerClient = await login(jer, 'tls', 'desk');
    await jerClient.xmpp.iqCaller.request(vcardSet(JER));
    const stpeter = await login(await user('stpeter'), 'websocket', 'roundabout');

    const result = await stpeter.xmpp.iqCaller.request(vcardGet(`${jer}@localhost`));
    assert.equal(result.attrs.type, 'result');
    assert.equal(result.attrs.from, `${jer}@localhost`);
    assert.equal(result.attrs.to, stpeter.jid);
    assert.equal(result.getChild('vCard', VCARD)?.toString(), parse(JER).toString());
    // "MUST respond on behalf of the requestor and not forward the IQ to the requestee's connected resource."
    const forwarded = await jerClient.next((s) => s.is('iq') && s.attrs.type === 'get', 300).catch(() => undefined);
    assert.equal(forwarded, undefined);
  });

  it('§3.3 Example 10: no vCard and no such user get the same service-unavailable', async function () {
    const quiet = await user('quiet');
    const stpeter = await login(await user('stpeter'), 'tcp');
    assert.deepEqual(await refusal(stpeter.xmpp.iqCaller.request(vcardGet(`${quiet}@localhost`))), { condition: 'service-unavailable', type: 'cancel' });
    assert.deepEqual(await refusal(stpeter.xmpp.iqCaller.request(vcardGet('nobody-here@localhost'))), { condition: 'service-unavailable', type: 'cancel' });
  });

  it('§3.2 Example 7: setting another user’s vCard is forbidden and changes nothing', async function () {
    const jer = await user('jer');
    await server.server.stores.module('vcard', vcardStores).set(jer, parse(JER).toString());
    const macbeth = await login(await user('macbeth'), 'websocket');
    assert.deepEqual(await refusal(macbeth.xmpp.iqCaller.request(vcardSet(STPETER, `${jer}@localhost`))), { condition: 'forbidden', type: 'auth' });
    assert.equal(await server.server.stores.module('vcard', vcardStores).get(jer), parse(JER).toString());
  });

  it(`refuses a vCard over ${MAX_VCARD_BYTES} bytes with not-acceptable and keeps the stored one`, async function () {
    const client = await login(await user('big'), 'tcp');
    const photo = (bytes: number): Element =>
      xml('vCard', { xmlns: VCARD }, xml('FN', {}, 'Big'), xml('PHOTO', {}, xml('TYPE', {}, 'image/png'), xml('BINVAL', {}, Buffer.alloc(bytes, 1).toString('base64'))));
    const fits = photo(40 * 1024);
    assert.ok(Buffer.byteLength(fits.toString()) < MAX_VCARD_BYTES);
    await client.xmpp.iqCaller.request(vcardSet(fits));

    const tooBig = photo(50 * 1024);
    assert.ok(Buffer.byteLength(tooBig.toString()) > MAX_VCARD_BYTES);
    assert.deepEqual(await refusal(client.xmpp.iqCaller.request(vcardSet(tooBig))), { condition: 'not-acceptable', type: 'modify' });
    const kept = (await client.xmpp.iqCaller.request(vcardGet())).getChild('vCard', VCARD);
    assert.equal(kept?.toString(), fits.toString());
  });

  it('§4 Examples 11-12: the server advertises vcard-temp', async function () {
    const client = await login(await user('juliet'), 'websocket', 'balcony');
    const info = await client.xmpp.iqCaller.request(xml('iq', { type: 'get', to: 'localhost', id: 'disco1' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
    const features = info.getChild('query')?.getChildren('feature').map((f) => f.attrs.var as string) ?? [];
    assert.ok(features.includes(VCARD), features.join(' '));
  });
});
