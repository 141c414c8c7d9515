// Test helpers for the PEP suites: xmpp.js clients that advertise entity capabilities (XEP-0115) and answer
// the server's disco#info on their caps node, contacts with a presence subscription, pubsub requests.
import { createHash } from 'node:crypto';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { connect, type ClientTarget, type ClientTransport, type TestClient } from '../../test/support/clients.js';
import type { TestServer } from '../../test/support/server.js';

export const PUBSUB = 'http://jabber.org/protocol/pubsub';
export const PUBSUB_EVENT = 'http://jabber.org/protocol/pubsub#event';
export const PUBSUB_OWNER = 'http://jabber.org/protocol/pubsub#owner';
export const PUBSUB_ERRORS = 'http://jabber.org/protocol/pubsub#errors';
export const DATA = 'jabber:x:data';
export const CAPS = 'http://jabber.org/protocol/caps';
export const INFO = 'http://jabber.org/protocol/disco#info';
export const AVATAR_DATA = 'urn:xmpp:avatar:data';
export const AVATAR_METADATA = 'urn:xmpp:avatar:metadata';
export const NICK = 'http://jabber.org/protocol/nick';
export const BOOKMARKS = 'urn:xmpp:bookmarks:1';
export const DEVICELIST = 'eu.siacs.conversations.axolotl.devicelist';
export const PASSWORD = 'secret';
const CAPS_NODE = 'https://ratatosk.example/tests/pep-client';

/** XEP-0115 §5.1 for one identity and features, no forms. */
function ver(features: readonly string[]): string {
  const sorted = [...features].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const input = `client/pc//pep test<${sorted.map((f) => `${f}<`).join('')}`;
  return createHash('sha1').update(input).digest('base64');
}

export interface CapsClient extends TestClient {
  /** How many times the server asked this client's caps node. */
  readonly discoQueries: () => number;
}

/**
 * Logs in and, with `features` (and `ver`, to advertise a verification string that does not match them), sends available presence with caps and waits until the server has asked the
 * caps node (if it needed to) and answered a ping after it, so the caps are known when this resolves.
 */
export async function capsClient(server: ClientTarget, username: string, options: { transport?: ClientTransport; resource?: string; features?: readonly string[]; ver?: string }): Promise<CapsClient> {
  const client = await connect(server, { transport: options.transport ?? 'tcp', username, password: PASSWORD, resource: options.resource ?? 'pc' });
  let queries = 0;
  const features = [INFO, CAPS, ...(options.features ?? [])];
  const v = options.ver ?? ver(features);
  let asked: () => void = () => undefined;
  const wasAsked = new Promise<void>((resolve) => {
    asked = resolve;
  });
  client.xmpp.iqCallee.get(INFO, 'query', (ctx: { element: Element }) => {
    queries++;
    asked();
    return xml('query', { xmlns: INFO, node: ctx.element.attrs.node }, xml('identity', { category: 'client', type: 'pc', name: 'pep test' }), ...features.map((f) => xml('feature', { var: f })));
  });
  const presence = options.features === undefined ? xml('presence') : xml('presence', {}, xml('c', { xmlns: CAPS, hash: 'sha-1', node: CAPS_NODE, ver: v }));
  await client.xmpp.send(presence);
  if (options.features !== undefined) {
    await Promise.race([wasAsked, new Promise((resolve) => setTimeout(resolve, 300))]);
    await client.xmpp.iqCaller.request(xml('iq', { type: 'get', to: server.domain }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
  }
  return Object.assign(client, { discoQueries: () => queries });
}

/** Makes two users each other's contacts with a mutual presence subscription (RFC 6121 'both'). */
export async function befriend(server: TestServer, a: string, b: string): Promise<void> {
  const both = (jid: string) => ({ jid: `${jid}@${server.domain}`, subscription: 'both' as const, ask: false, approved: false, groups: [] });
  await server.server.stores.roster.setItem(a, both(b));
  await server.server.stores.roster.setItem(b, both(a));
}

export function form(formType: string, fields: Record<string, string>): Element {
  return xml('x', { xmlns: DATA, type: 'submit' },
    xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, formType)),
    ...Object.entries(fields).map(([name, value]) => xml('field', { var: name }, xml('value', {}, value))));
}

export function publishIq(node: string, id: string | undefined, payload: Element, options?: Record<string, string>, to?: string): Element {
  const pubsub = xml('pubsub', { xmlns: PUBSUB }, xml('publish', { node }, xml('item', id === undefined ? {} : { id }, payload)));
  if (options) pubsub.append(xml('publish-options', {}, form(`${PUBSUB}#publish-options`, options)));
  return xml('iq', { type: 'set', ...(to === undefined ? {} : { to }) }, pubsub);
}

export function itemsIq(to: string, node: string, ids: readonly string[] = [], maxItems?: number): Element {
  return xml('iq', { type: 'get', to }, xml('pubsub', { xmlns: PUBSUB }, xml('items', maxItems === undefined ? { node } : { node, max_items: String(maxItems) }, ...ids.map((id) => xml('item', { id })))));
}

/** The items of a pubsub result, as [id, payload] pairs. */
export function itemsOf(result: Element): Array<[string, Element | undefined]> {
  return (result.getChild('pubsub', PUBSUB)?.getChild('items')?.getChildren('item') ?? []).map((i) => [String(i.attrs.id), i.getChildElements()[0]]);
}

/** The error condition and pubsub#errors application condition of a refused request. */
export async function refusal(request: Promise<unknown>): Promise<string> {
  try {
    await request;
  } catch (err) {
    const { condition, application } = err as { condition?: unknown; application?: Element };
    if (typeof condition === 'string') return application === undefined ? condition : `${condition}/${application.name}`;
    throw err;
  }
  throw new Error('the request succeeded');
}

/** A pubsub event message about `node` (items published, retracted, or the node deleted). */
export const eventFor = (node: string) => (s: Element): boolean =>
  s.is('message') && (s.getChild('event', PUBSUB_EVENT)?.getChild('items')?.attrs.node === node || s.getChild('event', PUBSUB_EVENT)?.getChild('delete')?.attrs.node === node);

export const avatarPng = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
export const avatarId = createHash('sha1').update(avatarPng).digest('hex');
export const metadata = (id = avatarId, bytes = avatarPng.length): Element => xml('metadata', { xmlns: AVATAR_METADATA }, xml('info', { id, bytes: String(bytes), type: 'image/png' }));
