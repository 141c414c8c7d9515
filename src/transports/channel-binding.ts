// TLS channel-binding data for SCRAM-*-PLUS (RFC 5056), from a TLS socket this server terminates:
//  - tls-exporter (RFC 9266): 32 bytes exported with the label "EXPORTER-Channel-Binding" and no
//    context; only on TLS 1.3 (on 1.2 it is safe only with extended master secret, which Node cannot tell).
//  - tls-unique (RFC 5929 §3): the first Finished message of the latest handshake (the client's in a
//    full handshake, ours in a resumed one); TLS 1.2 and older only, as RFC 9266 §3 requires.
//  - tls-server-end-point (RFC 5929 §4): the hash of our certificate, with the hash of its signature
//    algorithm, SHA-256 when that is MD5 or SHA-1. Mandatory to offer (XEP-0440 §3).
// A connection whose TLS a proxy terminated has none of these: -PLUS is not offered there.
import { createHash } from 'node:crypto';
import type tls from 'node:tls';
import type { ChannelBinding } from '../stream/sasl/types.js';

/** DER of the signature algorithm OIDs whose hash is not SHA-256 for tls-server-end-point. */
const SIGNATURE_HASHES: Array<[string, Buffer]> = [
  // sha384WithRSAEncryption, sha512WithRSAEncryption (1.2.840.113549.1.1.12 / .13)
  ['sha384', Buffer.from('06092a864886f70d01010c', 'hex')],
  ['sha512', Buffer.from('06092a864886f70d01010d', 'hex')],
  // ecdsa-with-SHA384, ecdsa-with-SHA512 (1.2.840.10045.4.3.3 / .4)
  ['sha384', Buffer.from('06082a8648ce3d040303', 'hex')],
  ['sha512', Buffer.from('06082a8648ce3d040304', 'hex')],
];
/** Ed25519 / Ed448 (1.3.101.112 / .113): RFC 5929 defines no hash for them. */
const NO_HASH = [Buffer.from('06032b6570', 'hex'), Buffer.from('06032b6571', 'hex')];

/** The hash tls-server-end-point uses for a DER certificate, or undefined when RFC 5929 gives none. */
export function endPointHash(der: Buffer): string | undefined {
  if (NO_HASH.some((oid) => der.includes(oid))) return undefined;
  return SIGNATURE_HASHES.find(([, oid]) => der.includes(oid))?.[0] ?? 'sha256';
}

export function tlsChannelBinding(socket: tls.TLSSocket): ChannelBinding | undefined {
  const version = socket.getProtocol();
  if (!version) return undefined;
  const tls13 = version === 'TLSv1.3';
  const certificate = socket.getCertificate();
  const der = certificate && 'raw' in certificate ? certificate.raw : undefined;
  const endPoint = der ? endPointHash(der) : undefined;
  const data: Record<string, () => Buffer | undefined> = {};
  // In TLS 1.3 an empty context and no context give the same exporter value (RFC 8446 §7.5).
  if (tls13) data['tls-exporter'] = () => socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  else data['tls-unique'] = () => (socket.isSessionReused() ? socket.getFinished() : socket.getPeerFinished());
  if (der && endPoint) data['tls-server-end-point'] = () => createHash(endPoint).update(der).digest();
  const types = Object.keys(data);
  if (types.length === 0) return undefined;
  return {
    types,
    data: (type) => data[type]?.(),
  };
}
