// XEP-0045 §6 discovery through the core's registries (answered by the disco module, XEP-0030): the service's
// identity and features (§6.1, §6.2) registered for its JID; a provider for what comes and goes: the public
// rooms (§6.3), a room's identity, features and muc#roominfo form (§6.4, XEP-0128), its occupants (§6.5),
// and the x-roomuser-item node (§7.12). Occupant JIDs (§6.6) stay with the service (service.ts, occupantIq).
import { StanzaError } from '../../src/errors.js';
import type { Jid } from '../../src/jid.js';
import type { DiscoInfo, DiscoItem, DiscoProvider } from '../../src/modules/api.js';
import { xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { dataField, FIELD } from './config.js';
import type { Room } from './room.js';
import type { MucService } from './service.js';

const SERVICE_IDENTITY = { category: 'conference', type: 'text', name: 'Chatrooms' };
const SERVICE_FEATURES = [NS.discoInfo, NS.discoItems, NS.muc, NS.mucStableId, NS.ping];

/** Registers the service's disco#info and the provider for its rooms; the service answers pings (§6.2). */
export function registerDiscovery(muc: MucService): void {
  const { ctx } = muc;
  ctx.addIdentity(SERVICE_IDENTITY, muc.domain);
  for (const feature of SERVICE_FEATURES) ctx.addFeature(feature, muc.domain);
  ctx.onIq('get', { domain: muc.domain, to: 'service' }, NS.ping, 'ping', () => undefined);
  ctx.addDiscoProvider(muc.domain, roomDiscovery(muc));
}

function roomDiscovery(muc: MucService): DiscoProvider {
  return {
    // The service's own info is what registerDiscovery registered; a node of it is unknown.
    info: async ({ to, node, from }) => {
      if (to.local === '') return undefined;
      const room = await muc.roomFor(to, from);
      const info = roomInfo(room, node, from);
      if (node !== undefined) return info;
      // Features other modules provide for rooms (XEP-0313 §6: the archive).
      const extra: string[] = [];
      await muc.ctx.emit('muc:room-features', room.jid, extra);
      return extra.length === 0 ? info : { ...info, features: [...info.features, ...extra] };
    },
    items: async ({ to, node, from }) => {
      if (to.local === '') return node === undefined ? [...(await muc.publicRooms())].map(([jid, name]) => (name === '' ? { jid } : { jid, name })) : undefined;
      const room = await muc.roomFor(to, from);
      if (node !== undefined) throw new StanzaError('item-not-found', `no node "${node}"`);
      return roomItems(room, from);
    },
  };
}

/** §6.4: identity, the features that describe the room, and the muc#roominfo form (XEP-0128); §7.12 the reserved nick. */
function roomInfo(room: Room, node: string | undefined, from: Jid): DiscoInfo {
  if (node === 'x-roomuser-item') {
    const nick = room.affiliationEntry(from.bareString())?.nick;
    return { identities: nick === undefined ? [] : [{ category: 'conference', type: 'text', name: nick }], features: [] };
  }
  // §18.1.1: nothing is filtered out of reflected traffic, so there is no traffic node.
  if (node === NS.mucTraffic) throw new StanzaError('service-unavailable', 'this room passes every namespace through');
  if (node !== undefined) throw new StanzaError('item-not-found', `no node "${node}"`);
  const c = room.config;
  const features = [
    NS.discoInfo,
    NS.muc,
    NS.mucStableId,
    NS.mucSelfPing,
    NS.register,
    c.persistent ? 'muc_persistent' : 'muc_temporary',
    c.membersOnly ? 'muc_membersonly' : 'muc_open',
    c.moderated ? 'muc_moderated' : 'muc_unmoderated',
    c.passwordProtected ? 'muc_passwordprotected' : 'muc_unsecured',
    c.public ? 'muc_public' : 'muc_hidden',
    c.whois === 'anyone' ? 'muc_nonanonymous' : 'muc_semianonymous',
  ];
  const form = xml(
    'x',
    { xmlns: NS.dataForms, type: 'result' },
    dataField('FORM_TYPE', 'hidden', undefined, [NS.mucRoominfo]),
    dataField('muc#roominfo_description', undefined, 'Description', [c.description]),
    dataField('muc#roominfo_subject', undefined, 'Current discussion topic', [room.subject]),
    dataField('muc#roominfo_occupants', undefined, 'Number of occupants', [String(room.size)]),
    dataField(FIELD.changeSubject, undefined, 'Occupants may change the subject', [c.changeSubject ? '1' : '0']),
    dataField(FIELD.maxHistory, undefined, 'Maximum number of history messages returned by the room', [String(c.maxHistory)]),
  );
  if (c.language !== '') form.cnode(dataField('muc#roominfo_lang', undefined, 'Language of discussion', [c.language]));
  const name = c.name === '' ? room.jid.slice(0, room.jid.indexOf('@')) : c.name;
  return { identities: [{ category: 'conference', type: 'text', name }], features, forms: [form] };
}

/**
 * §6.5: the occupants, to occupants, and to anyone when the room is public, open and without a password;
 * other rooms keep them private with an empty result.
 */
function roomItems(room: Room, from: Jid): DiscoItem[] {
  const c = room.config;
  const open = c.public && !c.membersOnly && !c.passwordProtected;
  if (!open && room.occupantByJid(from.toString()) === undefined) return [];
  return [...room.occupants()].map((occupant) => ({ jid: room.occupantJid(occupant.nick) }));
}
