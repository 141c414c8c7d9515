// XEP-0045 presence: §7.1 order of events and §7.2 entering a room (errors §7.2.1, §7.2.5-§7.2.10, history
// §7.2.13-§7.2.14, subject §7.2.15, groupchat 1.0 §7.2.18), §7.6 changing nickname, §7.7 changing availability,
// §7.14 exiting, §10.1.1 creating a room by entering it, §11.1 removing ghosts (333), §17.3 presence rules.
import { StanzaError } from '../../src/errors.js';
import type { Jid } from '../../src/jid.js';
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { parseHistoryRequest } from './limits.js';
import { presencePayload, RANK, type Occupant, type PresenceNote, type Room } from './room.js';
import type { MucService } from './service.js';

/** §7.2.9: owners and admins may enter a full room, up to this many occupants beyond its maximum. */
export const ADMIN_HEADROOM = 10;

/** §18.1.2: errors that mean the occupant's session is gone. */
const DELIVERY_ERRORS = new Set(['gone', 'item-not-found', 'recipient-unavailable', 'redirect', 'remote-server-not-found', 'remote-server-timeout']);

export async function handlePresence(muc: MucService, stanza: Element, from: Jid, to: Jid): Promise<void> {
  if (to.local === '') return;
  const type = stanza.attrs.type;
  const roomJid = to.bareString();
  const fullJid = from.toString();
  if (type === 'error') return presenceError(muc, roomJid, fullJid, stanza);
  if (type === 'unavailable') {
    // §17.3.5: unavailable presence from someone who is not in the room is ignored.
    const room = muc.rooms.get(roomJid);
    const occupant = room?.occupantByJid(fullJid);
    if (room && occupant) exit(muc, room, occupant, fullJid, { payload: presencePayload(stanza) });
    return;
  }
  // §17.3.1, §17.3.2: probes and subscription requests neither enter nor exit.
  if (type !== undefined) return;
  const nick = to.resource;
  if (to.isBare) throw new StanzaError('jid-malformed', 'enter a room by sending presence to room@service/nickname (§7.2.1)');
  // §17.1: no empty or invisible nicknames.
  if (nick.trim() === '') throw new StanzaError('jid-malformed', 'a room nickname must not be blank');

  const room = muc.rooms.get(roomJid) ?? (await muc.load(roomJid));
  const occupant = room?.occupantByJid(fullJid);
  const join = stanza.getChild('x', NS.muc);
  if (room && occupant) {
    if (occupant.nick !== nick) return changeNick(room, occupant, fullJid, nick, stanza);
    return update(room, occupant, fullJid, stanza, join);
  }
  // §7.2.18: presence without the MUC element from a non-occupant is a desynchronised client; tell it so.
  if (join === undefined) return notInRoom(muc, `${roomJid}/${nick}`, fullJid);
  return enter(muc, room, roomJid, nick, stanza, from, join);
}

async function enter(muc: MucService, existing: Room | undefined, roomJid: string, nick: string, stanza: Element, from: Jid, join: Element): Promise<void> {
  const bare = from.bareString();
  const fullJid = from.toString();
  let room = existing;
  let created = false;
  if (room === undefined) {
    // §7.2.11, §10.1.1: entering a room that does not exist creates it, locked, with the user as its owner.
    await muc.checkCreation(bare);
    room = muc.rooms.get(roomJid);
    if (room === undefined) {
      room = muc.create(roomJid, bare);
      created = true;
    }
  }
  const affiliation = room.affiliation(bare);
  if (room.locked && affiliation !== 'owner') throw new StanzaError('item-not-found', 'the room is locked until its owner configures it (§7.2.10)');
  if (affiliation === 'outcast') throw new StanzaError('forbidden', 'you are banned from this room (§7.2.7)');
  if (room.config.membersOnly && RANK[affiliation] < RANK.member) throw new StanzaError('registration-required', 'this room is members-only (§7.2.6)');
  if (room.config.passwordProtected && join.getChildText('password') !== room.config.password) {
    throw new StanzaError('not-authorized', 'this room needs the right password (§7.2.5)');
  }
  const holder = room.occupant(nick);
  if (holder !== undefined && holder.bareJid !== bare) throw new StanzaError('conflict', 'that nickname is in use (§7.2.8)');
  const reservedFor = room.reservedBy(nick);
  if (reservedFor !== undefined && reservedFor !== bare) throw new StanzaError('conflict', 'that nickname is reserved by another user (§7.2.8)');
  if (holder === undefined) {
    const max = Math.min(room.config.maxUsers, muc.limits.maxOccupants);
    const privileged = RANK[affiliation] >= RANK.admin;
    if (room.size >= (privileged ? max + ADMIN_HEADROOM : max)) {
      throw new StanzaError('service-unavailable', 'the room is full (§7.2.9)', 'wait');
    }
  }

  const payload = presencePayload(stanza);
  let occupant: Occupant;
  if (holder !== undefined) {
    room.setSessionPresence(holder, fullJid, payload);
    occupant = holder;
  } else {
    occupant = room.addOccupant(nick, bare, fullJid, room.defaultRole(affiliation), payload);
  }
  welcome(room, occupant, fullJid, { id: stanza.attrs.id, created, history: join.getChild('history'), broadcast: true });
}

interface Welcome {
  id: string | undefined;
  created: boolean;
  history: Element | undefined;
  /** Tell the other occupants (false for a resynchronisation that changed nothing). */
  broadcast: boolean;
}

/** §7.1: the others' presence, then the self-presence, then history, then the subject. */
function welcome(room: Room, occupant: Occupant, fullJid: string, how: Welcome): void {
  const seesJids = room.seesJids(occupant);
  for (const other of room.occupants()) {
    if (other === occupant || !room.broadcasts(other.role)) continue;
    room.sendTo(fullJid, room.presenceOf(other, seesJids));
  }
  // §7.2.3: 100 warns that the room is non-anonymous; §10.1.1: 201 that it was just created.
  const selfCodes: number[] = [];
  if (room.config.whois === 'anyone') selfCodes.push(100);
  if (how.created) selfCodes.push(201);
  const note: PresenceNote = { selfCodes };
  if (how.id !== undefined) note.id = how.id;
  if (how.broadcast) room.broadcastPresence(occupant, note);
  else room.selfPresenceTo(fullJid, occupant, note);

  for (const entry of room.history.select(parseHistoryRequest(how.history), room.config.maxHistory)) room.sendTo(fullJid, entry.stanza);
  room.sendTo(fullJid, room.subjectMessage());
}

function samePayload(a: readonly Element[] | undefined, b: readonly Element[]): boolean {
  if (a === undefined || a.length !== b.length) return false;
  return a.every((child, i) => child.toString() === b[i]?.toString());
}

/** §7.7 a change of availability; §7.2.1 and §17.3.3 a join from an occupant is a request to resynchronise. */
function update(room: Room, occupant: Occupant, fullJid: string, stanza: Element, join: Element | undefined): void {
  const payload = presencePayload(stanza);
  const changed = occupant.shown !== fullJid || !samePayload(occupant.sessions.get(fullJid), payload);
  room.setSessionPresence(occupant, fullJid, payload);
  if (join !== undefined) {
    welcome(room, occupant, fullJid, { id: stanza.attrs.id, created: false, history: join.getChild('history'), broadcast: changed });
    return;
  }
  const note: PresenceNote = {};
  if (stanza.attrs.id !== undefined) note.id = stanza.attrs.id;
  room.broadcastPresence(occupant, note);
}

/** §7.6: unavailable from the old nickname with 303 and the new one, then presence from the new one. */
function changeNick(room: Room, occupant: Occupant, fullJid: string, nick: string, stanza: Element): void {
  const holder = room.occupant(nick);
  if (holder !== undefined && holder !== occupant) throw new StanzaError('conflict', 'that nickname is in use (§7.6)');
  const reservedFor = room.reservedBy(nick);
  if (reservedFor !== undefined && reservedFor !== occupant.bareJid) throw new StanzaError('conflict', 'that nickname is reserved by another user (§7.6)');
  room.broadcastPresence(occupant, { unavailable: true, keepRole: true, nick, codes: [303], payload: [] });
  room.rename(occupant, nick);
  room.setSessionPresence(occupant, fullJid, presencePayload(stanza));
  const note: PresenceNote = {};
  if (stanza.attrs.id !== undefined) note.id = stanza.attrs.id;
  room.broadcastPresence(occupant, note);
}

/** §7.14: one session leaves; the occupant leaves with its last session, and an empty temporary room goes. */
export function exit(muc: MucService, room: Room, occupant: Occupant, fullJid: string, note: PresenceNote): void {
  if (occupant.sessions.size > 1) {
    // Another resource keeps the nickname: only the leaving one is told, the others see the remaining presence.
    room.selfPresenceTo(fullJid, occupant, { ...note, unavailable: true });
    const wasShown = occupant.shown === fullJid;
    room.removeSession(occupant, fullJid);
    if (wasShown) room.broadcastPresence(occupant);
    return;
  }
  remove(muc, room, occupant, note);
}

/** Removes an occupant with all its sessions, telling everyone (kicks §8.2, bans §9.1, 321, 322, 333). */
export function remove(muc: MucService, room: Room, occupant: Occupant, note: PresenceNote): void {
  // §10.1.3: the last owner out of a room never configured takes the room with it.
  if (room.locked && room.size === 1 && note.destroy === undefined) note = { ...note, destroy: xml('destroy') };
  room.broadcastPresence(occupant, { ...note, unavailable: true });
  room.removeOccupant(occupant);
  muc.emptied(room);
}

/** §18.1.2: an occupant's session bounced room traffic with a delivery error: it is gone (§11.1, 333). */
function presenceError(muc: MucService, roomJid: string, fullJid: string, stanza: Element): void {
  const room = muc.rooms.get(roomJid);
  const occupant = room?.occupantByJid(fullJid);
  if (!room || !occupant || !isDeliveryError(stanza)) return;
  exit(muc, room, occupant, fullJid, { codes: [333], payload: [] });
}

export function isDeliveryError(stanza: Element): boolean {
  const error = stanza.getChild('error');
  if (!error) return false;
  return error.children.some((c) => typeof c !== 'string' && c.attrs.xmlns === NS.stanzas && DELIVERY_ERRORS.has(c.name));
}

/** §7.2.18: the explicit kick (110, 307, 333) for presence from a full JID that is not in the room. */
function notInRoom(muc: MucService, occupantJid: string, fullJid: string): void {
  const x = xml(
    'x',
    { xmlns: NS.mucUser },
    xml('item', { affiliation: 'none', role: 'none' }, xml('reason', {}, 'You are not in the room.')),
    xml('status', { code: 110 }),
    xml('status', { code: 307 }),
    xml('status', { code: 333 }),
  );
  muc.sendNow(xml('presence', { from: occupantJid, to: fullJid, type: 'unavailable' }, x));
}
