// Specifications the core itself implements (modules declare their own in defineModule).
import type { SpecReference } from './modules/api.js';

export const CORE_SPECS: readonly SpecReference[] = [
  { id: 'RFC 6120', title: 'XMPP Core', scope: 'c2s streams, STARTTLS, SASL, resource binding, stanza and stream errors, from-stamping', status: 'complete' },
  { id: 'RFC 6121', title: 'XMPP IM', scope: '§8 delivery rules for message, presence and iq to the server, bare and full JIDs', status: 'partial' },
  { id: 'RFC 7395', title: 'XMPP over WebSocket', scope: 'subprotocol xmpp at /xmpp-websocket, framing, close handshake', status: 'complete' },
  { id: 'RFC 7622', title: 'XMPP Address Format', scope: 'JID parsing and normalisation (NFKC and case folding, not full PRECIS)', status: 'partial' },
  { id: 'RFC 4616', title: 'SASL PLAIN', scope: 'over TLS (or plaintext when require_tls is off)', status: 'complete' },
  { id: 'RFC 5802', title: 'SCRAM-SHA-1', scope: "SCRAM-SHA-1, SCRAM-SHA-256 (RFC 7677) and SCRAM-SHA-512 (draft-melnikov-scram-sha-512) with their -PLUS variants on TLS connections this server terminates (tls-exporter on TLS 1.3, tls-unique on TLS 1.2, tls-server-end-point); GS2 flags checked (§6: 'y' fails where -PLUS is offered); [auth] scram_hashes", status: 'complete' },
  { id: 'RFC 7677', title: 'SCRAM-SHA-256', scope: 'with SCRAM-SHA-256-PLUS (see RFC 5802)', status: 'complete' },
  { id: 'RFC 5929', title: 'Channel Bindings for TLS', scope: 'tls-server-end-point (hash of our certificate) and tls-unique (TLS 1.2 and older) for SCRAM-*-PLUS', status: 'complete' },
  { id: 'RFC 9266', title: 'Channel Bindings for TLS 1.3', scope: 'tls-exporter on TLS 1.3 for SCRAM-*-PLUS', status: 'complete' },
  { id: 'XEP-0440', title: 'SASL Channel-Binding Type Capability', version: '1.0.0', scope: '<sasl-channel-binding/> in the stream features with the types of the connection, beside -PLUS', status: 'complete' },
  { id: 'XEP-0474', title: 'SASL SCRAM Downgrade Protection', version: '0.5.0', scope: 'h= in the SCRAM server-first-message: the hash (of the mechanism) of the offered mechanisms and channel-binding types (legacy SASL and SASL2)', status: 'complete' },
  { id: 'RFC 3921', title: 'Session establishment (legacy)', version: '§3', scope: 'answers the optional <session/> request older clients send', status: 'complete' },
  { id: 'XEP-0124', title: 'Bidirectional-streams Over Synchronous HTTP (BOSH)', version: '1.11.2', scope: 'sessions at /http-bind: rid window, hold, wait, acks (simple form), pause, polling limits, response cache, terminal conditions; no key sequencing or multiple streams', status: 'partial' },
  { id: 'XEP-0206', title: 'XMPP Over BOSH', version: '1.4', scope: 'xmpp:version, stream features in the creation response, xmpp:restart, remote-stream-error', status: 'complete' },
  { id: 'XEP-0388', title: 'Extensible SASL Profile', version: '1.0.4', scope: 'SASL2 on TCP, WebSocket and BOSH beside RFC 6120 SASL ([c2s] sasl2): every mechanism, user-agent, challenge/response, abort, success with additional-data and authorization-identifier and no restart, failure with the SASL conditions; inline features from modules (FAST, XEP-0198 resumption); no <continue/> tasks', status: 'partial' },
  { id: 'XEP-0386', title: 'Bind 2', version: '0.4.0', scope: 'bind inside SASL2 with <tag/>, the resource from the tag and the user-agent id, <bound/> with the inline features modules register (XEP-0198 enable, XEP-0280 enable, XEP-0352 state)', status: 'complete' },
  { id: 'XEP-0368', title: 'SRV records for XMPP over TLS', version: '1.1.0', scope: 'direct TLS listener on 5223', status: 'complete' },
  { id: 'XEP-0156', title: 'Discovering Alternative XMPP Connection Methods', version: '1.4.0', scope: 'HTTP lookup: /.well-known/host-meta (XRD) and host-meta.json (JRD) with CORS, listing the WebSocket and BOSH URLs', status: 'complete' },
];
