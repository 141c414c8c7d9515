// XEP-0045 muc#owner: §10.1.2 instant rooms, §10.1.3 reserved rooms (the configuration form, cancel destroys a
// room never configured), §10.2 later configuration (owners and admins as full lists, 322 for non-members when
// a room turns members-only), §10.2.1 notification of changes (104, 172, 173), §10.9 destroying a room.
import { StanzaError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { configForm, parseConfigSubmission, type RoomConfig } from './config.js';
import { actorOf, applyAffiliation } from './admin.js';
import { remove } from './join.js';
import { RANK, type AffiliationOrNone, type Room } from './room.js';
import type { IqContext, MucService } from './service.js';

export async function handleOwner({ muc, room, stanza, payload, from }: IqContext): Promise<Element | undefined> {
  if (room.affiliation(from.bareString()) !== 'owner') throw new StanzaError('forbidden', 'only owners configure or destroy a room (§10.2, §10.9)');
  if (stanza.attrs.type === 'get') {
    return xml('query', { xmlns: NS.mucOwner }, configForm(room.jid, room.config, muc.limits, room.withAffiliation('owner'), room.withAffiliation('admin')));
  }
  const destroy = payload.getChild('destroy');
  if (destroy !== undefined) {
    const venue = destroy.attrs.jid;
    if (venue !== undefined && Jid.tryParse(venue) === undefined) throw new StanzaError('jid-malformed', `the alternate venue "${venue}" is not a JID`);
    const details: { venue?: string; reason?: string; password?: string } = {};
    if (venue !== undefined) details.venue = venue;
    const reason = destroy.getChild('reason')?.getText();
    const password = destroy.getChild('password')?.getText();
    if (reason !== undefined) details.reason = reason;
    if (password !== undefined) details.password = password;
    await muc.destroy(room, details, true);
    return undefined;
  }
  const form = payload.getChild('x', NS.dataForms);
  if (form === undefined) throw new StanzaError('bad-request', 'expected a data form or <destroy/> (§10.1, §10.9)');
  if (form.attrs.type === 'cancel') {
    // §10.1.3: cancelling the initial configuration destroys the room; later, nothing changes (§10.2).
    if (room.locked) await muc.destroy(room, {}, false);
    return undefined;
  }
  if (form.attrs.type !== 'submit') throw new StanzaError('bad-request', 'a configuration form is submitted with type "submit" or "cancel"');
  await configure(muc, room, form, from);
  return undefined;
}

/** Applies a submitted configuration (an empty form accepts the current one: an instant room, §10.1.2). */
async function configure(muc: MucService, room: Room, form: Element, from: Jid): Promise<void> {
  const submitted = parseConfigSubmission(form, room.config, muc.limits);
  const owners = submitted.owners === undefined ? undefined : bareJids(submitted.owners);
  const admins = submitted.admins === undefined ? undefined : bareJids(submitted.admins);
  if (owners !== undefined && owners.length === 0) throw new StanzaError('conflict', 'the room must keep at least one owner (§10.5)');
  const before = room.config;
  const wasLocked = room.locked;
  room.config = submitted.config;
  room.locked = false;

  if (room.config.persistent && (!before.persistent || wasLocked)) await muc.saveAll(room);
  else if (room.config.persistent) await muc.save(room);
  else if (before.persistent) await muc.unsave(room);

  const actor = actorOf(room, from);
  const note = actor.occupant === undefined ? {} : { actor: actor.occupant.nick };
  const change = { note, nick: undefined, inviter: actor.bareJid };
  // The fields list every owner and admin: whoever is missing loses the affiliation (to none; §10.2).
  const target = new Map<string, AffiliationOrNone>();
  if (admins !== undefined) {
    for (const jid of room.withAffiliation('admin')) target.set(jid, 'none');
    for (const jid of admins) target.set(jid, 'admin');
  }
  if (owners !== undefined) {
    for (const jid of room.withAffiliation('owner')) if (!owners.includes(jid)) target.set(jid, target.get(jid) === 'admin' ? 'admin' : 'none');
    for (const jid of owners) target.set(jid, 'owner');
  }
  for (const [jid, affiliation] of target) if (room.affiliation(jid) !== affiliation) await applyAffiliation(muc, room, jid, affiliation, change);

  // §10.2: a room that becomes members-only loses its non-members, with 322.
  if (room.config.membersOnly && !before.membersOnly) {
    for (const occupant of [...room.occupants()]) if (RANK[room.affiliation(occupant.bareJid)] < RANK.member) remove(muc, room, occupant, { codes: [322] });
  }
  if (!wasLocked) notify(muc, room, before, room.config);
  muc.emptied(room);
}

function bareJids(values: readonly string[]): string[] {
  const jids = new Set<string>();
  for (const value of values) {
    const jid = Jid.tryParse(value);
    if (jid === undefined || jid.local === '') throw new StanzaError('jid-malformed', `"${value}" is not a user JID`);
    jids.add(jid.bareString());
  }
  return [...jids];
}

/** §10.2.1: 172/173 when the room's anonymity changed, 104 for any other change. */
function notify(muc: MucService, room: Room, before: RoomConfig, after: RoomConfig): void {
  const codes: number[] = [];
  if (before.whois !== after.whois) codes.push(after.whois === 'anyone' ? 172 : 173);
  const { whois: _a, ...restBefore } = before;
  const { whois: _b, ...restAfter } = after;
  if (JSON.stringify(restBefore) !== JSON.stringify(restAfter)) codes.push(104);
  if (codes.length === 0) return;
  const x = xml('x', { xmlns: NS.mucUser }, ...codes.map((code) => xml('status', { code })));
  room.broadcast(xml('message', { from: room.jid, type: 'groupchat', id: muc.newId() }, x));
}
