// XEP-0045 muc#admin: moderator uses §8.2 kick (307), §8.3-§8.5 voice and the voice list; admin uses §9.1-§9.2
// bans (301) and the ban list, §9.3-§9.5 membership and the member list (321 in members-only rooms), §9.6-§9.8
// moderators; owner uses §10.3-§10.8 owners and admins; §17.4.4-§17.4.6 the IQ rules.
import { StanzaError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import type { Affiliation } from './store/types.js';
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { PresentRole, Role } from './config.js';
import { remove } from './join.js';
import { RANK, type AffiliationEntry, type AffiliationOrNone, type Occupant, type PresenceNote, type Room } from './room.js';
import type { IqContext, MucService } from './service.js';

const ROLES: readonly Role[] = ['moderator', 'participant', 'visitor', 'none'];
const AFFILIATIONS: readonly AffiliationOrNone[] = ['owner', 'admin', 'member', 'outcast', 'none'];

/** Who asks: an occupant (by full JID, else any of the same bare JID) or an affiliated user outside the room. */
export interface Actor {
  readonly bareJid: string;
  readonly affiliation: AffiliationOrNone;
  readonly role: Role;
  readonly occupant: Occupant | undefined;
}

export function actorOf(room: Room, from: Jid): Actor {
  const bareJid = from.bareString();
  const occupant = room.occupantByJid(from.toString()) ?? room.occupantsOf(bareJid)[0];
  const affiliation = room.affiliation(bareJid);
  // Owners and admins are moderators (§5.1.2) even when they are not in the room.
  const role: Role = occupant?.role ?? (RANK[affiliation] >= RANK.admin ? 'moderator' : 'none');
  return { bareJid, affiliation, role, occupant };
}

export async function handleAdmin({ muc, room, stanza, payload, from }: IqContext): Promise<Element | undefined> {
  const items = payload.getChildren('item');
  const actor = actorOf(room, from);
  if (stanza.attrs.type === 'get') return list(room, items, actor);
  await modify(muc, room, items, actor);
  return undefined;
}

function oneOf<T extends string>(values: readonly T[], value: string): T | undefined {
  return values.find((v) => v === value);
}

// ---- lists (§8.5, §9.2, §9.5, §9.8, §10.5, §10.8) ----

function list(room: Room, items: Element[], actor: Actor): Element {
  const [item] = items;
  if (item === undefined || items.length > 1) throw new StanzaError('bad-request', 'ask for one list: one <item/> with a role or an affiliation');
  const { role, affiliation } = item.attrs;
  if ((role === undefined) === (affiliation === undefined)) throw new StanzaError('bad-request', 'an <item/> names a role or an affiliation, not both (§17.4.4)');
  const query = xml('query', { xmlns: NS.mucAdmin });
  if (role !== undefined) {
    const wanted = oneOf<Role>(ROLES, role);
    if (wanted === undefined || wanted === 'none') throw new StanzaError('bad-request', `no list of role "${role}"`);
    if (actor.role !== 'moderator') throw new StanzaError('forbidden', 'only moderators see the lists of roles (§8.5, §9.8)');
    // §17.4.5: nick, role, affiliation and the full JID.
    for (const occupant of room.occupants()) {
      if (occupant.role !== wanted) continue;
      query.cnode(xml('item', { affiliation: room.affiliation(occupant.bareJid), jid: occupant.shown, nick: occupant.nick, role: occupant.role }));
    }
    return query;
  }
  const wanted = oneOf<AffiliationOrNone>(AFFILIATIONS, affiliation ?? '');
  if (wanted === undefined || wanted === 'none') throw new StanzaError('bad-request', `no list of affiliation "${affiliation ?? ''}"`);
  if (!maySeeList(room, wanted, actor)) throw new StanzaError('forbidden', `you may not see the ${wanted} list of this room`);
  // §17.4.6: affiliation and bare JID, the nick when known, never the role.
  for (const jid of room.withAffiliation(wanted)) {
    const entry = room.affiliationEntry(jid);
    const nick = wanted === 'outcast' ? undefined : (entry?.nick ?? room.occupantsOf(jid)[0]?.nick);
    const listed = xml('item', { affiliation: wanted, jid, nick });
    if (entry?.reason !== undefined) listed.cnode(xml('reason', {}, entry.reason));
    query.cnode(listed);
  }
  return query;
}

function maySeeList(room: Room, affiliation: Affiliation, actor: Actor): boolean {
  const rank = RANK[actor.affiliation];
  const nonAnonymous = room.config.whois === 'anyone';
  switch (affiliation) {
    case 'outcast':
      return rank >= RANK.admin;
    case 'member': {
      if (rank >= RANK.admin) return true;
      // §5.2.1 note ***: in a semi-anonymous room the member list (which holds JIDs) stays with admins.
      if (!nonAnonymous) return false;
      const role = actor.occupant?.role;
      return rank >= RANK.member || (role !== undefined && room.config.getMemberList.includes(role));
    }
    default:
      // §10.5, §10.8: owners; in a non-anonymous room also members and occupants.
      return rank >= RANK.owner || (nonAnonymous && (rank >= RANK.member || actor.occupant !== undefined));
  }
}

// ---- changes ----

type Change =
  | { kind: 'role'; target: Occupant; role: Role; reason: string | undefined }
  | { kind: 'affiliation'; jid: string; affiliation: AffiliationOrNone; reason: string | undefined; nick: string | undefined };

async function modify(muc: MucService, room: Room, items: Element[], actor: Actor): Promise<void> {
  if (items.length === 0) throw new StanzaError('bad-request', 'a change needs at least one <item/>');
  // Every item is checked before any is applied: a batch with a refused change changes nothing (§9.2).
  const changes = items.map((item) => validate(room, item, actor));
  ensureOwnerRemains(room, changes);
  const actorNick = actor.occupant?.nick;
  for (const change of changes) {
    const note: PresenceNote = {};
    if (actorNick !== undefined) note.actor = actorNick;
    if (change.reason !== undefined) note.reason = change.reason;
    if (change.kind === 'role') applyRole(muc, room, change.target, change.role, note);
    else await applyAffiliation(muc, room, change.jid, change.affiliation, { note, nick: change.nick, inviter: actor.bareJid });
  }
}

function validate(room: Room, item: Element, actor: Actor): Change {
  const { role, affiliation, nick, jid } = item.attrs;
  const reason = item.getChild('reason')?.getText();
  if (role !== undefined && affiliation !== undefined) throw new StanzaError('bad-request', 'an <item/> changes a role or an affiliation, not both (§17.4.4)');
  if (role !== undefined) {
    const wanted = oneOf(ROLES, role);
    if (wanted === undefined) throw new StanzaError('bad-request', `unknown role "${role}"`);
    if (nick === undefined) throw new StanzaError('bad-request', 'a role change names the occupant by its nick (§17.4.5)');
    const target = room.occupant(nick);
    if (target === undefined) throw new StanzaError('item-not-found', `no occupant "${nick}" in this room`);
    checkRole(room, target, wanted, actor);
    return { kind: 'role', target, role: wanted, reason };
  }
  if (affiliation !== undefined) {
    const wanted = oneOf(AFFILIATIONS, affiliation);
    if (wanted === undefined) throw new StanzaError('bad-request', `unknown affiliation "${affiliation}"`);
    if (jid === undefined) throw new StanzaError('bad-request', 'an affiliation change names the user by its JID (§17.4.6)');
    const user = Jid.tryParse(jid);
    if (user === undefined) throw new StanzaError('jid-malformed', `"${jid}" is not a JID`);
    // §10.3: a full JID stands for its bare JID.
    const bare = user.bareString();
    checkAffiliation(room, bare, wanted, actor);
    if (nick !== undefined && nick !== '') {
      const holder = room.reservedBy(nick);
      if (holder !== undefined && holder !== bare) throw new StanzaError('conflict', `the nickname "${nick}" is reserved by another user`);
    }
    return { kind: 'affiliation', jid: bare, affiliation: wanted, reason, nick };
  }
  throw new StanzaError('bad-request', 'an <item/> needs a role or an affiliation');
}

function checkRole(room: Room, target: Occupant, role: Role, actor: Actor): void {
  if (actor.role !== 'moderator') throw new StanzaError('forbidden', 'only moderators change roles (§8)');
  const targetAffiliation = room.affiliation(target.bareJid);
  const targetRank = RANK[targetAffiliation];
  const actorRank = RANK[actor.affiliation];
  if (role === 'moderator') {
    if (actorRank < RANK.admin) throw new StanzaError('forbidden', 'only admins and owners grant moderator status (§9.6)');
    return;
  }
  if (role === 'none') {
    // §8.2: nobody is kicked by a moderator of lower affiliation.
    if (targetRank > actorRank) throw new StanzaError('not-allowed', 'you may not kick a user of higher affiliation (§8.2)');
    return;
  }
  // §8.4, §9.7: voice and moderator status are never taken from an admin or owner; §8.4: nor voice by a
  // moderator of lower affiliation.
  if (targetRank >= RANK.admin && target.role === 'moderator') throw new StanzaError('not-allowed', 'an admin or owner stays a moderator (§9.7)');
  if (role === 'visitor' && (targetRank >= RANK.admin || targetRank > actorRank)) throw new StanzaError('not-allowed', 'you may not revoke voice from this user (§8.4)');
  // §9.7: only admins revoke moderator status.
  if (target.role === 'moderator' && actorRank < RANK.admin) throw new StanzaError('forbidden', 'only admins and owners revoke moderator status (§9.7)');
}

function checkAffiliation(room: Room, bare: string, affiliation: AffiliationOrNone, actor: Actor): void {
  const actorRank = RANK[actor.affiliation];
  if (actorRank < RANK.admin) throw new StanzaError('forbidden', 'only admins and owners change affiliations (§9)');
  if ((affiliation === 'owner' || affiliation === 'admin') && actorRank < RANK.owner) {
    throw new StanzaError('forbidden', 'only owners change the owner and admin lists (§10.3, §10.6)');
  }
  const current = room.affiliation(bare);
  if ((current === 'owner' || current === 'admin') && actorRank < RANK.owner) {
    throw new StanzaError('not-allowed', 'only owners change the affiliation of an admin or owner (§9.1)');
  }
  if (affiliation === 'outcast' && bare === actor.bareJid) throw new StanzaError('conflict', 'you may not ban yourself (§9.1)');
}

/** §10.5, §10.9: a room always has an owner. */
function ensureOwnerRemains(room: Room, changes: readonly Change[]): void {
  const owners = new Set(room.withAffiliation('owner'));
  for (const change of changes) {
    if (change.kind !== 'affiliation') continue;
    if (change.affiliation === 'owner') owners.add(change.jid);
    else owners.delete(change.jid);
  }
  if (owners.size === 0) throw new StanzaError('conflict', 'the room must keep at least one owner (§10.5)');
}

function applyRole(muc: MucService, room: Room, target: Occupant, role: Role, note: PresenceNote): void {
  if (role === 'none') {
    remove(muc, room, target, { ...note, codes: [307] });
    return;
  }
  if (target.role === role) return;
  target.role = role;
  room.broadcastPresence(target, note);
}

/** The role that goes with an affiliation change (§5.1.3 note; §9.3, §10.2 for gained and lost privileges). */
function roleAfter(room: Room, role: PresentRole, before: AffiliationOrNone, after: AffiliationOrNone): PresentRole {
  if (RANK[after] >= RANK.admin) return 'moderator';
  if (RANK[before] >= RANK.admin) return room.defaultRole(after);
  if (after === 'member' && role === 'visitor') return 'participant';
  return role;
}

export interface AffiliationChange {
  note: PresenceNote;
  /** The reserved nickname: undefined keeps it, '' removes it. */
  nick: string | undefined;
  /** Who asked, for the invitation a new member of a members-only room gets (§9.5). */
  inviter: string;
}

/** Sets an affiliation and tells the room: bans remove (301), losing membership of a members-only room too (321). */
export async function applyAffiliation(muc: MucService, room: Room, bareJid: string, affiliation: AffiliationOrNone, change: AffiliationChange): Promise<void> {
  const before = room.affiliation(bareJid);
  const previous = room.affiliationEntry(bareJid);
  if (affiliation === 'none') room.setAffiliation(bareJid, undefined);
  else {
    const entry: AffiliationEntry = { affiliation };
    // §9.1: an outcast keeps no reserved nickname.
    const nick = change.nick === undefined ? previous?.nick : change.nick === '' ? undefined : change.nick;
    if (nick !== undefined && affiliation !== 'outcast') entry.nick = nick;
    if (change.note.reason !== undefined) entry.reason = change.note.reason;
    room.setAffiliation(bareJid, entry);
  }
  const present = room.occupantsOf(bareJid);
  for (const occupant of present) {
    if (affiliation === 'outcast') remove(muc, room, occupant, { ...change.note, codes: [301] });
    else if (room.config.membersOnly && RANK[affiliation] < RANK.member) remove(muc, room, occupant, { ...change.note, codes: [321] });
    else if (affiliation !== before || change.nick !== undefined) {
      occupant.role = roleAfter(room, occupant.role, before, affiliation);
      room.broadcastPresence(occupant, change.note);
    }
  }
  if (room.config.membersOnly && affiliation === 'member' && before === 'none' && present.length === 0) {
    const x = xml('x', { xmlns: NS.mucUser }, xml('invite', { from: change.inviter }));
    if (room.config.passwordProtected) x.cnode(xml('password', {}, room.config.password));
    muc.output.route(xml('message', { from: room.jid, to: bareJid, id: muc.newId() }, x));
  }
  await muc.saveAffiliation(room, bareJid);
}
