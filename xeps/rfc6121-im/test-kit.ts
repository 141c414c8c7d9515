// What the IM protocol tests share: logging real clients in, roster requests, stanza matchers, and a raw
// TCP client whose socket can be dropped without a goodbye.
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { connect, type ClientTransport, type TestClient } from '../../test/support/clients.js';
import { rawConnect, STREAM_OPEN, type RawPeer } from '../../test/support/raw.js';
import type { RosterItem } from '../../src/storage/types.js';
import type { TestServer } from '../../test/support/server.js';

export const ROSTER = 'jabber:iq:roster';
export const PASSWORD = 'secret';

/** Real clients opened by a suite, stopped after each test. */
export class Clients {
  private readonly open: TestClient[] = [];
  private readonly raws: RawPeer[] = [];

  constructor(private readonly server: () => TestServer) {}

  async login(username: string, transport: ClientTransport, resource: string): Promise<TestClient> {
    const client = await connect(this.server(), { transport, username, password: PASSWORD, resource });
    this.open.push(client);
    return client;
  }

  /** Logs in, asks for the roster (becoming an interested resource) and sends initial presence. */
  async online(username: string, transport: ClientTransport, resource: string, presence: Element = xml('presence')): Promise<TestClient> {
    const client = await this.login(username, transport, resource);
    await rosterGet(client);
    await client.xmpp.send(presence);
    await client.next(isPresence(`${username}@localhost/${resource}`)); // the server echoes it (§4.2.2)
    return client;
  }

  /** A raw plaintext TCP client (the server must allow plaintext logins), authenticated, with the new stream's features read. */
  async rawAuthenticated(username: string): Promise<RawPeer> {
    const peer = await rawConnect(this.server().ports.c2s);
    this.raws.push(peer);
    peer.write(STREAM_OPEN());
    await peer.waitFor(/<\/stream:features>/);
    peer.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${username}\0${PASSWORD}`).toString('base64')}</auth>`);
    await peer.waitFor(/<success/);
    peer.write(STREAM_OPEN());
    await peer.waitFor(/<bind[^>]*>[\s\S]*<\/stream:features>/);
    return peer;
  }

  /** A raw plaintext TCP client, bound, interested in the roster and available. */
  async raw(username: string, resource: string): Promise<RawPeer> {
    const peer = await this.rawAuthenticated(username);
    peer.write(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    await peer.waitFor(/<\/jid>/);
    peer.write(`<iq type='get' id='roster1'><query xmlns='${ROSTER}'/></iq><presence/>`);
    await peer.waitFor(new RegExp(`<presence[^>]*from=["']${username}@localhost/${resource}["']`));
    return peer;
  }

  async stopAll(): Promise<void> {
    for (const raw of this.raws.splice(0)) raw.destroy();
    await Promise.all(this.open.splice(0).map((c) => c.stop()));
  }
}

export async function rosterGet(client: TestClient, ver?: string): Promise<Element> {
  return client.xmpp.iqCaller.request(xml('iq', { type: 'get' }, xml('query', ver === undefined ? { xmlns: ROSTER } : { xmlns: ROSTER, ver })));
}

export async function rosterSet(client: TestClient, item: Record<string, string>, ...groups: string[]): Promise<Element> {
  return client.xmpp.iqCaller.request(xml('iq', { type: 'set' }, xml('query', { xmlns: ROSTER }, xml('item', item, ...groups.map((g) => xml('group', {}, g))))));
}

/** The stanza error condition a request was refused with. */
export async function refusal(request: Promise<unknown>): Promise<string> {
  try {
    await request;
  } catch (err) {
    const condition = (err as { condition?: unknown }).condition;
    if (typeof condition === 'string') return condition;
    throw err;
  }
  throw new Error('the request succeeded');
}

export const isPush =
  (jid?: string) =>
  (s: Element): boolean => {
    if (!s.is('iq') || s.attrs.type !== 'set') return false;
    const item = s.getChild('query', ROSTER)?.getChild('item');
    return item !== undefined && (jid === undefined || item.attrs.jid === jid);
  };

/** The <item/> of a roster push, with the push's version. */
export function pushed(push: Element): { ver: string | undefined; item: Element } {
  const query = push.getChild('query', ROSTER);
  const item = query?.getChild('item');
  if (!query || !item) throw new Error(`not a roster push: ${push.toString()}`);
  return { ver: query.attrs.ver as string | undefined, item };
}

export const isPresence =
  (from: string, type?: string) =>
  (s: Element): boolean =>
    s.is('presence') && s.attrs.from === from && s.attrs.type === type;

export const isMessage =
  (from?: string) =>
  (s: Element): boolean =>
    s.is('message') && (from === undefined || s.attrs.from === from);

/** Resolves when no stanza matching arrives within `ms`. */
export async function nothing(client: TestClient, match: (s: Element) => boolean, ms = 400): Promise<void> {
  const seen = await client.next(match, ms).catch(() => undefined);
  if (seen) throw new Error(`unexpected stanza: ${seen.toString()}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Makes two users subscribed to each other ('both'), straight in the store. */
export async function befriend(server: TestServer, a: string, b: string): Promise<void> {
  const roster = server.server.stores.roster;
  const both = (jid: string): RosterItem => ({ jid, subscription: 'both', ask: false, approved: false, groups: [] });
  await roster.setItem(a, both(`${b}@localhost`));
  await roster.setItem(b, both(`${a}@localhost`));
}
