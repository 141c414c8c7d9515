// PROXY protocol headers built by hand (haproxy doc/proxy-protocol.txt §2.2), for the tests.
import { V2_SIGNATURE } from '../../src/transports/proxy-protocol.js';

/** A v2 header: command (0 LOCAL, 1 PROXY), family/transport byte, address block, TLVs. */
export function v2(command: number, family: number, addresses: Buffer, tlvs: Buffer[] = []): Buffer {
  const body = Buffer.concat([addresses, ...tlvs]);
  const fixed = Buffer.alloc(4);
  fixed[0] = 0x20 | command;
  fixed[1] = family;
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, body]);
}

export function tlv(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(value.length, 1);
  return Buffer.concat([head, value]);
}

export function inet4(src: string, dst: string, srcPort: number, dstPort: number): Buffer {
  const block = Buffer.alloc(12);
  src.split('.').forEach((n, i) => (block[i] = Number(n)));
  dst.split('.').forEach((n, i) => (block[4 + i] = Number(n)));
  block.writeUInt16BE(srcPort, 8);
  block.writeUInt16BE(dstPort, 10);
  return block;
}

/** PP2_TYPE_SSL: client bits, verify, and the PP2_SUBTYPE_SSL_VERSION sub-TLV haproxy sends. */
export function sslTlv(client: number): Buffer {
  const head = Buffer.alloc(5);
  head[0] = client;
  return tlv(0x20, Buffer.concat([head, tlv(0x21, Buffer.from('TLSv1.3', 'latin1'))]));
}

