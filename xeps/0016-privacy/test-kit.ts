// What the privacy and blocking protocol tests share: fresh users per test, real xmpp.js clients,
// iq requests that return the result or the error, and stanza matchers.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import type { SubscriptionState } from '../../src/storage/types.js';
import { connect, type ClientTransport, type TestClient } from '../../test/support/clients.js';
import type { TestServer } from '../../test/support/server.js';

export const PRIVACY = 'jabber:iq:privacy';
export const BLOCKING = 'urn:xmpp:blocking';
export const BLOCKING_ERRORS = 'urn:xmpp:blocking:errors';
export const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
export const PASSWORD = 'secret';

let counter = 0;

/** Users that exist only for one test, so lists and block lists never leak between tests. */
export async function freshUsers<const N extends readonly string[]>(server: TestServer, ...names: N): Promise<{ [K in N[number]]: string }> {
  counter++;
  const users: Record<string, string> = {};
  for (const name of names) {
    const username = `${name}${counter}`;
    await server.addUser(username, PASSWORD);
    users[name] = username;
  }
  return users as { [K in N[number]]: string };
}

/** Real clients a suite opens, stopped after each test. */
export class Clients {
  private readonly open: TestClient[] = [];

  constructor(private readonly server: () => TestServer) {}

  async login(username: string, resource: string, transport: ClientTransport = 'websocket'): Promise<TestClient> {
    const client = await connect(this.server(), { transport, username, password: PASSWORD, resource });
    this.open.push(client);
    return client;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.open.splice(0).map((c) => c.stop()));
  }
}

/** Sends an iq and resolves with the result stanza (rejects with xmpp.js's StanzaError on an error). */
export function request(client: TestClient, type: 'get' | 'set', child: Element, to?: string): Promise<Element> {
  return client.xmpp.iqCaller.request(xml('iq', to === undefined ? { type } : { type, to }, child));
}

export interface ErrorSummary {
  condition: string;
  type: string | undefined;
  /** Namespace of an application-specific condition, if any. */
  app: string | undefined;
}

/** Expects the iq to fail and returns its condition, type and application condition. */
export async function refused(result: Promise<unknown>): Promise<ErrorSummary> {
  try {
    await result;
  } catch (err) {
    const e = err as { condition?: string; type?: string; application?: Element; name?: string };
    assert.equal(e.name, 'StanzaError', `expected a stanza error, got ${String(err)}`);
    return { condition: e.condition ?? '', type: e.type, app: e.application?.attrs.xmlns as string | undefined };
  }
  assert.fail('expected an error');
}

/** The error of an error stanza, as the same summary. */
export function errorOf(stanza: Element): ErrorSummary {
  const error = stanza.getChild('error');
  assert.ok(error, `no <error/> in ${stanza.toString()}`);
  const children = error.getChildElements();
  const condition = children.find((c) => c.attrs.xmlns === STANZAS && c.name !== 'text');
  const app = children.find((c) => c.attrs.xmlns !== STANZAS);
  return { condition: condition?.name ?? '', type: error.attrs.type as string | undefined, app: app?.attrs.xmlns as string | undefined };
}

export const query = (...children: Element[]): Element => xml('query', { xmlns: PRIVACY }, ...children);
export const list = (name: string, ...items: Element[]): Element => xml('list', { name }, ...items);
export const item = (attrs: Record<string, string>, ...kinds: string[]): Element => xml('item', attrs, ...kinds.map((k) => xml(k)));

/** Writes a privacy list (XEP-0016 §2.6) and makes it the session's active list (§2.4). */
export async function activate(client: TestClient, name: string, ...items: Element[]): Promise<void> {
  await request(client, 'set', query(list(name, ...items)));
  await request(client, 'set', query(xml('active', { name })));
}

export const jid = (username: string, resource?: string): string => (resource ? `${username}@localhost/${resource}` : `${username}@localhost`);

export const isMessage = (from: string, body?: string) => (s: Element): boolean =>
  s.is('message') && s.attrs.from === from && s.attrs.type !== 'error' && (body === undefined || s.getChildText('body') === body);
export const isError = (name: string, from: string) => (s: Element): boolean => s.is(name) && s.attrs.type === 'error' && s.attrs.from === from;
export const isPresence = (from: string, type?: string) => (s: Element): boolean => s.is('presence') && s.attrs.from === from && s.attrs.type === type;
export const isPush = (ns: string, name: string) => (s: Element): boolean => s.is('iq') && s.attrs.type === 'set' && s.getChild(name, ns) !== undefined;

export const chat = (to: string, body: string): Element => xml('message', { to, type: 'chat' }, xml('body', {}, body));

/** Resolves when nothing matching arrives within `ms`. */
export async function quiet(client: TestClient, match: (s: Element) => boolean, ms = 300): Promise<void> {
  let got: Element | undefined;
  try {
    got = await client.next(match, ms);
  } catch {
    return;
  }
  assert.fail(`expected nothing, got ${got.toString()}`);
}

/** Consumes what matches until nothing more arrives for `ms` (duplicates from racing probes and broadcasts). */
export async function drain(client: TestClient, match: (s: Element) => boolean, ms = 150): Promise<void> {
  for (;;) {
    try {
      await client.next(match, ms);
    } catch {
      return;
    }
  }
}

/** Makes `a` and `b` contacts with the given subscription states, written straight to the roster store. */
export async function contacts(server: TestServer, a: string, b: string, states: { a: SubscriptionState; b: SubscriptionState; groupsOfB?: string[] }): Promise<void> {
  const roster = server.server.stores.roster;
  await roster.setItem(a, { jid: jid(b), subscription: states.a, ask: false, approved: false, groups: states.groupsOfB ?? [] });
  await roster.setItem(b, { jid: jid(a), subscription: states.b, ask: false, approved: false, groups: [] });
}
