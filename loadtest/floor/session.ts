// The floor relay's whole idea of an XMPP session, the same over TCP, WebSocket and BOSH: it answers the few
// requests of the load scenarios (SASL PLAIN with any password, bind, legacy session, roster get, pings) and
// relays each <message/> to the recipient's connection with `from` added. Nothing is parsed beyond the first
// bytes and an attribute or two; nothing is stored but who is online.
//
// With --xml-work 1 (`loadtest/run --target floor-xml`) each relayed <message/> is parsed into an element tree with
// ltx (the parser and element model of xmpp.js) and written back from it with `from` set: the least XML work any
// server that reads what its clients send does per message, measured beside the relay itself. With --xml-work own
// (`--target floor-xml-own`) the same is done with Ratatosk's own parser and serialiser (parseFrame, serialize),
// loaded from a build (`--ratatosk-dist DIR`): what the XML work costs with the parts Ratatosk itself uses.
//
// The roster is synthetic: K items, the ring of `ratatosk user add-many --roster-size K` (src/admin/add-many.ts),
// so xmpp-load's roster check passes and its messages go to the same contacts as with the real servers.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'ltx';

export interface FloorOptions {
  domain: string;
  /** Users in the run (<prefix>1..<prefix>N), for the ring roster. */
  users: number;
  rosterSize: number;
  /** Parse and re-serialise each relayed message instead of splicing `from` into the text; undefined: splice. */
  xmlWork?: XmlWork;
}

/** An element as both parsers build it (ltx's model). */
export interface XmlElement {
  attrs: Record<string, string | undefined>;
  toString(): string;
}

/** What --xml-work does per relayed message: parse the text into an element, and write an element as text. */
export interface XmlWork {
  parse(text: string): XmlElement;
  serialize(element: XmlElement): string;
}

/** ltx: the parser and element model of xmpp.js. */
export const LTX_WORK: XmlWork = { parse: (text) => parse(text), serialize: (element) => element.toString() };

/** Ratatosk's own frame parser (RFC 7395 framing, all of its checks) and serialiser, from the build in `distDir`. */
export async function ownXmlWork(distDir: string): Promise<XmlWork> {
  type Own = {
    parseFrame(text: string, limits: { maxStanzaBytes: number; maxDepth: number }): XmlElement;
    serialize(element: XmlElement): string;
    loadConfig(options: { file: false; env: Record<string, string> }): { c2s: { maxStanzaSize: number; maxDepth: number } };
  };
  const url = (file: string): string => pathToFileURL(join(distDir, 'src', file)).href;
  const framed = (await import(url('xml/framed-parser.js'))) as Pick<Own, 'parseFrame'>;
  const writer = (await import(url('xml/serialize.js'))) as Pick<Own, 'serialize'>;
  const config = (await import(url('config/index.js'))) as Pick<Own, 'loadConfig'>;
  // Ratatosk's default caps (c2s.max_stanza_size, c2s.max_depth), as its authenticated streams apply them.
  const { c2s } = config.loadConfig({ file: false, env: {} });
  const limits = { maxStanzaBytes: c2s.maxStanzaSize, maxDepth: c2s.maxDepth };
  return { parse: (text) => framed.parseFrame(text, limits), serialize: (element) => writer.serialize(element) };
}

/** A connection a relayed message can be handed to, whatever its transport. */
export interface Deliverer {
  deliver(stanza: string): void;
}

/** Bare JID → the connection bound to it (one resource per user in these scenarios). */
export const online = new Map<string, Deliverer>();

export const NS_CLIENT = 'jabber:client';
const NS_STREAM = 'http://etherx.jabber.org/streams';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';

/** The features after a stream (re)start; the prefix is declared so that a WebSocket frame or BOSH body stands alone. */
export const FEATURES = {
  sasl: `<stream:features xmlns:stream='${NS_STREAM}'><mechanisms xmlns='${NS_SASL}'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
  bind: `<stream:features xmlns:stream='${NS_STREAM}'><bind xmlns='${NS_BIND}'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>`,
};

/** The value of attribute `name` in the start tag of `piece`. */
export function attribute(piece: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}=(['"])([^'"]*)\\1`).exec(piece.slice(0, piece.indexOf('>')));
  return match?.[2];
}

/** The next complete top-level piece of `text` from `start` (a declaration, stream tag or element): its end, or -1. */
export function pieceEnd(text: string, start: number): number {
  if (text.startsWith('<?xml', start)) {
    const end = text.indexOf('?>', start);
    return end < 0 ? -1 : end + 2;
  }
  if (text.startsWith('<stream:stream', start)) {
    const end = text.indexOf('>', start);
    return end < 0 ? -1 : end + 1;
  }
  if (text.startsWith('</stream:stream>', start)) return start + 16;
  const nameEnd = text.slice(start + 1, start + 40).search(/[\s/>]/);
  if (nameEnd < 0) return -1;
  const name = text.slice(start + 1, start + 1 + nameEnd);
  const tagEnd = text.indexOf('>', start);
  if (tagEnd < 0) return -1;
  if (text[tagEnd - 1] === '/') return tagEnd + 1;
  const close = text.indexOf(`</${name}>`, tagEnd);
  return close < 0 ? -1 : close + name.length + 3;
}

/** Calls `each` for every complete piece of `text`; returns what is left over (an incomplete piece). */
export function splitPieces(text: string, each: (piece: string) => void): string {
  let at = 0;
  for (;;) {
    while (at < text.length && text[at] !== '<') at++;
    if (at >= text.length) return '';
    const end = pieceEnd(text, at);
    if (end < 0) return text.slice(at);
    each(text.slice(at, end));
    at = end;
  }
}

export class FloorSession implements Deliverer {
  private user = '';
  private fullJid = '';

  /** `send` writes one element (or stream header) to this session's client; `deliver` is what others hand it. */
  constructor(private readonly options: FloorOptions, private readonly send: (text: string) => void) {}

  get authenticated(): boolean {
    return this.user !== '';
  }

  deliver(stanza: string): void {
    this.send(stanza);
  }

  /** The features for a stream (re)start in this session's state. */
  features(): string {
    return this.user ? FEATURES.bind : FEATURES.sasl;
  }

  /** One element from the client (not a stream header or close: each transport frames those its own way). */
  handle(piece: string): void {
    const xml = this.options.xmlWork;
    if (piece.startsWith('<message') && xml !== undefined) {
      const message = xml.parse(piece);
      message.attrs.from = this.fullJid;
      const to = String(message.attrs.to ?? '');
      const slash = to.indexOf('/');
      online.get(slash < 0 ? to : to.slice(0, slash))?.deliver(xml.serialize(message));
    } else if (piece.startsWith('<message')) {
      const to = attribute(piece, 'to') ?? '';
      const slash = to.indexOf('/');
      online.get(slash < 0 ? to : to.slice(0, slash))?.deliver(`<message from='${this.fullJid}'${piece.slice(8)}`);
    } else if (piece.startsWith('<iq')) {
      this.handleIq(piece);
    } else if (piece.startsWith('<auth')) {
      const credentials = Buffer.from(piece.slice(piece.indexOf('>') + 1, piece.lastIndexOf('<')), 'base64').toString().split('\0');
      this.user = `${credentials[1] ?? ''}@${this.options.domain}`;
      this.send(`<success xmlns='${NS_SASL}'/>`);
    }
    // Presence and anything else: nothing to do.
  }

  /** The client is gone. */
  close(): void {
    if (this.user && online.get(this.user) === this) online.delete(this.user);
  }

  private handleIq(piece: string): void {
    const type = attribute(piece, 'type');
    if (type !== 'get' && type !== 'set') return;
    const id = attribute(piece, 'id') ?? '';
    if (piece.includes(NS_BIND)) {
      this.fullJid = `${this.user}/${/<resource>([^<]*)</.exec(piece)?.[1] ?? 'floor'}`;
      online.set(this.user, this);
      this.send(`<iq xmlns='${NS_CLIENT}' type='result' id='${id}'><bind xmlns='${NS_BIND}'><jid>${this.fullJid}</jid></bind></iq>`);
    } else if (piece.includes('jabber:iq:roster')) {
      this.send(`<iq xmlns='${NS_CLIENT}' type='result' id='${id}' to='${this.fullJid}'><query xmlns='jabber:iq:roster'>${this.roster()}</query></iq>`);
    } else {
      this.send(`<iq xmlns='${NS_CLIENT}' type='result' id='${id}'/>`);
    }
  }

  /** The ring roster of add-many: ±1..±K/2 neighbours of user i among 1..N, and the opposite one for odd K. */
  private roster(): string {
    const { users, rosterSize, domain } = this.options;
    const match = /^(.*?)(\d+)@/.exec(this.user);
    if (!match || rosterSize <= 0 || users <= rosterSize) return '';
    const prefix = match[1] ?? '';
    const index = Number(match[2]) - 1;
    const offsets: number[] = [];
    for (let o = 1; o <= Math.floor(rosterSize / 2); o++) offsets.push(o, -o);
    if (rosterSize % 2 === 1) offsets.push(Math.floor(users / 2));
    return offsets
      .map((o) => `<item jid='${prefix}${(((index + o) % users) + users) % users + 1}@${domain}' subscription='both'/>`)
      .join('');
  }
}
