// XEP-0202 Entity Time, walked through its examples against a real server on a raw TCP stream.
import assert from 'node:assert/strict';
import { rawLogin, type RawStream } from '../../test/support/raw-stream.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { TIME, timezoneOffset } from './index.js';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

describe('XEP-0202 Entity Time', function () {
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

  it('§3 Examples 1-2: the server answers with its offset and the UTC time (XEP-0082)', async function () {
    const before = Date.now();
    romeo.write(`<iq type='get' from='${jid}' to='localhost' id='time_1'><time xmlns='${TIME}'/></iq>`);
    const result = await romeo.element('iq');
    const after = Date.now();
    assert.deepEqual(result.attrs, { type: 'result', id: 'time_1', to: jid, from: 'localhost' });
    const time = result.getChild('time', TIME);
    assert.ok(time, result.toString());
    assert.equal(time.getChildText('tzo'), timezoneOffset(new Date().getTimezoneOffset()));
    const utc = time.getChildText('utc') ?? '';
    assert.match(utc, UTC);
    const at = Date.parse(utc);
    assert.ok(at >= before && at <= after, `${utc} is not between the request and its answer`);
  });

  it('§4 Examples 3-4: disco#info lists urn:xmpp:time', async function () {
    romeo.write(`<iq type='get' to='localhost' id='disco1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const info = await romeo.element('iq');
    assert.equal(info.attrs.id, 'disco1');
    assert.ok(info.getChild('query')?.getChildren('feature').some((f) => f.attrs.var === TIME), info.toString());
  });

  it('an iq set of <time/> is refused with service-unavailable, and the stream goes on', async function () {
    romeo.write(`<iq type='set' to='localhost' id='time_2'><time xmlns='${TIME}'><utc>1970-01-01T00:00:00Z</utc></time></iq>`);
    const error = await romeo.element('iq');
    assert.equal(error.attrs.type, 'error');
    assert.equal(error.attrs.id, 'time_2');
    assert.ok(error.getChild('error')?.getChild('service-unavailable', STANZAS), error.toString());
    // Positive control on the same stream: a get still answers.
    romeo.write(`<iq type='get' to='localhost' id='time_3'><time xmlns='${TIME}'/></iq>`);
    const again = await romeo.element('iq');
    assert.equal(again.attrs.type, 'result', again.toString());
  });

  it('timezoneOffset writes XEP-0082 TZD for offsets east and west of UTC', function () {
    assert.equal(timezoneOffset(0), '+00:00');
    assert.equal(timezoneOffset(-330), '+05:30');
    assert.equal(timezoneOffset(360), '-06:00');
    assert.equal(timezoneOffset(-765), '+12:45');
  });
});
