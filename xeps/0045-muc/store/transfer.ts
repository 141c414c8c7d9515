// Persistent rooms in `ratatosk export`/`import`: one line each (they belong to their service, not to an
// account), { jid, config, subject?, subjectBy?, createdAt, affiliations: [{ jid, affiliation, reason?, nick? }] }.
// A room the target store already has is left as it is, as existing accounts are.
import type { ModuleTransfer, TransferValue } from '../../../src/modules/api.js';
import { isAffiliation, isRoomConfigValue, type RoomAffiliation, type RoomStore, type StoredRoom } from './types.js';

const ROOM_KEYS = new Set(['jid', 'config', 'subject', 'subjectBy', 'createdAt', 'affiliations']);
const AFFILIATION_KEYS = new Set(['jid', 'affiliation', 'reason', 'nick']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unknownKeys(value: Record<string, unknown>, known: ReadonlySet<string>, at: string): string | undefined {
  const unknown = Object.keys(value).filter((k) => !known.has(k));
  return unknown.length > 0 ? `${at}unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}` : undefined;
}

function parseAffiliation(value: unknown, at: string): RoomAffiliation | string {
  if (!isObject(value)) return `${at}: expected an object`;
  const unknown = unknownKeys(value, AFFILIATION_KEYS, `${at}: `);
  if (unknown !== undefined) return unknown;
  const { jid, affiliation, reason, nick } = value;
  if (typeof jid !== 'string' || jid === '') return `${at}.jid: expected a bare JID`;
  if (!isAffiliation(affiliation)) return `${at}.affiliation: expected owner, admin, member or outcast`;
  if (reason !== undefined && typeof reason !== 'string') return `${at}.reason: expected a string`;
  if (nick !== undefined && typeof nick !== 'string') return `${at}.nick: expected a string`;
  return { jid, affiliation, ...(reason === undefined ? {} : { reason }), ...(nick === undefined ? {} : { nick }) };
}

function parseRoom(data: unknown): { room: StoredRoom; affiliations: RoomAffiliation[] } | string {
  if (!isObject(data)) return 'expected a room object';
  const unknown = unknownKeys(data, ROOM_KEYS, '');
  if (unknown !== undefined) return unknown;
  const { jid, config, subject, subjectBy, createdAt, affiliations } = data;
  if (typeof jid !== 'string' || !/^[^@/]+@[^@/]+$/.test(jid)) return 'jid: expected a room\'s bare JID (room@service)';
  if (!isObject(config) || !Object.values(config).every(isRoomConfigValue)) return 'config: expected an object of field to string, number, boolean or list of strings';
  if (subject !== undefined && typeof subject !== 'string') return 'subject: expected a string';
  if (subjectBy !== undefined && typeof subjectBy !== 'string') return 'subjectBy: expected a string';
  if (typeof createdAt !== 'number' || !Number.isFinite(createdAt) || createdAt < 0) return 'createdAt: expected milliseconds since 1970';
  if (!Array.isArray(affiliations)) return 'affiliations: expected a list';
  const parsedAffiliations: RoomAffiliation[] = [];
  for (const [i, raw] of affiliations.entries()) {
    const affiliation = parseAffiliation(raw, `affiliations[${i}]`);
    if (typeof affiliation === 'string') return affiliation;
    parsedAffiliations.push(affiliation);
  }
  const room: StoredRoom = { jid, config: config as StoredRoom['config'], createdAt };
  if (subject !== undefined) room.subject = subject;
  if (subjectBy !== undefined) room.subjectBy = subjectBy;
  return { room, affiliations: parsedAffiliations };
}

export const mucTransfer: ModuleTransfer<RoomStore> = {
  async *exportRecords(store) {
    for (const service of await store.services()) {
      for (const room of await store.list(service)) {
        const affiliations: TransferValue[] = (await store.affiliations(room.jid)).map((a) => ({ ...a }));
        // Fields in code point order: the back ends keep the configuration in different orders (jsonb sorts).
        const config: { [key: string]: TransferValue } = {};
        for (const [field, value] of Object.entries(room.config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) config[field] = value;
        const record: { [key: string]: TransferValue } = { jid: room.jid, config, createdAt: room.createdAt, affiliations };
        if (room.subject !== undefined) record.subject = room.subject;
        if (room.subjectBy !== undefined) record.subjectBy = room.subjectBy;
        yield record;
      }
    }
  },
  checkRecord: (data) => {
    const parsed = parseRoom(data);
    return typeof parsed === 'string' ? parsed : undefined;
  },
  async importRecord(store, data) {
    const parsed = parseRoom(data);
    if (typeof parsed === 'string' || (await store.get(parsed.room.jid)) !== undefined) return false;
    await store.save(parsed.room);
    for (const affiliation of parsed.affiliations) await store.setAffiliation(parsed.room.jid, affiliation);
    return true;
  },
};
