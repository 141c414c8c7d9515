// The rule engine: XEP-0016 privacy list items and the XEP-0191 block list, compiled once and
// evaluated as pure functions of (list, block list, roster snapshot, direction, stanza kind, peer).
// No I/O, no session state: everything the router's synchronous filter needs is passed in.
//
// Order of evaluation (chosen as ejabberd and Prosody do): the block list first, each entry a
// deny of every stanza kind in both directions; then the one privacy list that applies (the
// session's active list, else the default list), items in ascending 'order', first match wins;
// no match allows (XEP-0016 §2.2 business rules 5-7).
import { Jid } from '../../src/jid.js';
import type { SubscriptionState } from '../../src/modules/api.js';
import type { PrivacyItem } from './store/types.js';
import type { Element } from '../../src/xml/element.js';

export type Direction = 'in' | 'out';

/**
 * What a rule can select. 'notification' is presence with no type or type 'unavailable' (XEP-0016
 * §2: "presence notifications"); 'presence' is every other presence (subscriptions, probes, errors),
 * which only items without child elements ("all stanzas") select.
 */
export type StanzaKind = 'message' | 'iq' | 'notification' | 'presence';

export type Verdict = 'allow' | 'blocked' | 'denied';

/** What the engine needs of a roster item: the subscription state and the groups. */
export interface RosterEntry {
  readonly subscription: SubscriptionState;
  readonly groups: readonly string[];
}

export type RosterSnapshot = ReadonlyMap<string, RosterEntry>;

const EMPTY_ROSTER: RosterSnapshot = new Map();

/** The other party's address in the forms XEP-0016 §2.1 matches against, computed once per stanza. */
export interface Peer {
  /** user@domain/resource, or the bare form when there is no resource. */
  readonly full: string;
  /** user@domain, or domain. */
  readonly bare: string;
  readonly local: string;
  readonly domain: string;
  readonly resource: string;
}

export function peerOf(jid: Jid): Peer {
  return { full: jid.toString(), bare: jid.bareString(), local: jid.local, domain: jid.domain, resource: jid.resource };
}

/** Printable ASCII without upper case: already normalised by the JID rules (RFC 7622), nothing to fold. */
const PLAIN_BARE = /^[!-@[-~]+$/;
const PLAIN_RESOURCE = /^[ -~]*$/;

/**
 * The peer of an address on a stanza. Addresses the server stamped are normalised already, so the
 * common ASCII case is split without Jid.parse (which costs microseconds: Unicode normalisation);
 * anything else goes through it. Undefined for an address that is not a JID.
 */
export function peerFrom(address: string): Peer | undefined {
  const slash = address.indexOf('/');
  const bare = slash === -1 ? address : address.slice(0, slash);
  const resource = slash === -1 ? '' : address.slice(slash + 1);
  const at = bare.indexOf('@');
  if (at !== 0 && slash !== 0 && slash !== address.length - 1 && !bare.endsWith('.') && bare.indexOf('@', at + 1) === -1 && PLAIN_BARE.test(bare) && PLAIN_RESOURCE.test(resource)) {
    const domain = at === -1 ? bare : bare.slice(at + 1);
    if (domain !== '') return { full: address, bare, local: at === -1 ? '' : bare.slice(0, at), domain, resource };
  }
  const jid = Jid.tryParse(address);
  return jid ? peerOf(jid) : undefined;
}

export function classify(stanza: Element): StanzaKind {
  if (stanza.name === 'message') return 'message';
  if (stanza.name === 'iq') return 'iq';
  const type = stanza.attrs.type;
  return type === undefined || type === 'unavailable' ? 'notification' : 'presence';
}

// ---- compiled privacy lists ----

type JidForm = 'full' | 'bare' | 'domain-resource' | 'domain';

type Matcher =
  | { readonly type: 'all' }
  | { readonly type: 'jid'; readonly form: JidForm; readonly value: string; readonly domain: string; readonly resource: string }
  | { readonly type: 'group'; readonly value: string }
  | { readonly type: 'subscription'; readonly value: SubscriptionState };

interface Rule {
  readonly deny: boolean;
  readonly match: Matcher;
}

/** Eight selections: direction (in, out) x kind (message, iq, notification, presence). */
const KINDS: readonly StanzaKind[] = ['message', 'iq', 'notification', 'presence'];
const SLOTS = 8;

function slot(direction: Direction, kind: StanzaKind): number {
  return (direction === 'in' ? 0 : 4) + KINDS.indexOf(kind);
}

/** The selections an item applies to (XEP-0016 §2.1: <message/>, <iq/> and <presence-in/> are inbound only). */
function slotsOf(item: PrivacyItem): number[] {
  if (!item.message && !item.iq && !item.presenceIn && !item.presenceOut) return Array.from({ length: SLOTS }, (_, i) => i);
  const slots: number[] = [];
  if (item.message) slots.push(slot('in', 'message'));
  if (item.iq) slots.push(slot('in', 'iq'));
  if (item.presenceIn) slots.push(slot('in', 'notification'));
  if (item.presenceOut) slots.push(slot('out', 'notification'));
  return slots;
}

/** A privacy list ready for evaluation: for each selection, the rules that apply, in order. */
export interface CompiledList {
  readonly name: string;
  /** The items as stored, sorted by order. */
  readonly items: readonly PrivacyItem[];
  /** True when a rule needs the roster (type group or subscription). */
  readonly needsRoster: boolean;
  readonly rules: readonly (readonly Rule[])[];
}

/**
 * Splits a JID item value into its §2.1 form. Values are stored normalised; one that is not a JID
 * (written by another tool) matches nothing rather than failing the whole list.
 */
function jidMatcher(value: string): Matcher {
  const slash = value.indexOf('/');
  const bare = slash === -1 ? value : value.slice(0, slash);
  const resource = slash === -1 ? '' : value.slice(slash + 1);
  const at = bare.indexOf('@');
  const domain = at === -1 ? bare : bare.slice(at + 1);
  const form: JidForm = at !== -1 ? (resource ? 'full' : 'bare') : resource ? 'domain-resource' : 'domain';
  return { type: 'jid', form, value, domain, resource };
}

function matcherOf(item: PrivacyItem): Matcher | undefined {
  if (item.type === undefined) return { type: 'all' };
  const value = item.value ?? '';
  if (item.type === 'jid') return value === '' ? undefined : jidMatcher(value);
  if (item.type === 'group') return { type: 'group', value };
  if (value === 'both' || value === 'to' || value === 'from' || value === 'none') return { type: 'subscription', value };
  return undefined;
}

export function compileList(name: string, items: readonly PrivacyItem[]): CompiledList {
  const sorted = [...items].sort((a, b) => a.order - b.order);
  const rules: Rule[][] = Array.from({ length: SLOTS }, () => []);
  let needsRoster = false;
  for (const item of sorted) {
    const match = matcherOf(item);
    if (!match) continue;
    if (match.type === 'group' || match.type === 'subscription') needsRoster = true;
    const rule: Rule = { deny: item.action === 'deny', match };
    for (const s of slotsOf(item)) rules[s]?.push(rule);
  }
  return { name, items: sorted, needsRoster, rules };
}

/** Whether `domain` is `parent` or one of its subdomains. */
function withinDomain(domain: string, parent: string): boolean {
  return domain === parent || (domain.length > parent.length && domain.endsWith(parent) && domain[domain.length - parent.length - 1] === '.');
}

/**
 * §2.1: user@domain/resource matches only that resource; user@domain any resource; domain/resource
 * that resource at the domain; domain the domain itself, any address at it and its subdomains.
 */
function matchesJid(match: Extract<Matcher, { type: 'jid' }>, peer: Peer): boolean {
  switch (match.form) {
    case 'full':
      return peer.full === match.value;
    case 'bare':
      return peer.bare === match.value;
    case 'domain-resource':
      return peer.domain === match.domain && peer.resource === match.resource;
    case 'domain':
      return withinDomain(peer.domain, match.domain);
  }
}

function matches(match: Matcher, peer: Peer, roster: RosterSnapshot): boolean {
  switch (match.type) {
    case 'all':
      return true;
    case 'jid':
      return matchesJid(match, peer);
    case 'group':
      return roster.get(peer.bare)?.groups.includes(match.value) ?? false;
    case 'subscription':
      // 'none' includes entities that are not in the roster at all (§2.1).
      return (roster.get(peer.bare)?.subscription ?? 'none') === match.value;
  }
}

/** The action of the first rule of `list` that selects the stanza; allow when none does (§2.2 rule 7). */
export function evaluateList(list: CompiledList, direction: Direction, kind: StanzaKind, peer: Peer, roster: RosterSnapshot = EMPTY_ROSTER): 'allow' | 'deny' {
  const rules = list.rules[slot(direction, kind)] ?? [];
  for (const rule of rules) if (matches(rule.match, peer, roster)) return rule.deny ? 'deny' : 'allow';
  return 'allow';
}

// ---- the block list ----

/** The XEP-0191 block list as sets per JID form, so a check is a handful of Set lookups. */
export class BlockList {
  static readonly EMPTY = new BlockList([]);

  /** The list of `jids`: the shared empty list when there are none (most users block nobody, ~0.6 KiB each). */
  static of(jids: readonly string[]): BlockList {
    return jids.length === 0 ? BlockList.EMPTY : new BlockList(jids);
  }

  /** The blocked JIDs, sorted, as stored. */
  readonly jids: readonly string[];
  private readonly full = new Set<string>();
  private readonly bare = new Set<string>();
  private readonly domainResource = new Set<string>();
  private readonly domains = new Set<string>();

  private constructor(jids: readonly string[]) {
    this.jids = [...new Set(jids)].sort();
    for (const value of this.jids) {
      const m = jidMatcher(value);
      if (m.type !== 'jid') continue;
      if (m.form === 'full') this.full.add(value);
      else if (m.form === 'bare') this.bare.add(value);
      else if (m.form === 'domain-resource') this.domainResource.add(value);
      else this.domains.add(value);
    }
  }

  get size(): number {
    return this.jids.length;
  }

  has(jid: string): boolean {
    return this.full.has(jid) || this.bare.has(jid) || this.domainResource.has(jid) || this.domains.has(jid);
  }

  /** A new list with `jids` added or removed. */
  with(jids: readonly string[]): BlockList {
    return BlockList.of([...this.jids, ...jids]);
  }

  without(jids: readonly string[]): BlockList {
    const removed = new Set(jids);
    return BlockList.of(this.jids.filter((j) => !removed.has(j)));
  }

  matches(peer: Peer): boolean {
    if (this.size === 0) return false;
    if (this.full.has(peer.full) || this.bare.has(peer.bare)) return true;
    if (peer.resource !== '' && this.domainResource.has(`${peer.domain}/${peer.resource}`)) return true;
    if (this.domains.size === 0) return false;
    let domain = peer.domain;
    for (;;) {
      if (this.domains.has(domain)) return true;
      const dot = domain.indexOf('.');
      if (dot === -1) return false;
      domain = domain.slice(dot + 1);
    }
  }
}

// ---- the decision ----

/** What applies to one session (or to the user as a whole, with the default list). */
export interface Policy {
  readonly blocked: BlockList;
  readonly list: CompiledList | undefined;
  readonly roster: RosterSnapshot | undefined;
}

/** True when nothing can be denied, so the caller may skip parsing addresses. */
export function isOpen(policy: Policy): boolean {
  return policy.blocked.size === 0 && policy.list === undefined;
}

/** The block list first ('blocked'), then the privacy list ('denied'); 'allow' when neither denies. */
export function decide(policy: Policy, direction: Direction, kind: StanzaKind, peer: Peer): Verdict {
  if (policy.blocked.matches(peer)) return 'blocked';
  if (policy.list === undefined) return 'allow';
  return evaluateList(policy.list, direction, kind, peer, policy.roster) === 'deny' ? 'denied' : 'allow';
}
