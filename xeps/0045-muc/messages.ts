// XEP-0045 messages: §7.4 messages to all occupants, §8.1 (and §7.3) subject changes, §7.5 private messages,
// §7.8.2 mediated invitations and declines, §7.13 and §8.6 voice requests, §17.2 message business rules, and
// the message rate limit (a service-level policy, §7.4: policy-violation).
import { StanzaError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import { Element, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { dataField, formType, formValues, parseBoolean } from './config.js';
import { exit, isDeliveryError } from './join.js';
import { isoStamp, RANK, type Occupant, type Room } from './room.js';
import type { MucService } from './service.js';

/** Invitations a room remembers for declines (§7.8.2), oldest forgotten first. */
const MAX_INVITATIONS = 1000;

export async function handleMessage(muc: MucService, stanza: Element, from: Jid, to: Jid): Promise<void> {
  const type = stanza.attrs.type ?? 'normal';
  if (to.local === '') {
    // Messages to the service itself: nothing here takes them.
    if (type === 'error' || type === 'headline' || type === 'groupchat') return;
    throw new StanzaError('service-unavailable', 'the chat service takes no messages; send them to a room');
  }
  const room = muc.rooms.get(to.bareString()) ?? (await muc.load(to.bareString()));
  const fullJid = from.toString();
  if (type === 'error') return messageError(muc, room, stanza, fullJid, to);
  // §17.2.3: a room that does not exist, or is still locked, takes nothing.
  if (room === undefined || (room.locked && room.affiliation(from.bareString()) !== 'owner')) {
    throw new StanzaError('item-not-found', 'no such room');
  }
  if (!to.isBare) return privateMessage(muc, room, stanza, fullJid, to.resource, type);
  if (type === 'groupchat') return groupchat(muc, room, stanza, fullJid);
  const user = stanza.getChild('x', NS.mucUser);
  if (user !== undefined && (user.getChild('invite') !== undefined || user.getChild('decline') !== undefined)) return invitations(muc, room, user, stanza, from);
  const form = stanza.getChild('x', NS.dataForms);
  if (form !== undefined && formType(formValues(form)) === NS.mucRequest) return voiceRequest(muc, room, form, fullJid);
  // §17.2.1: a message to the room that is not groupchat.
  throw new StanzaError('bad-request', 'messages to all occupants must be of type groupchat (§7.4)');
}

/** The sender's occupant, or not-acceptable (§7.4, §7.5). */
function senderIn(room: Room, fullJid: string): Occupant {
  const occupant = room.occupantByJid(fullJid);
  if (occupant === undefined) throw new StanzaError('not-acceptable', 'you are not in this room');
  return occupant;
}

function takeToken(occupant: Occupant): void {
  if (!occupant.bucket.take()) throw new StanzaError('policy-violation', 'you are sending messages too fast; slow down', 'wait');
}

/** A copy of the message from the sender's occupant JID: same id (§7.4, muc#stable_id), client MUC elements dropped. */
function reflection(stanza: Element, from: string, type: string, id: string): Element {
  const attrs: Record<string, string> = { from, type, id };
  const lang = stanza.attrs['xml:lang'];
  if (lang !== undefined) attrs['xml:lang'] = lang;
  const copy = new Element('message', attrs);
  for (const child of stanza.children) {
    if (!(child instanceof Element)) continue;
    if (child.name === 'x' && child.attrs.xmlns === NS.mucUser) continue;
    // Shared, not cloned: the copy never outlives this stanza's handling except in history.
    copy.children.push(child);
  }
  return copy;
}

/** §8.1: a message with a subject and neither body nor thread changes the subject. */
function isSubjectChange(stanza: Element): boolean {
  return stanza.getChild('subject') !== undefined && stanza.getChild('body') === undefined && stanza.getChild('thread') === undefined;
}

/** §7.4: reflect to every occupant (after 'muc:groupchat': an archive stamps it); §8.1: or change the subject. */
async function groupchat(muc: MucService, room: Room, stanza: Element, fullJid: string): Promise<void> {
  const occupant = senderIn(room, fullJid);
  const subject = isSubjectChange(stanza);
  if (subject) {
    const allowed = occupant.role === 'moderator' || (room.config.changeSubject && occupant.role === 'participant');
    if (!allowed) throw new StanzaError('forbidden', 'you may not change the subject of this room (§8.1)');
  } else if (occupant.role === 'visitor') {
    throw new StanzaError('forbidden', 'visitors may not speak in a moderated room (§7.4)');
  }
  takeToken(occupant);
  const occupantJid = room.occupantJid(occupant.nick);
  const message = reflection(stanza, occupantJid, 'groupchat', stanza.attrs.id ?? muc.newId());
  await muc.ctx.emit('muc:groupchat', room.jid, message);
  const now = Date.now();
  if (subject) {
    room.subject = stanza.getChildText('subject') ?? '';
    room.subjectBy = occupantJid;
    room.subjectAt = now;
    muc.persist(muc.save(room));
  } else if (message.getChild('body') !== undefined) {
    // §7.2.13: history carries the delay stamped by the room; built now, sent later to newcomers.
    const delayed = new Element('message', { ...message.attrs });
    delayed.children = [...message.children, xml('delay', { xmlns: NS.delay, from: room.jid, stamp: isoStamp(now) })];
    room.history.push({ stanza: delayed, at: now, chars: delayed.toString().length });
  }
  room.broadcast(message);
}

/** §7.5: to one occupant's real JIDs, from the sender's occupant JID. */
function privateMessage(muc: MucService, room: Room, stanza: Element, fullJid: string, nick: string, type: string): void {
  const sender = senderIn(room, fullJid);
  if (type === 'groupchat') throw new StanzaError('bad-request', 'a private message must not be of type groupchat (§7.5)');
  const target = room.occupant(nick);
  if (target === undefined) throw new StanzaError('item-not-found', `no occupant "${nick}" in this room (§7.5)`);
  const allowed = { anyone: true, participants: sender.role !== 'visitor', moderators: sender.role === 'moderator', none: false }[room.config.allowPm];
  if (!allowed) throw new StanzaError('forbidden', 'private messages are not allowed in this room for your role');
  takeToken(sender);
  const message = reflection(stanza, room.occupantJid(sender.nick), type, stanza.attrs.id ?? muc.newId());
  // §7.5: the service adds <x xmlns='muc#user'/> for Message Carbons (XEP-0280).
  message.cnode(xml('x', { xmlns: NS.mucUser }));
  room.sendToOccupant(target, message);
}

/**
 * Errors sent to the room: a bounced private message goes back to its sender (§7.5); a delivery error from an
 * occupant's session means it is gone (§18.1.2, 333).
 */
function messageError(muc: MucService, room: Room | undefined, stanza: Element, fullJid: string, to: Jid): void {
  if (room === undefined) return;
  const sender = room.occupantByJid(fullJid);
  if (sender === undefined) return;
  if (!to.isBare) {
    const target = room.occupant(to.resource);
    if (target === undefined) return;
    const copy = new Element('message', { from: room.occupantJid(sender.nick), type: 'error' });
    if (stanza.attrs.id !== undefined) copy.attrs.id = stanza.attrs.id;
    for (const child of stanza.children) if (child instanceof Element) copy.children.push(child);
    room.sendToOccupant(target, copy);
    return;
  }
  if (isDeliveryError(stanza)) exit(muc, room, sender, fullJid, { codes: [333], payload: [] });
}

/** §7.8.2 mediated invitations and declines. */
async function invitations(muc: MucService, room: Room, user: Element, stanza: Element, from: Jid): Promise<void> {
  const inviter = from.bareString();
  const invites = user.getChildren('invite');
  if (invites.length > 0) {
    const occupant = room.occupantByJid(from.toString());
    const affiliation = room.affiliation(inviter);
    if (occupant === undefined && RANK[affiliation] < RANK.admin) throw new StanzaError('not-acceptable', 'only occupants may invite others to this room');
    // §9.5: in a members-only room only admins invite, unless members may (muc#roomconfig_allowinvites).
    if (room.config.membersOnly && RANK[affiliation] < RANK.admin && !room.config.allowInvites) {
      throw new StanzaError('forbidden', 'only admins may invite others to this members-only room (§9.5)');
    }
    const invitees: Jid[] = [];
    for (const invite of invites) {
      const invitee = Jid.tryParse(invite.attrs.to);
      if (invitee === undefined || invitee.local === '') throw new StanzaError('jid-malformed', 'an invitation needs a user JID in "to"');
      if (!(await muc.userExists(invitee))) throw new StanzaError('item-not-found', `no such user: ${invitee.bareString()} (§7.8.2)`);
      invitees.push(invitee);
    }
    for (const [i, invitee] of invitees.entries()) {
      const bare = invitee.bareString();
      // §9.5: an invitation to a members-only room makes the invitee a member.
      if (room.config.membersOnly && room.affiliation(bare) === 'none') {
        room.setAffiliation(bare, { affiliation: 'member' });
        muc.persist(muc.saveAffiliation(room, bare));
      }
      remember(room, bare, from.toString());
      const reason = invites[i]?.getChild('reason');
      const x = xml('x', { xmlns: NS.mucUser }, xml('invite', { from: inviter }, reason === undefined ? undefined : xml('reason', {}, reason.getText())));
      if (room.config.passwordProtected) x.cnode(xml('password', {}, room.config.password));
      muc.output.route(xml('message', { from: room.jid, to: invitee.toString(), id: stanza.attrs.id ?? muc.newId() }, x));
    }
  }
  for (const decline of user.getChildren('decline')) {
    const target = Jid.tryParse(decline.attrs.to);
    if (target === undefined || target.local === '') throw new StanzaError('jid-malformed', 'a decline needs the inviter\'s JID in "to"');
    // Only to someone who did invite the decliner: the room relays nothing else.
    const invitedBy = room.invitations.get(from.bareString());
    if (invitedBy === undefined || Jid.tryParse(invitedBy)?.bareString() !== target.bareString()) {
      throw new StanzaError('item-not-found', `${target.bareString()} did not invite you to this room`);
    }
    room.invitations.delete(from.bareString());
    const reason = decline.getChild('reason');
    const x = xml('x', { xmlns: NS.mucUser }, xml('decline', { from: from.bareString() }, reason === undefined ? undefined : xml('reason', {}, reason.getText())));
    muc.output.route(xml('message', { from: room.jid, to: invitedBy, id: stanza.attrs.id ?? muc.newId() }, x));
  }
}

function remember(room: Room, invitee: string, inviter: string): void {
  room.invitations.delete(invitee);
  room.invitations.set(invitee, inviter);
  if (room.invitations.size > MAX_INVITATIONS) {
    const oldest = room.invitations.keys().next();
    if (!oldest.done) room.invitations.delete(oldest.value);
  }
}

/** §7.13 a visitor asks for voice: the moderators get an approval form; §8.6 a moderator's approval grants it. */
function voiceRequest(muc: MucService, room: Room, form: Element, fullJid: string): void {
  const occupant = senderIn(room, fullJid);
  const values = formValues(form);
  if (occupant.role === 'moderator' && values.has('muc#request_allow')) {
    if (!parseBoolean('muc#request_allow', values.get('muc#request_allow') ?? [])) return;
    const nick = values.get('muc#roomnick')?.[0];
    const target = nick === undefined ? undefined : room.occupant(nick);
    if (target === undefined) throw new StanzaError('item-not-found', `no occupant "${nick ?? ''}" in this room`);
    if (target.role === 'visitor') {
      target.role = 'participant';
      room.broadcastPresence(target);
    }
    return;
  }
  if (occupant.role !== 'visitor' || values.get('muc#role')?.[0] !== 'participant') return;
  takeToken(occupant);
  const approval = xml(
    'x',
    { xmlns: NS.dataForms, type: 'form' },
    xml('title', {}, 'Voice request'),
    xml('instructions', {}, 'To grant voice to this occupant, set "Grant voice" and submit the form.'),
    dataField('FORM_TYPE', 'hidden', undefined, [NS.mucRequest]),
    dataField('muc#role', 'list-single', 'Requested role', ['participant']),
    dataField('muc#jid', 'jid-single', 'User ID', [fullJid]),
    dataField('muc#roomnick', 'text-single', 'Room nickname', [occupant.nick]),
    dataField('muc#request_allow', 'boolean', 'Grant voice to this person?', ['false']),
  );
  const message = xml('message', { from: room.jid, id: muc.newId() }, approval);
  for (const moderator of room.occupants()) if (moderator.role === 'moderator') room.sendToOccupant(moderator, message);
}
