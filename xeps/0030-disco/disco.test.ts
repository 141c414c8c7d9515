// XEP-0030 Service Discovery, walked through its own examples against a real server on a raw
// TCP stream: the requests are the spec's, with its addresses replaced by ours.
import assert from 'node:assert/strict';
import type { Element } from 'ltx';
import { rawLogin, type RawStream } from '../../test/support/raw-stream.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';

const INFO = 'http://jabber.org/protocol/disco#info';
const ITEMS = 'http://jabber.org/protocol/disco#items';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

describe('XEP-0030 Service Discovery', function () {
  let server: TestServer;
  let romeo: RawStream;
  let jid: string;

  before(async function () {
    server = await startTestServer({ c2s: { requireTls: false } });
    await server.addUser('romeo', 'montague');
    ({ stream: romeo, jid } = await rawLogin(server.ports.c2s, 'romeo', 'montague', 'orchard'));
  });

  after(async function () {
    romeo?.destroy();
    await server?.stop();
  });

  const features = (query: Element): string[] => query.getChildren('feature').map((f) => f.attrs.var as string);

  it('§3.1 Examples 1-2: the server answers disco#info with identity server/im and the features its modules registered', async function () {
    romeo.write(`<iq type='get' from='${jid}' to='localhost' id='info1'><query xmlns='${INFO}'/></iq>`);
    const result = await romeo.element('iq');
    assert.deepEqual(result.attrs, { type: 'result', id: 'info1', to: jid, from: 'localhost' });
    const query = result.getChild('query', INFO);
    assert.ok(query, `no disco#info query in ${result.toString()}`);
    const identities = query.getChildren('identity').map((i) => ({ ...i.attrs }));
    assert.deepEqual(identities[0], { category: 'server', type: 'im', name: 'Ratatosk' });
    // Every entity supports at least disco#info (§3.1); ping and version come from their modules.
    const advertised = features(query);
    for (const f of [INFO, ITEMS, 'jabber:iq:version', 'urn:xmpp:ping']) assert.ok(advertised.includes(f), `missing feature ${f}`);
    // The answer is what the modules registered, each feature once (§3.1: "one or more <feature/>").
    assert.deepEqual(advertised, server.server.disco.listFeatures('localhost'));
    assert.equal(new Set(advertised).size, advertised.length);
  });

  it('§4.1 Examples 11 and 13: the server answers with the items its modules registered (the MUC and upload services)', async function () {
    const registered = server.server.disco.listItems('localhost');
    for (const service of ['conference.localhost', 'upload.localhost']) assert.ok(registered.some((i) => i.jid === service), `${service} not registered`);
    romeo.write(`<iq type='get' from='${jid}' to='localhost' id='items1'><query xmlns='${ITEMS}'/></iq>`);
    const result = await romeo.element('iq');
    assert.equal(result.attrs.type, 'result');
    assert.equal(result.attrs.id, 'items1');
    assert.equal(result.attrs.from, 'localhost');
    const items = result.getChild('query', ITEMS)?.getChildren('item').map((i) => ({ ...i.attrs })) ?? [];
    // Exactly what the modules registered, in order, each once (§4.1).
    assert.deepEqual(items, registered.map((i) => (i.name === undefined ? { jid: i.jid } : { jid: i.jid, name: i.name })));
  });

  it('§3.2 and §7: a node the server does not know is item-not-found (type cancel)', async function () {
    romeo.write(`<iq type='get' to='localhost' id='info3'><query xmlns='${INFO}' node='urn:example:no-such-node'/></iq>`);
    const info = await romeo.element('iq');
    assert.equal(info.attrs.type, 'error');
    assert.equal(info.attrs.id, 'info3');
    assert.equal(info.attrs.from, 'localhost');
    assert.equal(info.getChild('error')?.attrs.type, 'cancel');
    assert.ok(info.getChild('error')?.getChild('item-not-found', STANZAS), info.toString());

    romeo.write(`<iq type='get' to='localhost' id='items2'><query xmlns='${ITEMS}' node='music'/></iq>`);
    const items = await romeo.element('iq');
    assert.equal(items.attrs.id, 'items2');
    assert.ok(items.getChild('error')?.getChild('item-not-found', STANZAS), items.toString());
  });

  it('§3.1 Examples 5-6: disco#info to the own bare JID is account/registered', async function () {
    romeo.write(`<iq type='get' to='romeo@localhost' id='info2'><query xmlns='${INFO}'/></iq>`);
    const result = await romeo.element('iq');
    assert.equal(result.attrs.type, 'result');
    assert.equal(result.attrs.id, 'info2');
    assert.equal(result.attrs.from, 'romeo@localhost');
    assert.equal(result.attrs.to, jid);
    const query = result.getChild('query', INFO);
    assert.ok(query, result.toString());
    // account/registered, then what modules registered for every account (XEP-0163 PEP: pubsub/pep).
    assert.deepEqual(query.getChildren('identity').map((i) => ({ ...i.attrs })), [{ category: 'account', type: 'registered' }, ...server.server.disco.listAccountIdentities()]);
    assert.ok(server.server.disco.listAccountIdentities().some((i) => i.category === 'pubsub' && i.type === 'pep'), 'a module registered an account identity: this test needs updating');
    // And what modules registered for every account (XEP-0280 Carbons).
    assert.deepEqual(features(query), [INFO, ...server.server.disco.listAccountFeatures()]);
    assert.ok(features(query).includes('urn:xmpp:carbons:2'), 'a module registered an account feature: this test needs updating');
  });

  it('§3.1: disco#info with no "to" is answered for the own account', async function () {
    romeo.write(`<iq type='get' id='info4'><query xmlns='${INFO}'/></iq>`);
    const result = await romeo.element('iq');
    assert.equal(result.attrs.type, 'result');
    assert.equal(result.attrs.id, 'info4');
    assert.equal(result.getChild('query', INFO)?.getChild('identity')?.attrs.category, 'account');
  });

  it('§3.1 Example 4: disco#info to an account that does not exist is service-unavailable (existence is not divulged)', async function () {
    romeo.write(`<iq type='get' to='nobody@localhost' id='info5'><query xmlns='${INFO}'/></iq>`);
    const result = await romeo.element('iq');
    assert.equal(result.attrs.type, 'error');
    assert.equal(result.attrs.id, 'info5');
    assert.equal(result.attrs.from, 'nobody@localhost');
    assert.ok(result.getChild('error')?.getChild('service-unavailable', STANZAS), result.toString());
  });
});
