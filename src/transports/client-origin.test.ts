import assert from 'node:assert/strict';
import { addressMatcher, ClientOriginRule, MATCHER_MEMO_SIZE, nodeAddress, parseForwarded, rememberProxyHeader, type RequestView } from './client-origin.js';
import { requestOrigin } from './host-meta.js';
import { parseProxyHeader } from './proxy-protocol.js';

const view = (remoteAddress: string, headers: Record<string, string> = {}, encrypted?: boolean): RequestView => ({
  headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
  socket: encrypted === undefined ? { remoteAddress } : { remoteAddress, encrypted },
});

describe('client origin', function () {
  const rule = new ClientOriginRule(['10.0.0.0/8', '127.0.0.0/8', '::1']);
  const of = (v: RequestView): [string, boolean, boolean] => {
    const o = rule.ofRequest(v);
    return [o.remoteAddress, o.secure, o.https];
  };

  it('addressMatcher: addresses and CIDR blocks in both families, IPv4-mapped IPv6 as IPv4; nothing implicit', function () {
    const trusted = addressMatcher(['10.0.0.0/8', '192.168.1.5', 'fd00::/8']);
    for (const a of ['10.1.2.3', '::ffff:10.200.0.1', '192.168.1.5', 'fd12::1']) assert.equal(trusted(a), true, a);
    for (const a of ['127.0.0.1', '::1', '192.168.1.6', '11.0.0.1', '2001:db8::1', 'unknown', '']) assert.equal(trusted(a), false, a);
    assert.equal(addressMatcher([])('127.0.0.1'), false);
  });

  it('addressMatcher answers the same when asked again, also after its memo of answers filled and was forgotten', function () {
    const trusted = addressMatcher(['10.0.0.0/8']);
    const askTwice = (a: string, expected: boolean): void => {
      assert.equal(trusted(a), expected, a);
      assert.equal(trusted(a), expected, `${a}, again`);
    };
    askTwice('10.0.0.1', true);
    askTwice('11.0.0.1', false);
    for (let i = 0; i <= MATCHER_MEMO_SIZE; i++) askTwice(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, true);
    for (let i = 0; i <= MATCHER_MEMO_SIZE; i++) askTwice(`11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, false);
    askTwice('::ffff:10.9.9.9', true);
    askTwice('not an address', false);
  });

  it('TLS on the socket is secure, from anyone', function () {
    assert.deepEqual(of(view('203.0.113.9', {}, true)), ['203.0.113.9', true, true]);
  });

  it('a trusted proxy is secure only when it says https; never merely because it is the proxy', function () {
    assert.deepEqual(of(view('10.0.0.5')), ['10.0.0.5', false, false]);
    assert.deepEqual(of(view('10.0.0.5', { 'x-forwarded-for': '198.51.100.7' })), ['198.51.100.7', false, false]);
    assert.deepEqual(of(view('10.0.0.5', { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'http' })), ['198.51.100.7', false, false]);
    assert.deepEqual(of(view('10.0.0.5', { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https' })), ['198.51.100.7', true, true]);
    assert.deepEqual(of(view('10.0.0.5', { forwarded: 'for=198.51.100.7;proto=https' })), ['198.51.100.7', true, true]);
    // The nearest proxy's word is the right-most value.
    assert.deepEqual(of(view('10.0.0.5', { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https, http' })), ['198.51.100.7', false, false]);
    // A proxy that sets one header passes the other through from the client: both must say https.
    assert.deepEqual(of(view('10.0.0.5', { forwarded: 'for=198.51.100.7;proto=https', 'x-forwarded-proto': 'http' })), ['198.51.100.7', false, false]);
  });

  it('headers from a peer that is no trusted proxy are ignored', function () {
    assert.deepEqual(of(view('203.0.113.9', { 'x-forwarded-for': '10.9.9.9', 'x-forwarded-proto': 'https', forwarded: 'for=1.2.3.4;proto=https' })), ['203.0.113.9', false, false]);
  });

  it('the client is the right-most address that is not a trusted proxy; what a client prepends does not count', function () {
    assert.equal(of(view('10.0.0.5', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7' }))[0], '198.51.100.7');
    assert.equal(of(view('10.0.0.5', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.0.0.9' }))[0], '198.51.100.7');
    assert.equal(of(view('10.0.0.5', { 'x-forwarded-for': '10.0.0.8, 10.0.0.9' }))[0], '10.0.0.8', 'only proxies: the farthest one');
    assert.equal(of(view('10.0.0.5', { 'x-forwarded-for': 'unknown' }))[0], '10.0.0.5', 'the client cannot be told: the proxy stands for it');
    assert.equal(of(view('::ffff:10.0.0.5', { 'x-forwarded-for': '[2001:db8::1]:443' }))[0], '2001:db8::1');
    assert.equal(of(view('10.0.0.5', { forwarded: 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https;by=10.0.0.5' }))[0], '2001:db8:cafe::17');
    // X-Forwarded-For wins over Forwarded when both are there (the shipped proxies set it).
    assert.equal(of(view('10.0.0.5', { forwarded: 'for=6.6.6.6', 'x-forwarded-for': '198.51.100.7' }))[0], '198.51.100.7');
  });

  it('loopback: secure without forwarding headers (but plain HTTP); with them it is a proxy like any other', function () {
    assert.deepEqual(of(view('127.0.0.1')), ['127.0.0.1', true, false]);
    assert.deepEqual(of(view('::1')), ['::1', true, false]);
    assert.deepEqual(of(view('127.0.0.1', { 'x-forwarded-for': '198.51.100.7' })), ['198.51.100.7', false, false]);
    assert.deepEqual(of(view('127.0.0.1', { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https' })), ['198.51.100.7', true, true]);
    // Not a trusted proxy (trusted_proxies = []): its headers are ignored, and it is not secure either.
    const none = new ClientOriginRule([]);
    assert.deepEqual(none.ofRequest(view('127.0.0.1')).secure, true);
    assert.deepEqual(none.ofRequest(view('127.0.0.1', { 'x-forwarded-proto': 'https', 'x-forwarded-for': '1.2.3.4' })), { remoteAddress: '127.0.0.1', secure: false, https: false, forwardedHeadersTrusted: false });
  });

  it('a PROXY header on the connection: its client, and its TLS flag', function () {
    const header = (text: string) => {
      const parsed = parseProxyHeader(Buffer.from(text, 'latin1'));
      assert.ok(parsed);
      return parsed;
    };
    const socket = { remoteAddress: '127.0.0.1' };
    rememberProxyHeader(socket, socket.remoteAddress, header('PROXY TCP4 198.51.100.7 192.0.2.1 1 2\r\n'));
    // Proxied: not a direct loopback client; v1 says nothing about TLS; the client's own headers are not believed.
    assert.deepEqual(of({ headers: {}, socket }), ['198.51.100.7', false, false]);
    assert.deepEqual(of({ headers: { 'x-forwarded-proto': 'https' }, socket }), ['198.51.100.7', false, false]);
  });

  it('host-meta reads the same rule: wss:// exactly when the transports count the request secure, but for direct loopback', function () {
    const cases = [
      view('203.0.113.9', { host: 'x.example' }, true),
      view('10.0.0.5', { host: 'x.example' }),
      view('10.0.0.5', { host: 'x.example', 'x-forwarded-proto': 'https' }),
      view('10.0.0.5', { host: 'x.example', 'x-forwarded-for': '1.2.3.4' }),
      view('10.0.0.5', { host: 'x.example', forwarded: 'proto=https' }),
      view('203.0.113.9', { host: 'x.example', 'x-forwarded-proto': 'https' }),
      view('127.0.0.1', { host: 'x.example', 'x-forwarded-proto': 'http' }),
    ];
    const originOf = rule.ofRequest.bind(rule);
    const decisions = cases.map((c) => [requestOrigin(c, originOf)?.secure, rule.ofRequest(c).secure]);
    for (const [hostMeta, transport] of decisions) assert.equal(hostMeta, transport);
    assert.deepEqual(decisions.map(([d]) => d), [true, false, true, false, true, false, false]);
    assert.deepEqual([requestOrigin(view('127.0.0.1', { host: 'x.example' }), originOf)?.secure, rule.ofRequest(view('127.0.0.1')).secure], [false, true]);
  });

  it('parses RFC 7239 Forwarded (§4 syntax, §6 node names) and X-Forwarded-For entries', function () {
    assert.deepEqual(parseForwarded('for="_gazonk"'), [{ for: '_gazonk' }]);
    assert.deepEqual(parseForwarded('For="[2001:db8:cafe::17]:4711"'), [{ for: '[2001:db8:cafe::17]:4711' }]);
    assert.deepEqual(parseForwarded('for=192.0.2.60;proto=http;by=203.0.113.43'), [{ for: '192.0.2.60', proto: 'http', by: '203.0.113.43' }]);
    assert.deepEqual(parseForwarded('for=192.0.2.43, for=198.51.100.17'), [{ for: '192.0.2.43' }, { for: '198.51.100.17' }]);
    assert.deepEqual(parseForwarded('for="a,b;c", proto=https'), [{ for: 'a,b;c' }, { proto: 'https' }]);
    assert.deepEqual(['192.0.2.43', '192.0.2.43:80', '[::1]:80', '::ffff:1.2.3.4', 'unknown', '_hidden', '1.2.3', '[::1'].map(nodeAddress), ['192.0.2.43', '192.0.2.43', '::1', '1.2.3.4', undefined, undefined, undefined, undefined]);
  });
});
