// What the XEP-0045 tests share: real xmpp.js clients logged in over TCP or WebSocket, entering rooms, the
// owner's forms, and matchers for the room's presence and messages.
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { connect, type ClientTransport, type TestClient } from '../../test/support/clients.js';
import type { TestServer } from '../../test/support/server.js';

export const MUC = 'http://jabber.org/protocol/muc';
export const MUC_USER = 'http://jabber.org/protocol/muc#user';
export const MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
export const MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
export const DATA = 'jabber:x:data';
export const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
export const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
export const PASSWORD = 'secret';
export const SERVICE = 'conference.localhost';

/** Real clients opened by a suite, stopped after each test; users created on demand with unique names. */
export class Clients {
  private readonly open: TestClient[] = [];
  private serial = 0;

  constructor(private readonly server: () => TestServer) {}

  async users(...prefixes: string[]): Promise<string[]> {
    const names = prefixes.map((p) => `${p}${++this.serial}`);
    for (const name of names) await this.server().addUser(name, PASSWORD);
    return names;
  }

  async login(username: string, transport: ClientTransport = 'tcp', resource = 'res'): Promise<TestClient> {
    const client = await connect(this.server(), { transport, username, password: PASSWORD, resource });
    this.open.push(client);
    return client;
  }

  /** Logs in and sends initial presence, so messages to the bare JID reach this resource (RFC 6121 §8.5.2). */
  async online(username: string, transport: ClientTransport = 'tcp', resource = 'res'): Promise<TestClient> {
    const client = await this.login(username, transport, resource);
    await client.xmpp.send(xml('presence'));
    await client.next((s) => s.is('presence') && s.attrs.from === `${username}@localhost/${resource}`);
    return client;
  }

  /** A unique room JID on the service. */
  room(prefix = 'room'): string {
    return `${prefix}${++this.serial}@${SERVICE}`;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.open.splice(0).map((c) => c.stop()));
  }
}

export function statuses(stanza: Element): number[] {
  const x = stanza.getChild('x', MUC_USER);
  return (x?.getChildren('status') ?? []).map((s) => Number(s.attrs.code));
}

export function item(stanza: Element): Record<string, string> {
  const found = stanza.getChild('x', MUC_USER)?.getChild('item');
  if (found === undefined) throw new Error(`no muc#user item in ${stanza.toString()}`);
  return found.attrs as Record<string, string>;
}

/** The defined condition of an error stanza. */
export function condition(stanza: Element): string | undefined {
  const error = stanza.getChild('error');
  return error?.children.find((c): c is Element => typeof c !== 'string' && c.attrs.xmlns === STANZAS && c.name !== 'text')?.name;
}

export const isPresence =
  (from: string, type?: string) =>
  (s: Element): boolean =>
    s.is('presence') && s.attrs.from === from && s.attrs.type === type;

export const isSelf =
  (from: string) =>
  (s: Element): boolean =>
    s.is('presence') && s.attrs.from === from && statuses(s).includes(110);

export const isMessage =
  (from: string, type?: string) =>
  (s: Element): boolean =>
    s.is('message') && s.attrs.from === from && (type === undefined || s.attrs.type === type);

export const isSubject =
  (room: string) =>
  (s: Element): boolean =>
    s.is('message') && s.attrs.type === 'groupchat' && s.attrs.from?.startsWith(room) === true && s.getChild('subject') !== undefined && s.getChild('body') === undefined;

export interface EnterOptions {
  password?: string;
  history?: Record<string, string>;
  /** Wait for the subject too (the end of the §7.1 sequence). */
  subject?: boolean;
}

let joins = 0;

/** §7.2: enters a room and resolves with the self-presence, or rejects with the error condition. */
export async function enter(client: TestClient, room: string, nick: string, options: EnterOptions = {}): Promise<Element> {
  const x = xml('x', { xmlns: MUC });
  if (options.password !== undefined) x.append(xml('password', {}, options.password));
  if (options.history !== undefined) x.append(xml('history', options.history));
  const id = `join-${nick}-${++joins}`;
  await client.xmpp.send(xml('presence', { to: `${room}/${nick}`, id }, x));
  // The self-presence (§7.2.2) and an error both carry the join's id.
  const answer = await client.next((s) => s.is('presence') && s.attrs.from === `${room}/${nick}` && s.attrs.id === id && (s.attrs.type === 'error' || statuses(s).includes(110)));
  if (answer.attrs.type === 'error') throw new EnterError(condition(answer) ?? 'undefined-condition', answer);
  if (options.subject) await client.next(isSubject(room));
  return answer;
}

export class EnterError extends Error {
  constructor(readonly condition: string, readonly stanza: Element) {
    super(`refused: ${condition}`);
  }
}

/** The condition a room refused entry with. */
export async function refusedEntry(attempt: Promise<unknown>): Promise<string> {
  try {
    await attempt;
  } catch (err) {
    if (err instanceof EnterError) return err.condition;
    throw err;
  }
  throw new Error('the room let the user in');
}

/** The condition an iq was refused with. */
export async function refusal(request: Promise<unknown>): Promise<string> {
  try {
    await request;
  } catch (err) {
    const found = (err as { condition?: unknown }).condition;
    if (typeof found === 'string') return found;
    throw err;
  }
  throw new Error('the request succeeded');
}

export function iq(client: TestClient, type: 'get' | 'set', to: string, payload: Element): Promise<Element> {
  return client.xmpp.iqCaller.request(xml('iq', { type, to }, payload));
}

export function formSubmit(fields: Record<string, string | string[]>, formType = 'http://jabber.org/protocol/muc#roomconfig'): Element {
  const x = xml('x', { xmlns: DATA, type: 'submit' }, xml('field', { var: 'FORM_TYPE' }, xml('value', {}, formType)));
  for (const [name, value] of Object.entries(fields)) {
    x.append(xml('field', { var: name }, ...(Array.isArray(value) ? value : [value]).map((v) => xml('value', {}, v))));
  }
  return x;
}

/** §10.2: submits configuration fields. */
export function configure(client: TestClient, room: string, fields: Record<string, string | string[]>): Promise<Element> {
  return iq(client, 'set', room, xml('query', { xmlns: MUC_OWNER }, formSubmit(fields)));
}

/** §10.1.1 then §10.1.2: creates the room by entering it and accepts the default configuration. */
export async function createRoom(client: TestClient, room: string, nick: string, fields?: Record<string, string | string[]>): Promise<Element> {
  const self = await enter(client, room, nick, { subject: true });
  if (!statuses(self).includes(201)) throw new Error(`${room} existed already`);
  if (fields === undefined) await iq(client, 'set', room, xml('query', { xmlns: MUC_OWNER }, xml('x', { xmlns: DATA, type: 'submit' })));
  else await configure(client, room, fields);
  return self;
}

export function admin(client: TestClient, type: 'get' | 'set', room: string, ...items: Element[]): Promise<Element> {
  return iq(client, type, room, xml('query', { xmlns: MUC_ADMIN }, ...items));
}

export function groupchat(client: TestClient, room: string, body: string, id?: string): Promise<void> {
  return client.xmpp.send(xml('message', id === undefined ? { to: room, type: 'groupchat' } : { to: room, type: 'groupchat', id }, xml('body', {}, body)));
}

/** Resolves when no stanza matching arrives within `ms`. */
export async function nothing(client: TestClient, match: (s: Element) => boolean, ms = 400): Promise<void> {
  const seen = await client.next(match, ms).catch(() => undefined);
  if (seen) throw new Error(`unexpected stanza: ${seen.toString()}`);
}

export { xml };
