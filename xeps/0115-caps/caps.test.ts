// XEP-0115 Entity Capabilities of the server: the stream feature (§6.3), the caps node answering disco#info
// (§6.2) with a 'ver' that recomputes from what disco#info says (§5.4), support advertised (§7), and client
// caps carried through presence untouched (§6.1); real xmpp.js clients and a raw TCP stream, both back ends.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { parse, type Element } from 'ltx';
import type { RosterItem } from '../../src/storage/types.js';
import { describeBackends } from '../../test/support/backends.js';
import { connect, type ClientTransport, type TestClient } from '../../test/support/clients.js';
import { plainAuth, RawStream, STREAM_HEADER } from '../../test/support/raw-stream.js';
import type { TestServer } from '../../test/support/server.js';
import { CAPS_NODE } from './index.js';
import { verificationString } from './ver.js';

const CAPS = 'http://jabber.org/protocol/caps';
const INFO = 'http://jabber.org/protocol/disco#info';
const PASSWORD = 'secret';

const infoGet = (id: string, node?: string): Element => xml('iq', { type: 'get', id, to: 'localhost' }, xml('query', node === undefined ? { xmlns: INFO } : { xmlns: INFO, node }));

/** §5.4 step 3.7: the verification string recomputed from a disco#info answer. */
function recompute(query: Element): string {
  const identities = query.getChildren('identity').map((i) => ({
    category: String(i.attrs.category),
    type: String(i.attrs.type),
    lang: i.attrs['xml:lang'] as string | undefined,
    name: i.attrs.name as string | undefined,
  }));
  const features = query.getChildren('feature').map((f) => String(f.attrs.var));
  assert.equal(new Set(features).size, features.length, '§5.4 step 3.4: no feature twice');
  return verificationString(identities, features);
}

async function refusal(request: Promise<unknown>): Promise<string> {
  try {
    await request;
  } catch (err) {
    const condition = (err as { condition?: unknown }).condition;
    if (typeof condition === 'string') return condition;
    throw err;
  }
  throw new Error('the request succeeded');
}

describeBackends('XEP-0115 Entity Capabilities', function (backend) {
  let server: TestServer;
  const open: TestClient[] = [];
  const raws: RawStream[] = [];
  let serial = 0;

  const users = async (...prefixes: string[]): Promise<string[]> => {
    const names = prefixes.map((p) => `${p}${++serial}`);
    for (const name of names) await server.addUser(name, PASSWORD);
    return names;
  };
  const login = async (username: string, transport: ClientTransport, resource: string): Promise<TestClient> => {
    const client = await connect(server, { transport, username, password: PASSWORD, resource });
    open.push(client);
    return client;
  };
  /** The stream features before and after authentication, as a raw TCP client reads them. */
  const streamFeatures = async (username: string): Promise<{ before: Element; after: Element }> => {
    const stream = await RawStream.connect(server.ports.c2s);
    raws.push(stream);
    stream.write(STREAM_HEADER());
    const [before] = await stream.expect(/<stream:features>.*?<\/stream:features>/s);
    stream.write(plainAuth(username, PASSWORD));
    await stream.expect(/<success[^>]*\/>/);
    stream.write(STREAM_HEADER());
    const [after] = await stream.expect(/<stream:features>.*?<\/stream:features>/s);
    const asElement = (text: string): Element => parse(text.replace('<stream:features>', `<stream:features xmlns:stream='http://etherx.jabber.org/streams'>`));
    return { before: asElement(before), after: asElement(after) };
  };

  before(async function () {
    server = await backend.start({ c2s: { requireTls: false } });
  });
  afterEach(async function () {
    for (const raw of raws.splice(0)) raw.destroy();
    await Promise.all(open.splice(0).map((c) => c.stop()));
  });
  after(async function () {
    await server?.stop();
  });

  it('§6.3 Example 5: the server puts its caps in the stream features after authentication; the ver is that of its disco#info (§5.4)', async function () {
    const [romeo] = (await users('romeo')) as [string];
    const { before, after } = await streamFeatures(romeo);
    assert.equal(before.getChild('c', CAPS), undefined, 'not before authentication');
    const c = after.getChild('c', CAPS);
    assert.ok(c, after.toString());
    assert.equal(c.attrs.hash, 'sha-1');
    assert.equal(c.attrs.node, CAPS_NODE);

    const client = await login(romeo, 'websocket', 'orchard');
    const query = (await client.xmpp.iqCaller.request(infoGet('disco1'))).getChild('query', INFO);
    assert.ok(query);
    assert.equal(c.attrs.ver, recompute(query));
  });

  it('§6.2 Examples 3-4: disco#info on <node>#<ver> answers what disco#info answers, node included', async function () {
    const [juliet] = (await users('juliet')) as [string];
    const { after } = await streamFeatures(juliet);
    const ver = String(after.getChild('c', CAPS)?.attrs.ver);
    const client = await login(juliet, 'tls', 'balcony');
    const plain = (await client.xmpp.iqCaller.request(infoGet('disco1'))).getChild('query', INFO);
    const result = await client.xmpp.iqCaller.request(infoGet('disco2', `${CAPS_NODE}#${ver}`));
    assert.equal(result.attrs.from, 'localhost');
    const query = result.getChild('query', INFO);
    assert.ok(plain && query, result.toString());
    assert.equal(query.attrs.node, `${CAPS_NODE}#${ver}`);
    assert.deepEqual(query.getChildElements().map((e) => e.toString()), plain.getChildElements().map((e) => e.toString()));
    assert.equal(recompute(query), ver);

    // Any other node, including a stale ver, is still unknown (XEP-0030 §7).
    assert.equal(await refusal(client.xmpp.iqCaller.request(infoGet('disco3', `${CAPS_NODE}#QgayPKawpkPSDYmwT/WM94uAlu0=`))), 'item-not-found');
    assert.equal(await refusal(client.xmpp.iqCaller.request(infoGet('disco4', 'http://example.org/other'))), 'item-not-found');
  });

  it('§7 Examples 6-7: the server advertises caps support (and no caps#optimize, which it does not do)', async function () {
    const [romeo] = (await users('romeo')) as [string];
    const client = await login(romeo, 'tcp', 'orchard');
    const features = (await client.xmpp.iqCaller.request(infoGet('disco2'))).getChild('query', INFO)?.getChildren('feature').map((f) => f.attrs.var as string) ?? [];
    assert.ok(features.includes(CAPS), features.join(' '));
    assert.ok(!features.includes(`${CAPS}#optimize`));
  });

  it('§6.1 Example 1: caps in a client’s presence reach its contacts untouched', async function () {
    const [juliet, romeo] = (await users('juliet', 'romeo')) as [string, string];
    const both = (jid: string): RosterItem => ({ jid, subscription: 'both', ask: false, approved: false, groups: [] });
    await server.server.stores.roster.setItem(juliet, both(`${romeo}@localhost`));
    await server.server.stores.roster.setItem(romeo, both(`${juliet}@localhost`));
    const julietClient = await login(juliet, 'websocket', 'balcony');
    await julietClient.xmpp.send(xml('presence'));
    const romeoClient = await login(romeo, 'tls', 'orchard');

    const caps = xml('c', { xmlns: CAPS, hash: 'sha-1', node: 'http://code.google.com/p/exodus', ver: 'QgayPKawpkPSDYmwT/WM94uAlu0=' });
    await romeoClient.xmpp.send(xml('presence', {}, caps));
    const seen = await julietClient.next((s) => s.is('presence') && s.attrs.from === romeoClient.jid);
    assert.equal(seen.getChild('c', CAPS)?.toString(), caps.toString());
  });
});
