// Who is at the other end of a client connection, and whether the path to it is secure: the one rule
// WebSocket, BOSH, host-meta (XEP-0156) and the TCP listeners use.
//
//  - TLS on the socket is secure.
//  - A PROXY protocol header (proxy-protocol.ts; accepted only from the listener's proxy_protocol_from
//    addresses) names the client, and its v2 PP2_CLIENT_SSL flag says the client reached the proxy over TLS.
//  - HTTP forwarding headers, X-Forwarded-For / X-Forwarded-Proto / X-Forwarded-Host (de facto) and
//    Forwarded (RFC 7239 §4-§6), are believed only from a trusted proxy (http.trusted_proxies), and make a
//    request secure only when they say the client used https: coming from a proxy never does by itself.
//    The client is the right-most X-Forwarded-For (else Forwarded for=) address that is not itself a
//    trusted proxy, so nothing a client prepends counts.
//  - A loopback peer with no forwarding headers and no PROXY header is a person or program on this
//    machine: secure, since loopback traffic cannot be sniffed. A loopback peer that sends forwarding
//    headers is a proxy on this host (nginx beside the node) and follows the proxy rule.
import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { LOOPBACK_RANGES } from '../config/schema.js';
import type { ProxyHeader } from './proxy-protocol.js';

export interface ClientOrigin {
  /** The client's address as this node believes it: for limits, throttles, logs and `session list`. */
  remoteAddress: string;
  /** Safe for credentials: the client used https (below), or it is on this machine (loopback, no proxy). */
  secure: boolean;
  /**
   * The client reached us (or the proxy in front) over TLS: TLS on the socket, a PROXY v2 TLS flag, or a
   * trusted proxy saying https. What host-meta's URLs must use; differs from `secure` only for a direct
   * loopback client on plain HTTP, which is secure but must be sent to ws:// and http:// URLs.
   */
  https: boolean;
  /** X-Forwarded-* / Forwarded came from a trusted proxy and were read (host-meta believes X-Forwarded-Host then). */
  forwardedHeadersTrusted: boolean;
}

/** The parts of an HTTP request the rule reads (an IncomingMessage has them). */
export interface RequestView {
  headers: IncomingHttpHeaders;
  socket: { remoteAddress?: string | undefined; encrypted?: boolean };
}

/** The address form used everywhere: IPv4-mapped IPv6 as plain IPv4, 'unknown' when there is none. */
export function normaliseAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** A membership test for a list of addresses and CIDR blocks (both families; IPv4-mapped IPv6 matches IPv4). */
export function addressMatcher(entries: readonly string[]): (address: string) => boolean {
  if (entries.length === 0) return () => false;
  const list = new net.BlockList();
  for (const entry of entries) {
    const slash = entry.indexOf('/');
    const address = slash === -1 ? entry : entry.slice(0, slash);
    const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
    if (slash === -1) list.addAddress(address, family);
    else list.addSubnet(address, Number(entry.slice(slash + 1)), family);
  }
  // BlockList.check builds a SocketAddress per call (2.7 % of the server's profile at 200 BOSH msg/s, where
  // every request asks it about its peer), while a server's peers are few and keep asking: answers are kept,
  // and all forgotten at once when the memo is full (peers behind a trusted proxy may name whatever address they like).
  const answers = new Map<string, boolean>();
  return (raw: string): boolean => {
    const known = answers.get(raw);
    if (known !== undefined) return known;
    const address = normaliseAddress(raw);
    const family = net.isIP(address);
    const answer = family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
    if (answers.size >= MATCHER_MEMO_SIZE) answers.clear();
    answers.set(raw, answer);
    return answer;
  };
}

/** Addresses an addressMatcher remembers its answer for. */
export const MATCHER_MEMO_SIZE = 4096;

export const isLoopback = addressMatcher(LOOPBACK_RANGES);

/** What a PROXY header said about a connection, kept with its socket for every request on it. */
interface Proxied {
  remoteAddress: string;
  clientTls: boolean;
}

const proxiedSockets = new WeakMap<object, Proxied>();

/** Records the PROXY header a connection started with (the HTTP listener's requests read it back). */
export function rememberProxyHeader(socket: object, peer: string | undefined, header: ProxyHeader): void {
  proxiedSockets.set(socket, { remoteAddress: normaliseAddress(header.source?.address ?? peer), clientTls: header.clientTls });
}

/** A TCP connection: TLS on the socket, or a PROXY header's client and its TLS flag. */
export function connectionOrigin(peer: string | undefined, tlsOnSocket: boolean, header?: ProxyHeader): { remoteAddress: string; secure: boolean } {
  return { remoteAddress: normaliseAddress(header?.source?.address ?? peer), secure: tlsOnSocket || (header?.clientTls ?? false) };
}

export class ClientOriginRule {
  readonly isTrustedProxy: (address: string) => boolean;

  /** `trustedProxies`: http.trusted_proxies (its default is loopback; see src/config/schema.ts). */
  constructor(trustedProxies: readonly string[]) {
    this.isTrustedProxy = addressMatcher(trustedProxies);
  }

  /** An HTTP request: a WebSocket upgrade, a BOSH POST, a host-meta GET. */
  ofRequest(request: RequestView): ClientOrigin {
    const socket = request.socket;
    const peer = normaliseAddress(socket.remoteAddress);
    const proxied = proxiedSockets.get(socket);
    // The party that wrote this request's bytes: the PROXY header's client, else the socket's peer.
    const hop = proxied?.remoteAddress ?? peer;
    let https = socket.encrypted === true || (proxied?.clientTls ?? false);
    const headers = request.headers;
    const forwarded = FORWARDING_HEADERS.some((name) => headers[name] !== undefined);
    if (!forwarded && !proxied && isLoopback(peer)) return { remoteAddress: peer, secure: true, https, forwardedHeadersTrusted: false };
    if (!forwarded || !this.isTrustedProxy(hop)) return { remoteAddress: hop, secure: https, https, forwardedHeadersTrusted: false };

    const elements = parseForwarded(joined(headers.forwarded));
    const xff = joined(headers['x-forwarded-for']);
    const chain = xff !== undefined ? xff.split(',').map((s) => s.trim()) : elements.map((e) => e.for ?? '');
    let remoteAddress = hop;
    for (let i = chain.length - 1; i >= 0; i--) {
      const address = nodeAddress(chain[i] ?? '');
      // "unknown", an obfuscated name or garbage: the client cannot be told, so the last proxy stands for it.
      if (address === undefined) break;
      remoteAddress = address;
      if (!this.isTrustedProxy(address)) break;
    }
    // The scheme the client used, as the nearest (trusted) proxy reports it. When both header kinds are
    // present they must agree: a proxy that sets one passes the other through from the client unchanged.
    const schemes = [lastValue(joined(headers['x-forwarded-proto'])), elements.at(-1)?.proto].filter((s): s is string => s !== undefined);
    if (schemes.length > 0 && schemes.every((s) => SECURE_SCHEMES.has(s.toLowerCase()))) https = true;
    return { remoteAddress, secure: https, https, forwardedHeadersTrusted: true };
  }
}

/** Headers that mark a request as relayed by a proxy. */
/** The request headers `ofRequest` reads. */
export const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-real-ip'] as const;
const SECURE_SCHEMES = new Set(['https', 'wss']);

function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function lastValue(value: string | undefined): string | undefined {
  const last = value?.split(',').at(-1)?.trim();
  return last ? last : undefined;
}

/**
 * An address from X-Forwarded-For or a Forwarded node (RFC 7239 §6): IPv4, IPv6, either with a port,
 * IPv6 in brackets. Undefined for "unknown", obfuscated identifiers (§6.3) and anything else.
 */
export function nodeAddress(raw: string): string | undefined {
  let text = raw.trim();
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) return undefined;
    const rest = text.slice(close + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    text = text.slice(1, close);
    return net.isIPv6(text) ? normaliseAddress(text) : undefined;
  }
  if (net.isIP(text) !== 0) return normaliseAddress(text);
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(text);
  return withPort?.[1] !== undefined && net.isIPv4(withPort[1]) ? withPort[1] : undefined;
}

export interface ForwardedElement {
  for?: string;
  proto?: string;
  host?: string;
  by?: string;
}

/** RFC 7239 §4: elements separated by commas, pairs by semicolons, values tokens or quoted strings. */
export function parseForwarded(header: string | undefined): ForwardedElement[] {
  if (header === undefined) return [];
  const elements: ForwardedElement[] = [];
  let current: Record<string, string> = {};
  let i = 0;
  const push = (): void => {
    elements.push(current);
    current = {};
  };
  while (i < header.length) {
    const c = header[i];
    if (c === ' ' || c === '\t' || c === ';') {
      i++;
      continue;
    }
    if (c === ',') {
      push();
      i++;
      continue;
    }
    const eq = header.indexOf('=', i);
    if (eq === -1) break;
    const name = header.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    let value = '';
    if (header[i] === '"') {
      i++;
      while (i < header.length && header[i] !== '"') {
        if (header[i] === '\\') i++;
        value += header[i] ?? '';
        i++;
      }
      i++;
    } else {
      const end = header.slice(i).search(/[;,]/);
      value = (end === -1 ? header.slice(i) : header.slice(i, i + end)).trim();
      i = end === -1 ? header.length : i + end;
    }
    if (name === 'for' || name === 'proto' || name === 'host' || name === 'by') current[name] = value;
  }
  push();
  return elements.filter((e) => Object.keys(e).length > 0);
}
