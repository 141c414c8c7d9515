// XEP-0363 HTTP File Upload against a real server: xmpp.js clients discover the service (§3) and ask for slots
// (§4, §5); Node's fetch PUTs and GETs over the real HTTP port (§6). Every refused PUT leaves nothing stored,
// and the same slot then takes the right PUT (the positive control).
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { connect, type TestClient } from '../../test/support/clients.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { UploadFiles } from './files.js';
import { signedQuery, type Slot } from './slots.js';

const NS_UPLOAD = 'urn:xmpp:http:upload:0';
const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const MAX = 1000;
const QUOTA = 2500;

let counter = 0;
/** Sends an iq and resolves with the answer, result or error, as the client received it. */
async function iq(client: TestClient, type: 'get' | 'set', to: string, payload: Element): Promise<Element> {
  const id = `up${++counter}`;
  const answer = client.next((s) => s.is('iq') && s.attrs.id === id);
  await client.xmpp.send(xml('iq', { type, to, id }, payload));
  return answer;
}

const request = (attrs: Record<string, string>): Element => xml('request', { xmlns: NS_UPLOAD, ...attrs });
const condition = (stanza: Element): string | undefined => stanza.getChild('error')?.children.find((c): c is Element => typeof c !== 'string' && c.attrs.xmlns === STANZAS && c.name !== 'text')?.name;

interface Granted {
  put: string;
  get: string;
}

async function slot(client: TestClient, attrs: Record<string, string>): Promise<Granted> {
  const answer = await iq(client, 'get', 'upload.localhost', request(attrs));
  assert.equal(answer.attrs.type, 'result', answer.toString());
  const granted = answer.getChild('slot', NS_UPLOAD);
  const put = granted?.getChild('put')?.attrs.url;
  const get = granted?.getChild('get')?.attrs.url;
  assert.ok(put && get, answer.toString());
  return { put, get };
}

const put = (url: string, body: Buffer, type?: string, length = body.length): Promise<Response> =>
  fetch(url, { method: 'PUT', body, headers: { 'Content-Length': String(length), ...(type === undefined ? {} : { 'Content-Type': type }) } });

describe('XEP-0363 HTTP File Upload', function () {
  this.timeout(30_000);
  let server: TestServer;
  let alice: TestClient;
  let carol: TestClient;
  let directory: string;

  before(async function () {
    server = await startTestServer({ publicHost: '127.0.0.1', c2s: { requireTls: false }, upload: { maxFileSize: MAX, quotaPerUser: QUOTA } });
    await server.addUser('alice', 'secret');
    await server.addUser('carol', 'secret');
    alice = await connect(server, { transport: 'tcp', username: 'alice', password: 'secret' });
    carol = await connect(server, { transport: 'websocket', username: 'carol', password: 'secret' });
    directory = join(server.config.dataDir, 'upload');
  });

  after(async function () {
    await alice?.stop();
    await carol?.stop();
    await server?.stop();
  });

  it('§3: the server lists upload.localhost; its disco#info has store/file, the feature and max-file-size', async function () {
    const items = await iq(alice, 'get', 'localhost', xml('query', { xmlns: 'http://jabber.org/protocol/disco#items' }));
    const item = items.getChild('query')?.getChildren('item').find((i) => i.attrs.jid === 'upload.localhost');
    assert.equal(item?.attrs.name, 'HTTP File Upload');
    const info = (await iq(alice, 'get', 'upload.localhost', xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }))).getChild('query');
    assert.ok(info);
    assert.deepEqual(info.getChildren('identity').map((i) => `${i.attrs.category}/${i.attrs.type}`), ['store/file']);
    assert.ok(info.getChildren('feature').some((f) => f.attrs.var === NS_UPLOAD));
    const fields = info.getChild('x', 'jabber:x:data')?.getChildren('field') ?? [];
    assert.equal(fields.find((f) => f.attrs.var === 'FORM_TYPE')?.getChildText('value'), NS_UPLOAD);
    assert.equal(fields.find((f) => f.attrs.var === 'max-file-size')?.getChildText('value'), String(MAX));
  });

  it('§4, §6: slot, PUT, then GET gives the same bytes with type, length, cache and security headers; HEAD, 304, 404', async function () {
    const image = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 7) % 256));
    const granted = await slot(alice, { filename: 'my juliet.png', size: String(image.length), 'content-type': 'image/png' });
    assert.match(granted.get, /^http:\/\/127\.0\.0\.1:\d+\/upload\/[A-Za-z0-9_-]{22}\/my%20juliet\.png$/);
    assert.ok(granted.put.startsWith(`${granted.get}?`));
    assert.equal((await fetch(granted.get)).status, 404, 'nothing to GET before the PUT');

    const created = await put(granted.put, image, 'image/png');
    assert.equal(created.status, 201, await created.text());

    const got = await fetch(granted.get);
    assert.equal(got.status, 200);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), image);
    assert.equal(got.headers.get('content-type'), 'image/png');
    assert.equal(got.headers.get('content-length'), '600');
    assert.equal(got.headers.get('x-content-type-options'), 'nosniff');
    assert.match(got.headers.get('cache-control') ?? '', /^public, max-age=\d+, immutable$/);
    assert.match(got.headers.get('content-disposition') ?? '', /^inline; filename\*=UTF-8''my%20juliet\.png$/);
    const etag = got.headers.get('etag');
    assert.ok(etag);
    assert.equal((await fetch(granted.get, { headers: { 'If-None-Match': etag } })).status, 304);
    const head = await fetch(granted.get, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '600');

    // Other names for the same slot, and unknown slots, are not found.
    assert.equal((await fetch(granted.get.replace('my%20juliet.png', 'other.png'))).status, 404);
    assert.equal((await fetch(granted.get.replace(/upload\/[^/]+/, 'upload/AAAAAAAAAAAAAAAAAAAAAA'))).status, 404);
    // A slot takes one upload.
    assert.equal((await put(granted.put, image, 'image/png')).status, 409);
  });

  it('RFC 9110 §14: one byte range is 206 with Content-Range; a suffix, an open end, If-Range; several ranges or a bad header give the whole file; past the end is 416', async function () {
    // A user of its own, so that the quota tests below find alice's and carol's usage as they expect.
    await server.addUser('dave', 'secret');
    const dave = await connect(server, { transport: 'tcp', username: 'dave', password: 'secret' });
    const video = Buffer.from(Array.from({ length: 900 }, (_, i) => (i * 13) % 256));
    const granted = await slot(dave, { filename: 'clip.webm', size: String(video.length), 'content-type': 'video/webm' });
    await dave.stop();
    assert.equal((await put(granted.put, video, 'video/webm')).status, 201);
    const ranged = (range: string, extra: Record<string, string> = {}, method = 'GET'): Promise<Response> => fetch(granted.get, { method, headers: { Range: range, ...extra } });

    const whole = await fetch(granted.get);
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    const etag = whole.headers.get('etag') ?? '';
    const lastModified = whole.headers.get('last-modified') ?? '';
    await whole.arrayBuffer();

    for (const [range, start, end] of [['bytes=0-99', 0, 99], ['bytes=850-', 850, 899], ['bytes=-50', 850, 899], ['bytes=800-5000', 800, 899], ['bytes=-5000', 0, 899], ['BYTES = 10-10', 10, 10]] as const) {
      const part = await ranged(range);
      assert.equal(part.status, 206, range);
      assert.equal(part.headers.get('content-range'), `bytes ${start}-${end}/900`, range);
      assert.equal(part.headers.get('content-length'), String(end - start + 1), range);
      assert.equal(part.headers.get('content-type'), 'video/webm', range);
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), video.subarray(start, end + 1), range);
    }
    const head = await ranged('bytes=100-199', {}, 'HEAD');
    assert.equal(head.status, 206);
    assert.equal(head.headers.get('content-range'), 'bytes 100-199/900');

    // If-Range: the current ETag or Last-Modified honours the range; another validator gets the whole file.
    assert.equal((await ranged('bytes=0-9', { 'If-Range': etag })).status, 206);
    assert.equal((await ranged('bytes=0-9', { 'If-Range': lastModified })).status, 206);
    for (const validator of ['"another"', `W/${etag}`, 'Mon, 01 Jan 2024 00:00:00 GMT']) {
      const full = await ranged('bytes=0-9', { 'If-Range': validator });
      assert.equal(full.status, 200, validator);
      assert.equal((await full.arrayBuffer()).byteLength, 900, validator);
    }
    // Ignored (§14.2): several ranges, another unit, nonsense, a reversed range.
    for (const range of ['bytes=0-9,20-29', 'items=0-9', 'bytes=x-9', 'bytes=9-0', 'bytes=5000-100', 'bytes=-']) {
      const full = await ranged(range);
      assert.equal(full.status, 200, range);
      assert.deepEqual(Buffer.from(await full.arrayBuffer()), video, range);
    }
    // §15.5.17: none of the bytes exist.
    for (const range of ['bytes=900-', 'bytes=5000-6000', 'bytes=-0']) {
      const none = await ranged(range);
      assert.equal(none.status, 416, range);
      assert.equal(none.headers.get('content-range'), 'bytes */900', range);
      assert.equal((await none.arrayBuffer()).byteLength, 0, range);
    }
  });

  it('a file that is not an image is offered as an attachment', async function () {
    const page = Buffer.from('<script>alert(1)</script>');
    const granted = await slot(alice, { filename: 'page.html', size: String(page.length), 'content-type': 'text/html' });
    assert.equal((await put(granted.put, page, 'text/html')).status, 201);
    const got = await fetch(granted.get);
    assert.equal(got.headers.get('content-type'), 'text/html');
    assert.match(got.headers.get('content-disposition') ?? '', /^attachment; /);
    assert.match(got.headers.get('content-security-policy') ?? '', /sandbox/);
  });

  it('§5: a request over the cap is not-acceptable with file-too-large and the limit', async function () {
    const answer = await iq(alice, 'get', 'upload.localhost', request({ filename: 'big.bin', size: String(MAX + 1) }));
    assert.equal(answer.attrs.type, 'error');
    assert.equal(answer.getChild('error')?.attrs.type, 'modify');
    assert.equal(condition(answer), 'not-acceptable');
    assert.equal(answer.getChild('error')?.getChild('file-too-large', NS_UPLOAD)?.getChildText('max-file-size'), String(MAX));
    // Positive control: the cap itself is fine.
    await slot(alice, { filename: 'exact.bin', size: String(MAX) });
  });

  it('bad requests are bad-request; messages to the service are service-unavailable', async function () {
    const bad: Record<string, string>[] = [{ filename: 'a.txt' }, { size: '3' }, { filename: 'a.txt', size: '-1' }, { filename: 'a.txt', size: '1e3' }, { filename: '../', size: '3' }, { filename: 'a.txt', size: '3', 'content-type': 'not a type' }];
    for (const attrs of bad) {
      const answer = await iq(alice, 'get', 'upload.localhost', request(attrs));
      assert.equal(condition(answer), 'bad-request', JSON.stringify(attrs));
    }
    const id = 'msg1';
    const bounced = alice.next((s) => s.is('message') && s.attrs.id === id);
    await alice.xmpp.send(xml('message', { to: 'upload.localhost', id, type: 'chat' }, xml('body', {}, 'hello?')));
    assert.equal(condition(await bounced), 'service-unavailable');
  });

  it('§6: a PUT with the wrong size, type, signature or an expired URL gets a 4xx and stores nothing', async function () {
    const body = Buffer.from('hello, world\n');
    const granted = await slot(alice, { filename: 'hello.txt', size: String(body.length), 'content-type': 'text/plain' });
    const storedBefore = await readdir(join(directory, 'files'));

    assert.equal((await put(granted.put, Buffer.concat([body, Buffer.from('!')]), 'text/plain')).status, 400, 'one byte more');
    assert.equal((await put(granted.put, body.subarray(1), 'text/plain')).status, 400, 'one byte less');
    assert.equal((await put(granted.put, body, 'text/html')).status, 415, 'another type');
    assert.equal((await put(granted.put, body)).status, 415, 'no type');
    assert.equal((await put(granted.put.replace(/size=\d+/, 'size=14'), Buffer.concat([body, Buffer.from('!')]), 'text/plain')).status, 403, 'size changed in the URL');
    assert.equal((await put(granted.put.replace(/sig=[^&]+/, 'sig=AAAA'), body, 'text/plain')).status, 403, 'bad signature');
    assert.equal((await put(granted.put.split('?')[0] ?? '', body, 'text/plain')).status, 403, 'no signature');

    // An expired URL signed with the real secret: only the expiry is wrong.
    const secret = Buffer.from((await readFile(join(directory, '.secret'), 'utf8')).trim(), 'hex');
    const query = new URL(granted.put).searchParams;
    const [id = '', name = ''] = new URL(granted.get).pathname.split('/').slice(2);
    const expired: Slot = { id, filename: decodeURIComponent(name), size: body.length, contentType: 'text/plain', expires: Date.now() - 1000, owner: query.get('owner') ?? '' };
    const expiredResponse = await put(`${granted.get}?${signedQuery(secret, expired)}`, body, 'text/plain');
    assert.equal(expiredResponse.status, 403);
    assert.match(await expiredResponse.text(), /expired/);

    assert.deepEqual(await readdir(join(directory, 'files')), storedBefore, 'nothing stored');
    assert.deepEqual(await readdir(join(directory, 'tmp')), []);
    assert.equal((await fetch(granted.get)).status, 404);

    // Positive control: the same slot takes the right PUT, and the charset spelling of the type does not matter.
    assert.equal((await put(granted.put, body, 'Text/Plain')).status, 201);
    assert.equal(Buffer.from(await (await fetch(granted.get)).arrayBuffer()).toString(), body.toString());
  });

  it('an upload cut off half-way leaves nothing visible, and the slot then takes the whole file', async function () {
    const body = Buffer.alloc(800, 0x61);
    const granted = await slot(alice, { filename: 'cut.txt', size: String(body.length), 'content-type': 'text/plain' });
    const url = new URL(granted.put);
    const socket = net.connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(`PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body.subarray(0, 400));
    // The server has the first half in tmp/ (it is being written), and nothing in files/.
    const id = new URL(granted.get).pathname.split('/')[2] ?? '';
    const deadline = Date.now() + 5000;
    while (!(await readdir(join(directory, 'tmp'))).includes(id)) {
      assert.ok(Date.now() < deadline, 'the upload never reached tmp/');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal((await fetch(granted.get)).status, 404, 'a partial file is not served');
    assert.equal((await put(granted.put, body, 'text/plain')).status, 409, 'an upload under way holds the slot');
    socket.destroy();
    while ((await readdir(join(directory, 'tmp'))).includes(id)) {
      assert.ok(Date.now() < deadline, 'the cut upload stayed in tmp/');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal((await fetch(granted.get)).status, 404);
    assert.ok(!(await readdir(join(directory, 'files'))).includes(id));
    assert.equal((await put(granted.put, body, 'text/plain')).status, 201);
    assert.equal((await (await fetch(granted.get)).text()).length, 800);
  });

  it('§5: over the quota a slot request is resource-constraint with a retry stamp; expired files make room again', async function () {
    const file = Buffer.alloc(MAX, 1);
    for (const name of ['one.bin', 'two.bin']) {
      const granted = await slot(carol, { filename: name, size: String(MAX) });
      assert.equal((await put(granted.put, file)).status, 201);
    }
    // A third slot issued before the quota was reached (500 bytes fit) still cannot take carol over it.
    const early = await slot(carol, { filename: 'three.bin', size: '500' });
    const refused = await iq(carol, 'get', 'upload.localhost', request({ filename: 'three.bin', size: String(MAX) }));
    assert.equal(condition(refused), 'resource-constraint');
    assert.equal(refused.getChild('error')?.attrs.type, 'wait');
    const stamp = refused.getChild('error')?.getChild('retry', NS_UPLOAD)?.attrs.stamp ?? '';
    assert.match(stamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const inDays = (Date.parse(stamp) - Date.now()) / 86_400_000;
    assert.ok(inDays > 29 && inDays <= 30, `retry when the oldest file expires (30 days), got ${stamp}`);
    // Alice's quota is her own.
    await slot(alice, { filename: 'alice.bin', size: String(MAX) });

    const got = await slot(carol, { filename: 'half.bin', size: '500' });
    assert.equal((await put(got.put, Buffer.alloc(500))).status, 201, 'exactly at the quota');
    assert.equal((await put(early.put, Buffer.alloc(500))).status, 413, 'over the quota at PUT time');

    // Expiry: as if 31 days had passed, the purge removes them (the module runs it hourly).
    const removed = await new UploadFiles(directory).purge(Date.now() + 86_400_000);
    assert.ok(removed >= 3);
    assert.equal((await fetch(got.get)).status, 404);
    await slot(carol, { filename: 'again.bin', size: String(MAX) });
  });

  it('CORS: the web client origin may PUT and GET (preflight answered)', async function () {
    const preflight = await fetch(`http://127.0.0.1:${server.ports.http}/upload/x/y`, { method: 'OPTIONS', headers: { Origin: 'https://chat.example.org', 'Access-Control-Request-Method': 'PUT' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /PUT/);
  });
});
