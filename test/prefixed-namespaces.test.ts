// Namespaces are resolved at parse (src/xml/tokenizer.ts; Namespaces in XML 1.0 §6): a payload written
// with a prefix is the same element as one written with a default namespace. Over a real TCP stream,
// each request is sent twice with the same id, once each way, and the two answers must be identical:
// the roster (RFC 6121 §2), disco of the server and of the MUC service (XEP-0030, XEP-0045 §6.1-§6.3), and
// a room's disco#info and disco#items, muc#owner configuration form and muc#admin lists (XEP-0045 §6.4, §6.5,
// §10.1.3, §9.5): the MUC service's IQs go through the same registry and payload rule as the server's.
import assert from 'node:assert/strict';
import { rawLogin, type RawStream } from './support/raw-stream.js';
import { startTestServer, type TestServer } from './support/server.js';

const ROSTER = 'jabber:iq:roster';
const INFO = 'http://jabber.org/protocol/disco#info';
const ITEMS = 'http://jabber.org/protocol/disco#items';
const MUC = 'http://jabber.org/protocol/muc';
const MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
const MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';

describe('prefixed namespaces are resolved at parse', function () {
  let server: TestServer;
  let romeo: RawStream;
  let jid: string;

  before(async function () {
    server = await startTestServer({ c2s: { requireTls: false } });
    await server.addUser('romeo', 'montague');
    await server.addUser('juliet', 'capulet');
    ({ stream: romeo, jid } = await rawLogin(server.ports.c2s, 'romeo', 'montague', 'orchard'));
  });

  after(async function () {
    romeo?.destroy();
    await server?.stop();
  });

  /** The answer to an iq, as the server serialised it. */
  const ask = async (stanza: string): Promise<string> => {
    romeo.write(stanza);
    return (await romeo.element('iq')).toString();
  };

  /** Sends the request written both ways (`inner`, the payload's children, as given) and checks the answers are one and the same (and a result). */
  const same = async (to: string, type: 'get' | 'set', ns: string, id: string, inner = ''): Promise<string> => {
    const addr = to === '' ? '' : ` to='${to}'`;
    const plain = await ask(`<iq type='${type}' id='${id}'${addr}><query xmlns='${ns}'>${inner}</query></iq>`);
    const prefixed = await ask(`<iq type='${type}' id='${id}'${addr}><p:query xmlns:p='${ns}'>${inner}</p:query></iq>`);
    assert.match(plain, /^<iq [^>]*type="result"/, plain);
    assert.equal(prefixed, plain);
    return plain;
  };

  it('the roster: a prefixed get, and a prefixed set whose items are prefixed too', async function () {
    romeo.write(`<iq type='set' id='add'><r:query xmlns:r='${ROSTER}'><r:item jid='juliet@localhost' name='Juliet'><r:group>Verona</r:group></r:item></r:query></iq>`);
    const added = await romeo.element('iq');
    // The roster push comes first (RFC 6121 §2.3.2), then the result: both name the item.
    const result = added.attrs.id === 'add' ? added : await romeo.element('iq');
    assert.equal(result.attrs.type, 'result', result.toString());
    const roster = await same('', 'get', ROSTER, 'r1');
    assert.match(roster, /<item [^>]*jid="juliet@localhost"[^>]*name="Juliet"[^>]*><group>Verona<\/group><\/item>/);
  });

  it('disco#info and disco#items of the server', async function () {
    assert.match(await same('localhost', 'get', INFO, 'd1'), /<identity category="server" type="im"/);
    await same('localhost', 'get', ITEMS, 'd2');
  });

  it('disco#info and disco#items of the MUC service', async function () {
    assert.match(await same('conference.localhost', 'get', INFO, 'm1'), new RegExp(`<feature var="${MUC}"/>`));
    assert.match(await same('conference.localhost', 'get', ITEMS, 'm2'), new RegExp(`<query xmlns="${ITEMS}"`));
  });

  it('a room: disco#info and #items, the muc#owner configuration form and a muc#admin list, with a prefixed join', async function () {
    romeo.write(`<presence to='verona@conference.localhost/romeo'><m:x xmlns:m='${MUC}'/></presence>`);
    // §10.1.1: a new room; its creator is told with status 201.
    await romeo.expect(/<presence [^>]*from="verona@conference.localhost\/romeo"[^>]*>.*?<status code="201"\/>.*?<\/presence>/s);
    const form = await same('verona@conference.localhost', 'get', MUC_OWNER, 'o1');
    assert.match(form, /<x xmlns="jabber:x:data" type="form">/);
    // Submitting the default form opens the room (§10.1.3), then its disco#info answers alike.
    await same('verona@conference.localhost', 'set', MUC_OWNER, 'o2', `<x xmlns='jabber:x:data' type='submit'/>`);
    assert.match(await same('verona@conference.localhost', 'get', INFO, 'o3'), /<identity category="conference"/);
    assert.match(await same('verona@conference.localhost', 'get', ITEMS, 'o4'), /<item jid="verona@conference.localhost\/romeo"\/>/);
    assert.match(await same('verona@conference.localhost', 'get', MUC_ADMIN, 'o5', `<item affiliation='owner'/>`), /<item affiliation="owner" jid="romeo@localhost"/);
    // The public room is now in the service's disco#items.
    assert.match(await same('conference.localhost', 'get', ITEMS, 'o6'), /<item jid="verona@conference.localhost"\/>/);
  });

  it('positive control: an answer that differs is seen as different', async function () {
    const info = await ask(`<iq type='get' id='c1' to='localhost'><query xmlns='${INFO}'/></iq>`);
    const items = await ask(`<iq type='get' id='c1' to='localhost'><p:query xmlns:p='${ITEMS}'/></iq>`);
    assert.notEqual(items, info);
    assert.ok(jid.startsWith('romeo@localhost/'));
  });
});
