// XEP-0016 §2.3-§2.8: the jabber:iq:privacy protocol. Retrieving list names and lists, the active
// list of a session, the default list of the user, editing, adding and removing lists, with the
// privacy list pushes of §2.2 rule 10. Every change is written to the store, then to the cache,
// before the result goes back (§2.4: "activate and apply the requested list before sending the result").
import { randomBytes } from 'node:crypto';
import { StanzaError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import type { BoundSession, ModuleContext } from '../../src/modules/api.js';
import type { PrivacyItem, PrivacyModuleStores } from './store/types.js';
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { PrivacyCache, UserPrivacy } from './cache.js';
import { compileList } from './engine.js';
import type { PrivacyGuard } from './enforce.js';

/** Limits by default (STYLE.md §8): lists per user, items per list, bytes in a list name. */
export const PRIVACY_LIMITS = { lists: 50, items: 1000, nameBytes: 1023 } as const;

const MAX_ORDER = 0xffffffff; // xs:unsignedInt
const STANZA_CHILDREN = new Map<string, 'message' | 'iq' | 'presenceIn' | 'presenceOut'>([
  ['message', 'message'],
  ['iq', 'iq'],
  ['presence-in', 'presenceIn'],
  ['presence-out', 'presenceOut'],
]);
const SUBSCRIPTIONS = new Set(['both', 'to', 'from', 'none']);

function elements(parent: Element): Element[] {
  return parent.getChildElements();
}

function badRequest(text: string): StanzaError {
  return new StanzaError('bad-request', text);
}

/** One <item/> of a list, validated as §2.1 and the schema require (bad-request otherwise). */
export function parseItem(el: Element): PrivacyItem {
  const { type, value, action, order } = el.attrs;
  if (action !== 'allow' && action !== 'deny') throw badRequest("an item's 'action' must be allow or deny");
  if (order === undefined || !/^\d{1,10}$/.test(order) || Number(order) > MAX_ORDER) throw badRequest("an item's 'order' must be a non-negative integer");
  const item: PrivacyItem = { action, order: Number(order), message: false, iq: false, presenceIn: false, presenceOut: false };
  if (type === undefined) {
    if (value !== undefined) throw badRequest("an item without 'type' (the fall-through item) takes no 'value'");
  } else if (type === 'jid') {
    const jid = Jid.tryParse(value);
    if (!jid) throw badRequest(`"${value ?? ''}" is not a valid JID`);
    item.type = 'jid';
    item.value = jid.toString();
  } else if (type === 'group') {
    if (!value) throw badRequest('a group item needs the group name in \'value\'');
    item.type = 'group';
    item.value = value;
  } else if (type === 'subscription') {
    if (value === undefined || !SUBSCRIPTIONS.has(value)) throw badRequest('a subscription item\'s value must be both, to, from or none');
    item.type = 'subscription';
    item.value = value;
  } else {
    throw badRequest("an item's 'type' must be jid, group or subscription");
  }
  for (const child of elements(el)) {
    const flag = child.getNS() === NS.privacy ? STANZA_CHILDREN.get(child.getName()) : undefined;
    if (!flag) throw badRequest(`<${child.getName()}/> is not a stanza kind (message, iq, presence-in, presence-out)`);
    item[flag] = true;
  }
  return item;
}

/** The items of a <list/> being written: each valid, 'order' unique (§2.1). */
export function parseItems(list: Element): PrivacyItem[] {
  const items: PrivacyItem[] = [];
  const orders = new Set<number>();
  for (const child of elements(list)) {
    if (child.getName() !== 'item' || child.getNS() !== NS.privacy) throw badRequest(`a list holds only <item/> elements, not <${child.getName()}/>`);
    const item = parseItem(child);
    if (orders.has(item.order)) throw badRequest(`two items have order ${item.order}; orders must be unique`);
    orders.add(item.order);
    items.push(item);
  }
  if (items.length > PRIVACY_LIMITS.items) throw new StanzaError('policy-violation', `a list holds at most ${PRIVACY_LIMITS.items} items`);
  return items;
}

export function itemElement(item: PrivacyItem): Element {
  const el = xml('item', { type: item.type, value: item.value, action: item.action, order: item.order });
  if (item.message) el.cnode(xml('message'));
  if (item.iq) el.cnode(xml('iq'));
  if (item.presenceIn) el.cnode(xml('presence-in'));
  if (item.presenceOut) el.cnode(xml('presence-out'));
  return el;
}

function listName(el: Element): string {
  const name = el.attrs.name;
  if (name === undefined || name === '') throw badRequest('a <list/> needs a name');
  if (Buffer.byteLength(name) > PRIVACY_LIMITS.nameBytes) throw new StanzaError('policy-violation', `list names are at most ${PRIVACY_LIMITS.nameBytes} bytes`);
  return name;
}

function noSuchList(name: string): StanzaError {
  return new StanzaError('item-not-found', `no list named "${name}"`);
}

/** The privacy list push (§2.2 rule 10) to every connected resource of the user. */
function push(user: UserPrivacy, name: string): void {
  for (const session of user.sessions.keys()) {
    const id = `privacy-${randomBytes(6).toString('base64url')}`;
    session.send(xml('iq', { type: 'set', id, to: session.jid.toString() }, xml('query', { xmlns: NS.privacy }, xml('list', { name }))));
  }
}

export class PrivacyLists {
  constructor(private readonly ctx: ModuleContext<unknown, PrivacyModuleStores>, private readonly cache: PrivacyCache, private readonly guard: PrivacyGuard) {}

  register(): void {
    this.ctx.onIq('get', 'self', NS.privacy, 'query', ({ payload, from, session }) => this.get(payload, from.local, session));
    this.ctx.onIq('set', 'self', NS.privacy, 'query', ({ payload, session }) => this.set(payload, session));
  }

  /** §2.3: the names (with the session's active list and the default list), or one list. */
  private async get(payload: Element, username: string, session: BoundSession | undefined): Promise<Element> {
    const children = elements(payload);
    if (children.length === 0) {
      const names = await this.ctx.store.privacy.names(username);
      const active = session ? this.cache.get(username)?.sessions.get(session)?.active : undefined;
      const query = xml('query', { xmlns: NS.privacy });
      if (active !== undefined) query.cnode(xml('active', { name: active }));
      if (names.default !== undefined) query.cnode(xml('default', { name: names.default }));
      for (const name of names.lists) query.cnode(xml('list', { name }));
      return query;
    }
    const [list] = children;
    if (children.length > 1 || !list || list.getName() !== 'list') throw badRequest('ask for the names or for exactly one <list/>');
    const name = listName(list);
    const items = await this.ctx.store.privacy.getList(username, name);
    if (!items) throw noSuchList(name);
    return xml('query', { xmlns: NS.privacy }, xml('list', { name }, ...items.map(itemElement)));
  }

  private async set(payload: Element, session: BoundSession | undefined): Promise<void> {
    if (!session) throw new StanzaError('service-unavailable', "privacy lists are managed from the user's own sessions");
    const children = elements(payload);
    const [child] = children;
    // §2.1: exactly one <active/>, <default/> or <list/>.
    if (children.length !== 1 || !child) throw badRequest('a privacy set holds exactly one <active/>, <default/> or <list/>');
    const kind = child.getName();
    if (kind !== 'active' && kind !== 'default' && kind !== 'list') throw badRequest(`<${kind}/> is not part of jabber:iq:privacy`);
    await this.cache.change(session, async (user) => {
      const before = this.guard.snapshot(user);
      if (kind === 'active') await this.setActive(user, session, child.attrs.name);
      else if (kind === 'default') await this.setDefault(user, session, child.attrs.name);
      else await this.writeList(user, session, child);
      await this.guard.reconcile(user, before);
    });
  }

  /** §2.4: the session's active list; an <active/> without a name declines any. */
  private async setActive(user: UserPrivacy, session: BoundSession, name: string | undefined): Promise<void> {
    const state = user.sessions.get(session);
    if (!state) throw new StanzaError('internal-server-error', 'the session is not known to the privacy module');
    if (name !== undefined) {
      let list = user.lists.get(name);
      if (!list) {
        const items = await this.ctx.store.privacy.getList(user.username, name);
        if (!items) throw noSuchList(name);
        list = compileList(name, items);
      }
      if (list.needsRoster) await this.cache.ensureRoster(user);
      user.lists.set(name, list);
    }
    state.active = name;
    user.prune();
  }

  /**
   * §2.5: the user's default list; a <default/> without a name declines any. Changing or declining
   * it while it applies to another connected resource (one without an active list) is a conflict.
   */
  private async setDefault(user: UserPrivacy, session: BoundSession, name: string | undefined): Promise<void> {
    const store = this.ctx.store.privacy;
    if (name === undefined) {
      if (user.defaultAppliesToOther(session)) throw new StanzaError('conflict', 'the default list applies to another of your resources');
      await store.setDefault(user.username, undefined);
      user.defaultName = undefined;
      user.prune();
      return;
    }
    const items = await store.getList(user.username, name);
    if (!items) throw noSuchList(name);
    if (user.defaultName !== name && user.defaultAppliesToOther(session)) throw new StanzaError('conflict', 'the default list applies to another of your resources');
    const list = user.lists.get(name) ?? compileList(name, items);
    if (list.needsRoster) await this.cache.ensureRoster(user);
    if (!(await store.setDefault(user.username, name))) throw noSuchList(name);
    user.lists.set(name, list);
    user.defaultName = name;
    user.prune();
  }

  /** §2.6-§2.8: a <list/> with items replaces or adds that list; an empty one removes it. Both are pushed. */
  private async writeList(user: UserPrivacy, session: BoundSession, el: Element): Promise<void> {
    const store = this.ctx.store.privacy;
    const name = listName(el);
    const items = parseItems(el);
    if (items.length === 0) {
      // §2.8: not while it applies to another resource; the sender's own use of it ends.
      if (user.appliesToOther(name, session)) throw new StanzaError('conflict', 'the list applies to another of your resources');
      if (!(await store.deleteList(user.username, name))) throw noSuchList(name);
      const state = user.sessions.get(session);
      if (state?.active === name) state.active = undefined;
      if (user.defaultName === name) user.defaultName = undefined;
      user.prune();
      push(user, name);
      return;
    }
    // §2.1: a group item SHOULD name a group of the user's roster.
    const groups = items.filter((i) => i.type === 'group').map((i) => i.value ?? '');
    if (groups.length > 0) {
      const known = new Set<string>();
      const roster = user.roster ? [...user.roster.values()] : (await this.ctx.stores.roster.get(user.username)).items;
      for (const entry of roster) for (const g of entry.groups) known.add(g);
      const missing = groups.find((g) => !known.has(g));
      if (missing !== undefined) throw new StanzaError('item-not-found', `no roster group named "${missing}"`);
    }
    const names = await store.names(user.username);
    if (!names.lists.includes(name) && names.lists.length >= PRIVACY_LIMITS.lists) {
      throw new StanzaError('policy-violation', `a user keeps at most ${PRIVACY_LIMITS.lists} privacy lists`);
    }
    const compiled = compileList(name, items);
    if (user.inUse(name) && compiled.needsRoster) await this.cache.ensureRoster(user);
    await store.setList(user.username, name, items);
    // §2.2 rule 8: resources using the list use the new definition from now on.
    if (user.inUse(name)) user.lists.set(name, compiled);
    push(user, name);
  }
}
