// Roster management (RFC 6121 §2): get with versioning (§2.6, XEP-0237), set (§2.3, §2.4), remove (§2.5),
// pushes to interested resources (§2.1.6), and the roster versioning stream feature (§2.6.1).
import { StanzaError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import type { RosterItem } from '../../src/modules/api.js';
import { Element, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { hasFrom, hasTo, ROSTER_INTEREST, rosterItemElement, type Im } from './shared.js';

/**
 * Most items a roster may hold; a roster set or subscription that would add one more is refused with
 * not-allowed (§2.3.3). A constant until modules get configuration of their own.
 */
export const MAX_ROSTER_SIZE = 1000;

/** Longest item name and group name accepted, in UTF-8 bytes (§2.3.3 lets the server choose; 1023 like a JID part). */
export const MAX_ROSTER_TEXT_BYTES = 1023;

/** What a valid roster set asks for. */
export type RosterChange = { remove: true; jid: string } | { remove: false; jid: string; name?: string; groups: string[] };

/** Validates a roster set's <query/> (§2.1.5, §2.3.3); `owner` is the user's bare JID. */
export function parseRosterSet(query: Element, owner: Jid): RosterChange {
  const children = query.children.filter((c): c is Element => c instanceof Element);
  const item = children[0];
  if (children.length !== 1 || !item || item.name !== 'item') throw new StanzaError('bad-request', 'a roster set carries exactly one <item/>');
  const jidText = item.attrs.jid as string | undefined;
  if (jidText === undefined || jidText === '') throw new StanzaError('bad-request', "the item needs a 'jid'");
  const jid = Jid.tryParse(jidText);
  if (!jid) throw new StanzaError('bad-request', `"${jidText}" is not a valid JID`);
  if (!jid.isBare) throw new StanzaError('bad-request', 'roster items are bare JIDs');
  if (jid.equals(owner)) throw new StanzaError('not-allowed', 'your own JID cannot be a roster item');
  const subscription = item.attrs.subscription as string | undefined;
  if (subscription === 'remove') return { remove: true, jid: jid.toString() };
  if (subscription !== undefined) throw new StanzaError('bad-request', "in a roster set, 'subscription' may only be 'remove'");
  // 'ask' and 'approved' are the server's to set (§2.1.2.2, §2.1.2.1): ignored here.
  const nameText = item.attrs.name as string | undefined;
  if (nameText !== undefined && Buffer.byteLength(nameText) > MAX_ROSTER_TEXT_BYTES) {
    throw new StanzaError('not-acceptable', `the name is longer than ${MAX_ROSTER_TEXT_BYTES} bytes`);
  }
  const groups: string[] = [];
  for (const group of item.getChildren('group')) {
    const name = group.getText();
    if (name === '') throw new StanzaError('not-acceptable', 'a group name cannot be empty');
    if (Buffer.byteLength(name) > MAX_ROSTER_TEXT_BYTES) throw new StanzaError('not-acceptable', `a group name is longer than ${MAX_ROSTER_TEXT_BYTES} bytes`);
    if (groups.includes(name)) throw new StanzaError('bad-request', `group "${name}" is given twice`);
    groups.push(name);
  }
  const change: RosterChange = { remove: false, jid: jid.toString(), groups };
  if (nameText !== undefined && nameText !== '') change.name = nameText;
  return change;
}

/** The account a roster request is about: only a local user's own roster (§2.1.5: forbidden otherwise). */
function ownerOf(im: Im, from: Jid): string {
  if (!im.isLocalUser(from)) throw new StanzaError('forbidden', 'only the owner may use a roster');
  return from.local;
}

export function setupRoster(im: Im): void {
  const { ctx } = im;
  const stores = ctx.stores;
  ctx.hook('stream:features', (features, context) =>
    context.authenticated ? [...features, xml('ver', { xmlns: NS.rosterver }), xml('sub', { xmlns: NS.preApproval })] : features,
  );

  // §2.2, §2.6.3: the whole roster, or an empty result when the client's version is current.
  ctx.onIq('get', 'self', NS.roster, 'query', async (request) => {
    const username = ownerOf(im, request.from);
    request.session?.flags.add(ROSTER_INTEREST);
    const clientVersion = request.payload.attrs.ver as string | undefined;
    const roster = await stores.roster.get(username);
    const ver = String(roster.version);
    if (clientVersion !== undefined && clientVersion === ver) return undefined;
    const query = xml('query', { xmlns: NS.roster, ver: clientVersion !== undefined ? ver : undefined });
    for (const item of roster.items) query.cnode(rosterItemElement(item));
    return query;
  });

  ctx.onIq('set', 'self', NS.roster, 'query', async (request) => {
    const username = ownerOf(im, request.from);
    const change = parseRosterSet(request.payload, im.userJid(username));
    if (change.remove) return removeItem(im, username, change.jid);
    await im.rosters.run(username, async () => {
      const existing = await stores.roster.getItem(username, change.jid);
      if (!existing && (await stores.roster.count(username)) >= MAX_ROSTER_SIZE) {
        throw new StanzaError('not-allowed', `the roster is full (${MAX_ROSTER_SIZE} items)`);
      }
      const item: RosterItem = {
        jid: change.jid,
        subscription: existing?.subscription ?? 'none',
        ask: existing?.ask ?? false,
        approved: existing?.approved ?? false,
        groups: change.groups,
      };
      if (change.name !== undefined) item.name = change.name;
      im.push(username, item, await stores.roster.setItem(username, item));
    });
    return undefined;
  });

  // Someone else's roster (§2.3.3: forbidden); it reveals nothing about it.
  const refuse = (): never => {
    throw new StanzaError('forbidden', 'only the owner may use a roster');
  };
  ctx.onIq('get', 'bare', NS.roster, 'query', refuse);
  ctx.onIq('set', 'bare', NS.roster, 'query', refuse);
}

/**
 * §2.5.2: removes the item, pushes the removal, and ends the subscriptions both ways: unsubscribe if the
 * user had or asked for the contact's presence, unsubscribed if the contact had or asked for the user's.
 */
async function removeItem(im: Im, username: string, contact: string): Promise<undefined> {
  const { ctx } = im;
  const stores = ctx.stores;
  const removed = await im.rosters.run(username, async () => {
    const item = await stores.roster.getItem(username, contact);
    if (!item) throw new StanzaError('item-not-found', `${contact} is not in the roster`);
    const pendingIn = await stores.subscriptionRequests.remove(username, contact);
    const version = await stores.roster.removeItem(username, contact);
    if (version !== undefined) im.push(username, { jid: contact, removed: true }, version);
    return { item, pendingIn };
  });
  const user = im.userJid(username);
  const { item, pendingIn } = removed;
  if (hasTo(item.subscription) || item.ask) {
    await ctx.send(xml('presence', { type: 'unsubscribe', from: user.toString(), to: contact }), user);
  }
  if (hasFrom(item.subscription) || pendingIn) {
    await ctx.send(xml('presence', { type: 'unsubscribed', from: user.toString(), to: contact }), user);
  }
  if (hasFrom(item.subscription)) await im.sendUnavailableOf(username, contact);
  return undefined;
}
