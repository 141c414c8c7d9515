// XEP-0045 §7.10 registering with a room (XEP-0077 with the muc#register form): the user becomes a member with
// a reserved nickname, granted at once (no approval step, §9.9). §7.12 (the reserved nickname through disco)
// is answered in discovery.ts.
import { StanzaError } from '../../src/errors.js';
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { dataField, formType, formValues } from './config.js';
import { applyAffiliation } from './admin.js';
import { RANK } from './room.js';
import type { IqContext } from './service.js';

const NICK_FIELD = 'muc#register_roomnick';

export async function handleRegister({ muc, room, stanza, payload, from }: IqContext): Promise<Element | undefined> {
  const bare = from.bareString();
  const affiliation = room.affiliation(bare);
  // Registering makes a member, so it cannot open a members-only room, nor lift a ban.
  if (affiliation === 'outcast' || (room.config.membersOnly && RANK[affiliation] < RANK.member)) {
    throw new StanzaError('not-allowed', 'you may not register with this room (§7.10)');
  }
  if (stanza.attrs.type === 'get') {
    const query = xml('query', { xmlns: NS.register });
    if (RANK[affiliation] >= RANK.member) {
      query.cnode(xml('registered'));
      const nick = room.affiliationEntry(bare)?.nick;
      if (nick !== undefined) query.cnode(xml('username', {}, nick));
      return query;
    }
    query.cnode(
      xml(
        'x',
        { xmlns: NS.dataForms, type: 'form' },
        xml('title', {}, `Registration with ${room.jid}`),
        xml('instructions', {}, 'Choose the nickname to reserve in this room.'),
        dataField('FORM_TYPE', 'hidden', undefined, [NS.mucRegister]),
        dataField(NICK_FIELD, 'text-single', 'Desired nickname', []).cnode(xml('required')).up(),
      ),
    );
    return query;
  }
  const form = payload.getChild('x', NS.dataForms);
  if (form === undefined || form.attrs.type !== 'submit') throw new StanzaError('bad-request', 'submit the muc#register form (§7.10)');
  const values = formValues(form);
  const type = formType(values);
  if (type !== undefined && type !== NS.mucRegister) throw new StanzaError('bad-request', `FORM_TYPE must be ${NS.mucRegister}`);
  const nick = values.get(NICK_FIELD)?.[0]?.trim() ?? '';
  if (nick === '') throw new StanzaError('bad-request', `the form needs ${NICK_FIELD} (§7.10)`);
  const reservedFor = room.reservedBy(nick);
  const holder = room.occupant(nick);
  if ((reservedFor !== undefined && reservedFor !== bare) || (holder !== undefined && holder.bareJid !== bare)) {
    throw new StanzaError('conflict', `the nickname "${nick}" is taken in this room (§7.10)`);
  }
  await applyAffiliation(muc, room, bare, RANK[affiliation] >= RANK.member ? affiliation : 'member', { note: {}, nick, inviter: bare });
  return undefined;
}
