// XEP-0092 Software Version, walked through its own examples against a real server on a raw
// TCP stream. The server answers for itself; the operating system is deliberately left out (§5).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rawLogin, type RawStream } from '../../test/support/raw-stream.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';

const VERSION = 'jabber:iq:version';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

const packageVersion = (): string => {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  if (pkg && typeof pkg === 'object' && 'version' in pkg && typeof pkg.version === 'string') return pkg.version;
  throw new Error('package.json has no version');
};

describe('XEP-0092 Software Version', function () {
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

  it('§3 Examples 1-2: the server answers with its name and version, and no <os/>', async function () {
    romeo.write(`<iq type='get' from='${jid}' to='localhost' id='version_1'><query xmlns='${VERSION}'/></iq>`);
    const result = await romeo.element('iq');
    assert.equal(
      result.toString(),
      `<iq type="result" id="version_1" to="${jid}" from="localhost"><query xmlns="${VERSION}"><name>Ratatosk</name><version>${packageVersion()}</version></query></iq>`,
    );
  });

  it('§4 Examples 3-4: the server advertises jabber:iq:version in disco#info', async function () {
    romeo.write(`<iq type='get' to='localhost' id='disco1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const info = await romeo.element('iq');
    assert.equal(info.attrs.id, 'disco1');
    assert.ok(info.getChild('query')?.getChildren('feature').some((f) => f.attrs.var === VERSION), info.toString());
  });

  it('an iq set of jabber:iq:version is refused with service-unavailable (§3, XEP-0086)', async function () {
    romeo.write(`<iq type='set' to='localhost' id='version_2'><query xmlns='${VERSION}'><name>Evil</name></query></iq>`);
    const error = await romeo.element('iq');
    assert.equal(error.attrs.type, 'error');
    assert.equal(error.attrs.id, 'version_2');
    assert.ok(error.getChild('error')?.getChild('service-unavailable', STANZAS), error.toString());
  });
});
