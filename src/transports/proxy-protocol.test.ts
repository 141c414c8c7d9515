// The PROXY protocol parser against haproxy doc/proxy-protocol.txt: §2.1 (v1) and §2.2 (v2) examples,
// TLVs (§2.2.3 CRC32c, §2.2.6 SSL), and what must abort the connection.
import assert from 'node:assert/strict';
import net from 'node:net';
import { inet4, sslTlv, tlv, v2 } from '../../test/support/proxy-header.js';
import { crc32c, parseProxyHeader, ProxyProtocolError, readProxyHeader, V2_SIGNATURE, type ProxyHeader } from './proxy-protocol.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

function parse(data: Buffer): ProxyHeader {
  const header = parseProxyHeader(data);
  assert.ok(header, 'a complete header');
  return header;
}

describe('PROXY protocol', function () {
  describe('version 1 (§2.1)', function () {
    it('reads the TCP4 example, leaving the HTTP request after it', function () {
      const data = bytes('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n');
      const header = parse(data);
      assert.deepEqual(
        { ...header, tlvs: undefined },
        { version: 1, command: 'proxy', source: { address: '192.168.0.1', port: 56324 }, destination: { address: '192.168.0.11', port: 443 }, clientTls: false, tlvs: undefined, length: 47 },
      );
      assert.equal(data.subarray(header.length).toString(), 'GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n');
    });

    it('reads TCP6, and the longest lines the receiver must support', function () {
      assert.deepEqual(parse(bytes('PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n')).source, { address: '2001:db8::1', port: 1 });
      const f = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
      const longest = bytes(`PROXY UNKNOWN ${f} ${f} 65535 65535\r\n`);
      assert.equal(longest.length, 107);
      assert.deepEqual(parse(longest), { version: 1, command: 'local', clientTls: false, tlvs: [], length: 107 });
      assert.equal(parse(bytes(`PROXY TCP6 ${f} ${f} 65535 65535\r\n`)).length, 104);
    });

    it('UNKNOWN, short form and with ignored fields: the real endpoints apply', function () {
      assert.deepEqual(parse(bytes('PROXY UNKNOWN\r\n')), { version: 1, command: 'local', clientTls: false, tlvs: [], length: 15 });
      assert.equal(parse(bytes('PROXY UNKNOWN whatever comes here\r\nrest')).command, 'local');
    });

    it('waits for the CRLF across several TCP chunks', function () {
      const line = bytes('PROXY TCP4 203.0.113.7 192.0.2.1 40000 5222\r\n');
      for (let cut = 1; cut < line.length; cut++) assert.equal(parseProxyHeader(line.subarray(0, cut)), undefined, `after ${cut} bytes`);
      assert.equal(parse(line).source?.address, '203.0.113.7');
    });

    for (const [what, line] of [
      ['a line with no CRLF in 107 bytes', `PROXY UNKNOWN ${'f'.repeat(120)}`],
      ['a CRLF after byte 107', `PROXY UNKNOWN ${'f'.repeat(100)}\r\n`],
      ['a bare LF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'],
      ['a lone CR', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX'],
      ['an unknown protocol', 'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n'],
      ['two spaces', 'PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'],
      ['a missing port', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'],
      ['a leading zero in an address', 'PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n'],
      ['an address of the other family', 'PROXY TCP4 ::1 5.6.7.8 1 2\r\n'],
      ['a leading zero in a port', 'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n'],
      ['a port above 65535', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n'],
      ['a lower-case signature', 'proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n'],
      ['no header at all (an XMPP stream)', "<?xml version='1.0'?><stream:stream>"],
    ] as const) {
      it(`rejects ${what}`, function () {
        assert.throws(() => parseProxyHeader(bytes(line)), ProxyProtocolError);
      });
    }
  });

  describe('version 2 (§2.2)', function () {
    it('PROXY over TCP/IPv4 with the address block, and what follows it', function () {
      const data = Buffer.concat([v2(1, 0x11, inet4('203.0.113.7', '192.0.2.1', 40000, 5223)), bytes('\x16\x03\x01')]);
      const header = parse(data);
      assert.deepEqual(header.source, { address: '203.0.113.7', port: 40000 });
      assert.deepEqual(header.destination, { address: '192.0.2.1', port: 5223 });
      assert.equal(header.length, 28);
      assert.equal(header.clientTls, false);
      assert.deepEqual([...data.subarray(header.length)], [0x16, 0x03, 0x01]);
    });

    it('PROXY over TCP/IPv6, the address in its compressed text form', function () {
      const block = Buffer.alloc(36);
      Buffer.from('20010db8000000000000000000000042', 'hex').copy(block, 0);
      Buffer.from('00000000000000000000000000000001', 'hex').copy(block, 16);
      block.writeUInt16BE(1234, 32);
      block.writeUInt16BE(5280, 34);
      assert.deepEqual(parse(v2(1, 0x21, block)).source, { address: '2001:db8::42', port: 1234 });
    });

    it('LOCAL (a health check): the real endpoints apply, whatever the block and its length say', function () {
      assert.deepEqual(parse(v2(0, 0x00, Buffer.alloc(0))), { version: 2, command: 'local', clientTls: false, tlvs: [], length: 16 });
      const local = parse(v2(0, 0x11, inet4('10.0.0.1', '10.0.0.2', 1, 2), [sslTlv(1)]));
      assert.equal(local.command, 'local');
      assert.equal(local.source, undefined);
      assert.equal(local.clientTls, false, 'LOCAL discards the block, TLVs included');
    });

    it('UNSPEC and AF_UNIX families under PROXY: accepted, real endpoints apply', function () {
      assert.equal(parse(v2(1, 0x00, Buffer.alloc(0))).command, 'local');
      assert.equal(parse(v2(1, 0x31, Buffer.alloc(216))).command, 'local');
    });

    it('TLVs: PP2_TYPE_SSL with PP2_CLIENT_SSL means the client used TLS (§2.2.6); unknown types are skipped', function () {
      const tls = parse(v2(1, 0x11, inet4('203.0.113.7', '192.0.2.1', 1, 2), [tlv(0x01, bytes('xmpp-client')), sslTlv(0x01), tlv(0xe0, bytes('custom'))]));
      assert.equal(tls.clientTls, true);
      assert.deepEqual(tls.tlvs.map((t) => t.type), [0x01, 0x20, 0xe0]);
      assert.equal(parse(v2(1, 0x11, inet4('1.2.3.4', '5.6.7.8', 1, 2), [sslTlv(0x02)])).clientTls, false, 'a certificate bit without PP2_CLIENT_SSL');
      assert.throws(() => parseProxyHeader(v2(1, 0x11, inet4('1.2.3.4', '5.6.7.8', 1, 2), [tlv(0x20, Buffer.from([1]))])), /PP2_TYPE_SSL/);
    });

    it('PP2_TYPE_CRC32C is checked (§2.2.3)', function () {
      const build = (value: Buffer): Buffer => v2(1, 0x11, inet4('1.2.3.4', '5.6.7.8', 1, 2), [tlv(0x03, value)]);
      const zeroed = build(Buffer.alloc(4));
      const sum = Buffer.alloc(4);
      sum.writeUInt32BE(crc32c(zeroed));
      assert.equal(parse(build(sum)).source?.address, '1.2.3.4');
      sum.writeUInt32BE((crc32c(zeroed) ^ 1) >>> 0);
      assert.throws(() => parseProxyHeader(build(sum)), /checksum/);
      // RFC 3720 B.4's test vector: 32 bytes of zeros.
      assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
    });

    it('waits for the whole header across several TCP chunks, byte by byte', function () {
      const header = v2(1, 0x11, inet4('198.51.100.2', '192.0.2.1', 5555, 5222), [sslTlv(1)]);
      for (let cut = 0; cut < header.length; cut++) assert.equal(parseProxyHeader(header.subarray(0, cut)), undefined, `after ${cut} bytes`);
      assert.equal(parse(header).clientTls, true);
    });

    for (const [what, data] of [
      ['a bad signature', Buffer.concat([bytes('\r\n\r\n\0\r\nQUIX\n'), Buffer.from([0x21, 0x11, 0, 0])])],
      ['version 1 in the binary format', Buffer.concat([V2_SIGNATURE, Buffer.from([0x11, 0x11, 0, 0])])],
      ['an unassigned command', Buffer.concat([V2_SIGNATURE, Buffer.from([0x22, 0x11, 0, 0])])],
      ['an undefined family', Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x41, 0, 0])])],
      ['an undefined transport', Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x13, 0, 0])])],
      ['a length too short for its IPv4 addresses', v2(1, 0x11, Buffer.alloc(8))],
      ['a TLV that runs past the header', v2(1, 0x11, Buffer.concat([inet4('1.2.3.4', '5.6.7.8', 1, 2), Buffer.from([0x04, 0x00, 0x09, 0x00])]))],
      ['a TLV cut in its type and length', v2(1, 0x11, Buffer.concat([inet4('1.2.3.4', '5.6.7.8', 1, 2), Buffer.from([0x04, 0x00])]))],
    ] as const) {
      it(`rejects ${what}`, function () {
        assert.throws(() => parseProxyHeader(data), ProxyProtocolError);
      });
    }
  });

  describe('readProxyHeader on a socket', function () {
    let server: net.Server;
    let port: number;
    let accepted: Promise<net.Socket>;

    beforeEach(async function () {
      let hand: (s: net.Socket) => void = () => undefined;
      accepted = new Promise((resolve) => (hand = resolve));
      server = net.createServer((s) => hand(s));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as net.AddressInfo).port;
    });

    afterEach(function () {
      server.close();
    });

    it('takes a header sent in several chunks, and leaves the bytes after it for the next reader', async function () {
      const client = net.connect(port, '127.0.0.1');
      const socket = await accepted;
      const reading = readProxyHeader(socket);
      const header = v2(1, 0x11, inet4('198.51.100.2', '192.0.2.1', 5555, 5222));
      client.write(header.subarray(0, 5));
      await new Promise((resolve) => setTimeout(resolve, 30));
      client.write(header.subarray(5, 20));
      await new Promise((resolve) => setTimeout(resolve, 30));
      client.write(Buffer.concat([header.subarray(20), bytes('<stream')]));
      assert.equal((await reading).source?.address, '198.51.100.2');
      const next = await new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(chunk.toString())));
      assert.equal(next, '<stream');
      client.destroy();
    });

    it('rejects a connection that closes before its header, or says nothing in time', async function () {
      const client = net.connect(port, '127.0.0.1');
      const socket = await accepted;
      const reading = readProxyHeader(socket);
      client.end('PROXY TCP4 1.2.3.4');
      await assert.rejects(reading, /ended before/);
      const second = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
      const silent = net.connect(port, '127.0.0.1');
      await assert.rejects(readProxyHeader(await second, 100), /no PROXY header within 100 ms/);
      silent.destroy();
    });
  });
});
