// The PROXY protocol, versions 1 and 2 (haproxy doc/proxy-protocol.txt, 2020/03/05): the header a proxy
// puts before the bytes of a relayed connection to say whose connection it is.
//  - §2.1 the text header (v1): "PROXY TCP4|TCP6|UNKNOWN ...\r\n", at most 107 bytes with the CRLF;
//  - §2.2 the binary header (v2): a 12-byte signature, version/command, family/transport, a length, the
//    addresses, then TLVs (§2.2.1-§2.2.7), of which PP2_TYPE_CRC32C is checked (§2.2.3) and PP2_TYPE_SSL's
//    PP2_CLIENT_SSL bit (§2.2.6) says the proxy received the connection over TLS.
// §2: a receiver configured for the protocol must get a complete, valid header before anything else,
// and must not guess whether one is there; anything that does not match exactly aborts the connection.
// The parser works on what has arrived so far, so a header split over several TCP reads is waited for.
import net from 'node:net';

export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** §2.1: the longest v1 line, CRLF included. */
export const V1_MAX_LENGTH = 107;
const V2_FIXED = 16;

export const PP2_TYPE_CRC32C = 0x03;
export const PP2_TYPE_SSL = 0x20;
export const PP2_CLIENT_SSL = 0x01;

/** A header that breaks the specification: the connection must be aborted (§2.1, §2.2). */
export class ProxyProtocolError extends Error {}

export interface ProxyEndpoint {
  address: string;
  port: number;
}

export interface ProxyHeader {
  version: 1 | 2;
  /**
   * 'proxy': relayed for the client named in `source`. 'local': v2 LOCAL (the proxy's own connection, a
   * health check) or a v1 UNKNOWN / v2 unspecified or AF_UNIX family: the real connection's endpoints apply.
   */
  command: 'proxy' | 'local';
  source?: ProxyEndpoint;
  destination?: ProxyEndpoint;
  /** v2 PP2_TYPE_SSL with PP2_CLIENT_SSL: the client reached the proxy over TLS. v1 never says. */
  clientTls: boolean;
  tlvs: { type: number; value: Buffer }[];
  /** Bytes the header took; what follows belongs to the relayed connection. */
  length: number;
}

/**
 * Reads a header from the start of `data`. Returns undefined while the bytes so far are a valid
 * beginning of a header that is not complete yet; throws ProxyProtocolError as soon as they cannot be.
 */
export function parseProxyHeader(data: Buffer): ProxyHeader | undefined {
  if (data.length === 0) return undefined;
  if (data[0] === V2_SIGNATURE[0]) return parseV2(data);
  if (data[0] === V1_PREFIX[0]) return parseV1(data);
  throw new ProxyProtocolError('no PROXY protocol header');
}

function startsLike(data: Buffer, prefix: Buffer): boolean {
  const n = Math.min(data.length, prefix.length);
  return data.subarray(0, n).equals(prefix.subarray(0, n));
}

// §2.1
function parseV1(data: Buffer): ProxyHeader | undefined {
  if (!startsLike(data, V1_PREFIX)) throw new ProxyProtocolError('bad PROXY v1 signature');
  const lf = data.indexOf(0x0a);
  const cr = data.indexOf(0x0d);
  if (lf === -1) {
    if (cr !== -1 && cr < data.length - 1) throw new ProxyProtocolError('PROXY v1 line ends with a lone CR');
    if (data.length >= V1_MAX_LENGTH) throw new ProxyProtocolError(`PROXY v1 line longer than ${V1_MAX_LENGTH} bytes`);
    return undefined;
  }
  if (lf + 1 > V1_MAX_LENGTH) throw new ProxyProtocolError(`PROXY v1 line longer than ${V1_MAX_LENGTH} bytes`);
  if (cr !== lf - 1) throw new ProxyProtocolError('PROXY v1 line must end with CRLF');
  const line = data.subarray(0, cr).toString('latin1');
  const fields = line.split(' ');
  const family = fields[1];
  const length = lf + 1;
  // The receiver ignores whatever an UNKNOWN line carries before its CRLF.
  if (family === 'UNKNOWN') return { version: 1, command: 'local', clientTls: false, tlvs: [], length };
  if (family !== 'TCP4' && family !== 'TCP6') throw new ProxyProtocolError(`PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN, got ${JSON.stringify(family ?? '')}`);
  if (fields.length !== 6) throw new ProxyProtocolError('PROXY v1 line must have addresses and ports separated by single spaces');
  const [, , src = '', dst = '', srcPort = '', dstPort = ''] = fields;
  const check = family === 'TCP4' ? isCanonicalV4 : (text: string): boolean => net.isIPv6(text) && !text.includes('%');
  if (!check(src) || !check(dst)) throw new ProxyProtocolError(`PROXY v1 addresses must be ${family === 'TCP4' ? 'IPv4' : 'IPv6'}`);
  return {
    version: 1,
    command: 'proxy',
    source: { address: src, port: v1Port(srcPort) },
    destination: { address: dst, port: v1Port(dstPort) },
    clientTls: false,
    tlvs: [],
    length,
  };
}

/** Dotted decimal, no leading zeros (§2.1 forbids them to avoid octal confusion). */
function isCanonicalV4(text: string): boolean {
  return /^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/.test(text) && text.split('.').every((n) => Number(n) <= 255);
}

function v1Port(text: string): number {
  if (!/^(0|[1-9]\d{0,4})$/.test(text) || Number(text) > 65535) throw new ProxyProtocolError(`PROXY v1 port must be 0 to 65535 without leading zeros, got ${JSON.stringify(text)}`);
  return Number(text);
}

// §2.2
function parseV2(data: Buffer): ProxyHeader | undefined {
  if (!startsLike(data, V2_SIGNATURE)) throw new ProxyProtocolError('bad PROXY v2 signature');
  if (data.length < 13) return undefined;
  const versionCommand = data[12] ?? 0;
  if (versionCommand >> 4 !== 2) throw new ProxyProtocolError(`PROXY v2 version must be 2, got ${versionCommand >> 4}`);
  const commandBits = versionCommand & 0x0f;
  if (commandBits > 1) throw new ProxyProtocolError(`PROXY v2 command must be LOCAL or PROXY, got ${commandBits}`);
  if (data.length < 14) return undefined;
  const familyByte = data[13] ?? 0;
  const family = familyByte >> 4;
  const transport = familyByte & 0x0f;
  if (family > 3 || transport > 2) throw new ProxyProtocolError(`PROXY v2 address family/transport 0x${familyByte.toString(16)} is not defined`);
  if (data.length < V2_FIXED) return undefined;
  const length = V2_FIXED + data.readUInt16BE(14);
  if (data.length < length) return undefined;
  const header = data.subarray(0, length);

  // Address block sizes (§2.2): AF_INET 12, AF_INET6 36, AF_UNIX 216, unspecified 0.
  const addressBytes = transport === 0 ? 0 : [0, 12, 36, 216][family] ?? 0;
  if (length - V2_FIXED < addressBytes) throw new ProxyProtocolError('PROXY v2 header too short for its address family');
  const tlvs = parseTlvs(header, V2_FIXED + addressBytes);
  const tls = clientTls(tlvs);
  // LOCAL discards the whole block (§2.2): the connection is the proxy's own, not a client's.
  const result: ProxyHeader = { version: 2, command: 'local', clientTls: commandBits === 1 && tls, tlvs, length };
  // LOCAL: the endpoints are the real ones, whatever the block says (§2.2). AF_UNIX and unspecified
  // families carry no IP address to use, so the real endpoints apply too.
  if (commandBits === 1 && (family === 1 || family === 2) && transport !== 0) {
    const at = V2_FIXED;
    const size = family === 1 ? 4 : 16;
    const ports = at + 2 * size;
    result.command = 'proxy';
    result.source = { address: ipText(header.subarray(at, at + size)), port: header.readUInt16BE(ports) };
    result.destination = { address: ipText(header.subarray(at + size, at + 2 * size)), port: header.readUInt16BE(ports + 2) };
  }
  return result;
}

function parseTlvs(header: Buffer, start: number): { type: number; value: Buffer }[] {
  const tlvs: { type: number; value: Buffer }[] = [];
  let at = start;
  while (at < header.length) {
    if (header.length - at < 3) throw new ProxyProtocolError('PROXY v2 TLV cut short');
    const type = header[at] ?? 0;
    const size = header.readUInt16BE(at + 1);
    if (at + 3 + size > header.length) throw new ProxyProtocolError(`PROXY v2 TLV 0x${type.toString(16)} runs past the header`);
    tlvs.push({ type, value: header.subarray(at + 3, at + 3 + size) });
    if (type === PP2_TYPE_CRC32C) checkCrc(header, at + 3, size);
    at += 3 + size;
  }
  return tlvs;
}

// §2.2.6: struct pp2_tlv_ssl { uint8_t client; uint32_t verify; struct pp2_tlv sub_tlv[0]; }
function clientTls(tlvs: readonly { type: number; value: Buffer }[]): boolean {
  const ssl = tlvs.find((t) => t.type === PP2_TYPE_SSL);
  if (!ssl) return false;
  if (ssl.value.length < 5) throw new ProxyProtocolError('PROXY v2 PP2_TYPE_SSL value shorter than 5 bytes');
  return ((ssl.value[0] ?? 0) & PP2_CLIENT_SSL) !== 0;
}

function ipText(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // The compressed, canonical text form (net.SocketAddress does what RFC 5952 asks).
  return new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

// §2.2.3: the CRC32c (RFC 4960 Appendix B) of the whole header with the checksum field zeroed.
function checkCrc(header: Buffer, valueAt: number, size: number): void {
  if (size !== 4) throw new ProxyProtocolError('PROXY v2 PP2_TYPE_CRC32C value must be 4 bytes');
  const expected = header.readUInt32BE(valueAt);
  const copy = Buffer.from(header);
  copy.fill(0, valueAt, valueAt + 4);
  if (crc32c(copy) !== expected) throw new ProxyProtocolError('PROXY v2 header checksum (CRC32c) does not match');
}

let crcTable: Uint32Array | undefined;

export function crc32c(data: Buffer): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const byte of data) crc = (crcTable[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** How long a connection from a proxy may take to send its header (§2: "at least 3 seconds"). */
export const HEADER_TIMEOUT_MS = 10_000;

/**
 * Reads the PROXY header a connection starts with, leaving the bytes after it unread on the socket (so
 * the next reader, the XML stream, the HTTP parser or a TLS handshake, gets them). Rejects with a
 * ProxyProtocolError for a bad header, a connection that ends first, or one that says nothing in time.
 */
export function readProxyHeader(socket: net.Socket, timeoutMs = HEADER_TIMEOUT_MS): Promise<ProxyHeader> {
  return new Promise((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (error: Error | undefined, header?: ProxyHeader): void => {
      done = true;
      clearTimeout(timer);
      // Reading in paused mode ('readable' and read()), so that once this listener is gone the stream is
      // neither flowing nor paused: the next reader's 'data' listener starts it, unshifted bytes first.
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onEnd);
      if (error || !header) return reject(error);
      if (received.length > header.length) socket.unshift(received.subarray(header.length));
      resolve(header);
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while (!done && (chunk = socket.read() as Buffer | null) !== null) {
        received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
        let header: ProxyHeader | undefined;
        try {
          header = parseProxyHeader(received);
        } catch (err) {
          return finish(err instanceof Error ? err : new ProxyProtocolError(String(err)));
        }
        if (header) return finish(undefined, header);
      }
    };
    const onEnd = (): void => finish(new ProxyProtocolError('the connection ended before its PROXY header'));
    const timer = setTimeout(() => finish(new ProxyProtocolError(`no PROXY header within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onEnd);
  });
}
