// XEP-0049 Private XML Storage walked through its own examples, with real xmpp.js clients over TCP,
// direct TLS and WebSocket, on both storage back ends.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { parse, type Element } from 'ltx';
import { describeBackends } from '../../test/support/backends.js';
import { connect, type ClientTransport, type TestClient } from '../../test/support/clients.js';
import type { TestServer } from '../../test/support/server.js';

const PRIVATE = 'jabber:iq:private';
const PASSWORD = 'secret';

const privateIq = (type: 'get' | 'set', id: string, content: string, to?: string): Element =>
  parse(`<iq type='${type}' id='${id}'${to === undefined ? '' : ` to='${to}'`}><query xmlns='${PRIVATE}'>${content}</query></iq>`);

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

/** The children of the result's query, serialised. */
const answered = (result: Element): string[] => (result.getChild('query', PRIVATE)?.getChildElements() ?? []).map((c) => c.toString());

describeBackends('XEP-0049 Private XML Storage', function (backend) {
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

  it('§2.3 Examples 1-2: stores a fragment and returns it, also to another session of the user', async function () {
    const hamlet = await user('hamlet');
    const tcp = await login(hamlet, 'tcp', 'denmark');
    const stored = await tcp.xmpp.iqCaller.request(privateIq('set', '1001', `<exodus xmlns="exodus:prefs"><defaultnick>Hamlet</defaultnick></exodus>`));
    assert.equal(stored.attrs.type, 'result');
    assert.equal(stored.attrs.id, '1001');
    assert.equal(stored.getChildElements().length, 0);

    const web = await login(hamlet, 'websocket', 'elsinore');
    const result = await web.xmpp.iqCaller.request(privateIq('get', '1002', `<exodus xmlns="exodus:prefs"/>`));
    assert.equal(result.attrs.id, '1002');
    assert.deepEqual(answered(result), ['<exodus xmlns="exodus:prefs"><defaultnick>Hamlet</defaultnick></exodus>']);
  });

  it('§2.3: a fragment never stored comes back as the empty element asked for', async function () {
    const client = await login(await user('hamlet'), 'tls');
    const result = await client.xmpp.iqCaller.request(privateIq('get', 'g1', `<storage xmlns="storage:bookmarks"/>`));
    assert.deepEqual(answered(result), ['<storage xmlns="storage:bookmarks"/>']);
  });

  it('§2.3: keeps fragments apart by element name and namespace, and replaces one on a new set', async function () {
    const client = await login(await user('hamlet'), 'websocket');
    await client.xmpp.iqCaller.request(privateIq('set', 's1', `<storage xmlns="storage:bookmarks"><conference jid="elsinore@conference.localhost"/></storage>`));
    await client.xmpp.iqCaller.request(privateIq('set', 's2', `<storage xmlns="storage:rosternotes"><note jid="ophelia@localhost">fair</note></storage>`));
    await client.xmpp.iqCaller.request(privateIq('set', 's3', `<prefs xmlns="storage:bookmarks"/>`));
    await client.xmpp.iqCaller.request(privateIq('set', 's4', `<storage xmlns="storage:bookmarks"><conference jid="wittenberg@conference.localhost"/></storage>`));

    assert.deepEqual(answered(await client.xmpp.iqCaller.request(privateIq('get', 'g1', `<storage xmlns="storage:bookmarks"/>`))), [
      '<storage xmlns="storage:bookmarks"><conference jid="wittenberg@conference.localhost"/></storage>',
    ]);
    assert.deepEqual(answered(await client.xmpp.iqCaller.request(privateIq('get', 'g2', `<storage xmlns="storage:rosternotes"/>`))), [
      '<storage xmlns="storage:rosternotes"><note jid="ophelia@localhost">fair</note></storage>',
    ]);
    assert.deepEqual(answered(await client.xmpp.iqCaller.request(privateIq('get', 'g3', `<prefs xmlns="storage:bookmarks"/>`))), ['<prefs xmlns="storage:bookmarks"/>']);
  });

  it('§2.3: "an IQ set or result MAY contain multiple elements qualified by the same namespace"', async function () {
    const client = await login(await user('hamlet'), 'tcp');
    await client.xmpp.iqCaller.request(privateIq('set', 's1', `<a xmlns="urn:example:prefs">1</a><b xmlns="urn:example:prefs">2</b>`));
    const result = await client.xmpp.iqCaller.request(privateIq('get', 'g1', `<a xmlns="urn:example:prefs"/><b xmlns="urn:example:prefs"/><c xmlns="urn:example:prefs"/>`));
    assert.deepEqual(answered(result), ['<a xmlns="urn:example:prefs">1</a>', '<b xmlns="urn:example:prefs">2</b>', '<c xmlns="urn:example:prefs"/>']);
    // "A client MUST NOT query for more than one namespace in a single IQ get request."
    assert.deepEqual(await refusal(client.xmpp.iqCaller.request(privateIq('get', 'g2', `<a xmlns="urn:example:prefs"/><storage xmlns="storage:bookmarks"/>`))), { condition: 'bad-request', type: 'modify' });
  });

  it('stores a fragment whose root uses a prefix declared on the query, so that it reads back on its own', async function () {
    const client = await login(await user('hamlet'), 'websocket');
    await client.xmpp.iqCaller.request(parse(`<iq type='set' id='p1'><query xmlns='${PRIVATE}' xmlns:ex='exodus:prefs'><ex:exodus><ex:defaultnick>Hamlet</ex:defaultnick></ex:exodus></query></iq>`));
    const result = await client.xmpp.iqCaller.request(privateIq('get', 'p2', `<exodus xmlns="exodus:prefs"/>`));
    const [fragment] = result.getChild('query', PRIVATE)?.getChildElements() ?? [];
    assert.ok(fragment, result.toString());
    assert.equal(fragment.getName(), 'exodus');
    assert.equal(fragment.getNS(), 'exodus:prefs');
    assert.equal(fragment.getChildElements()[0]?.getNS(), 'exodus:prefs');
    assert.equal(fragment.getChildElements()[0]?.getText(), 'Hamlet');
  });

  it('§2.3 Example 3: reading or writing another user’s data is forbidden', async function () {
    const hamlet = await user('hamlet');
    const hamletClient = await login(hamlet, 'tcp', 'denmark');
    await hamletClient.xmpp.iqCaller.request(privateIq('set', 's1', `<exodus xmlns="exodus:prefs"><defaultnick>Hamlet</defaultnick></exodus>`));
    const macbeth = await login(await user('macbeth'), 'tls', 'scotland');

    const set = privateIq('set', '1003', `<exodus xmlns="exodus:prefs"><defaultnick>Macbeth</defaultnick></exodus>`, `${hamlet}@localhost`);
    assert.deepEqual(await refusal(macbeth.xmpp.iqCaller.request(set)), { condition: 'forbidden', type: 'auth' });
    assert.deepEqual(await refusal(macbeth.xmpp.iqCaller.request(privateIq('get', 'g1', `<exodus xmlns="exodus:prefs"/>`, `${hamlet}@localhost`))), { condition: 'forbidden', type: 'auth' });
    assert.deepEqual(await refusal(macbeth.xmpp.iqCaller.request(privateIq('get', 'g2', `<exodus xmlns="exodus:prefs"/>`, 'localhost'))), { condition: 'forbidden', type: 'auth' });
    assert.deepEqual(answered(await hamletClient.xmpp.iqCaller.request(privateIq('get', 'g3', `<exodus xmlns="exodus:prefs"/>`))), [
      '<exodus xmlns="exodus:prefs"><defaultnick>Hamlet</defaultnick></exodus>',
    ]);
  });

  it('§2.3 Example 4: a query without a child element of its own namespace is not-acceptable', async function () {
    const client = await login(await user('hamlet'), 'websocket');
    for (const [id, type, content] of [
      ['1004', 'set', ''],
      ['e2', 'get', ''],
      ['e3', 'set', '<exodus><defaultnick>Hamlet</defaultnick></exodus>'],
      ['e4', 'get', '<exodus/>'],
      ['e5', 'set', `<query xmlns="${PRIVATE}"/>`],
      ['e6', 'set', '<ok xmlns="urn:example:prefs"/><bad/>'],
    ] as const) {
      assert.deepEqual(await refusal(client.xmpp.iqCaller.request(privateIq(type, id, content))), { condition: 'not-acceptable', type: 'modify' }, `${type} ${content}`);
    }
    // Nothing of a refused set was kept.
    assert.deepEqual(answered(await client.xmpp.iqCaller.request(privateIq('get', 'g1', '<ok xmlns="urn:example:prefs"/>'))), ['<ok xmlns="urn:example:prefs"/>']);
  });

  it('§2.3 Example 5: reserved namespaces are stored like any other (the error is optional)', async function () {
    const client = await login(await user('hamlet'), 'tcp');
    await client.xmpp.iqCaller.request(privateIq('set', '1005', `<vCard xmlns="vcard-temp"><FN>Hamlet</FN></vCard>`));
    assert.deepEqual(answered(await client.xmpp.iqCaller.request(privateIq('get', 'g1', '<vCard xmlns="vcard-temp"/>'))), ['<vCard xmlns="vcard-temp"><FN>Hamlet</FN></vCard>']);
    // The vCard of XEP-0054 is a different thing.
    const vcard = await client.xmpp.iqCaller.request(xml('iq', { type: 'get' }, xml('vCard', { xmlns: 'vcard-temp' })));
    assert.equal(vcard.getChild('vCard')?.toString(), '<vCard xmlns="vcard-temp"/>');
  });
});
