// What the XEP-0313 tests share: archive queries from a real xmpp.js client (results collected as they
// come, then the <fin/>), backward paging to the start, rooms made and entered with plain stanzas.
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import type { TestClient } from '../../test/support/clients.js';

export const MAM = 'urn:xmpp:mam:2';
export const RSM = 'http://jabber.org/protocol/rsm';
export const SID = 'urn:xmpp:sid:0';
export const FORWARD = 'urn:xmpp:forward:0';
export const DATA = 'jabber:x:data';
export const MUC = 'http://jabber.org/protocol/muc';
export const MUC_USER = 'http://jabber.org/protocol/muc#user';
export const MUC_OWNER = 'http://jabber.org/protocol/muc#owner';

export interface Result {
  readonly id: string;
  readonly stamp: string;
  readonly message: Element;
  readonly body: string;
}

export interface Answer {
  readonly results: Result[];
  readonly complete: boolean;
  readonly first?: string;
  readonly last?: string;
}

export interface QueryOptions {
  readonly to?: string;
  readonly fields?: Record<string, string | string[]>;
  readonly max?: number;
  readonly after?: string;
  /** '' asks for the last page. */
  readonly before?: string;
}

let serial = 0;

export function queryElement(options: QueryOptions, queryid: string): Element {
  const query = xml('query', { xmlns: MAM, queryid });
  if (options.fields !== undefined) {
    const form = xml('x', { xmlns: DATA, type: 'submit' }, xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, MAM)));
    for (const [name, value] of Object.entries(options.fields)) form.append(xml('field', { var: name }, ...(Array.isArray(value) ? value : [value]).map((v) => xml('value', {}, v))));
    query.append(form);
  }
  if (options.max !== undefined || options.after !== undefined || options.before !== undefined) {
    const set = xml('set', { xmlns: RSM });
    if (options.max !== undefined) set.append(xml('max', {}, String(options.max)));
    if (options.after !== undefined) set.append(xml('after', {}, options.after));
    if (options.before !== undefined) set.append(xml('before', {}, options.before));
    query.append(set);
  }
  return query;
}

/** §4: one query; resolves with the results (in the order they came) and the <fin/>; rejects with the error. */
export async function query(client: TestClient, options: QueryOptions = {}): Promise<Answer> {
  const queryid = `q${++serial}`;
  const results: Result[] = [];
  const collect = (stanza: Element): void => {
    const result = stanza.getChild('result', MAM);
    if (!stanza.is('message') || result === undefined || result.attrs.queryid !== queryid) return;
    const forwarded = result.getChild('forwarded', FORWARD);
    const message = forwarded?.getChild('message');
    if (message === undefined) throw new Error(`result without a forwarded message: ${stanza.toString()}`);
    results.push({ id: result.attrs.id as string, stamp: forwarded?.getChild('delay')?.attrs.stamp as string, message, body: message.getChildText('body') ?? '' });
  };
  client.xmpp.on('stanza', collect);
  try {
    const iq = await client.xmpp.iqCaller.request(xml('iq', options.to === undefined ? { type: 'set' } : { type: 'set', to: options.to }, queryElement(options, queryid)));
    const fin = iq.getChild('fin', MAM);
    if (fin === undefined) throw new Error(`no <fin/>: ${iq.toString()}`);
    const set = fin.getChild('set', RSM);
    const first = set?.getChildText('first') ?? undefined;
    const last = set?.getChildText('last') ?? undefined;
    return { results, complete: fin.attrs.complete === 'true', ...(first === undefined ? {} : { first }), ...(last === undefined ? {} : { last }) };
  } finally {
    client.xmpp.removeListener('stanza', collect);
  }
}

/** A new device's way: the last page, then each page before it, until complete; every result, oldest first. */
export async function pageBackwards(client: TestClient, pageSize: number, to?: string): Promise<{ results: Result[]; pages: number }> {
  const pages: Result[][] = [];
  let before = '';
  for (;;) {
    const answer = await query(client, { ...(to === undefined ? {} : { to }), max: pageSize, before });
    if (answer.results.length > pageSize) throw new Error(`a page of ${answer.results.length} for max ${pageSize}`);
    pages.unshift(answer.results);
    if (answer.complete || answer.first === undefined) break;
    before = answer.first;
    if (pages.length > 1000) throw new Error('paging does not end');
  }
  return { results: pages.flat(), pages: pages.length };
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

/** XEP-0045 §10.1: enters a new room and accepts the default configuration (an instant room). */
export async function createRoom(client: TestClient, room: string, nick: string): Promise<void> {
  await enterRoom(client, room, nick);
  await client.xmpp.iqCaller.request(xml('iq', { type: 'set', to: room }, xml('query', { xmlns: MUC_OWNER }, xml('x', { xmlns: DATA, type: 'submit' }))));
}

export async function enterRoom(client: TestClient, room: string, nick: string): Promise<void> {
  await client.xmpp.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: MUC })));
  await client.next((s) => s.is('presence') && s.attrs.from === `${room}/${nick}` && (s.getChild('x', MUC_USER)?.getChildren('status') ?? []).some((st) => st.attrs.code === '110'));
}
