// Persistent MUC rooms (XEP-0045) in the embedded (LMDB) store, in three sub-databases:
//   rooms              [service, room JID]  -> configuration, subject, creation time
//   room_affiliations  [room JID, user JID] -> affiliation, reason, registered nick
//   room_owners        [user JID, room JID] -> true, an index for the rooms-per-owner count
// Keying rooms by their service first keeps one service's rooms together and sorted by JID, so
// listing a service is one range read. Changes that touch several records run in one write
// transaction, so the owner index never disagrees with the affiliations.
import type { Database } from 'lmdb';
import { ServerError } from '../../../src/errors.js';
import { guard, type EmbeddedEnv } from '../../../src/modules/api.js';
import { isAffiliation, isRoomConfigValue, type Affiliation, type RoomAffiliation, type RoomConfigValue, type RoomStore, type StoredRoom } from './types.js';

type PairDb = Database<unknown, [string, string]>;

/**
 * The stored room. The configuration is kept as [field, value] pairs rather than an object, so
 * that any field name survives encoding (msgpack renames a "__proto__" key).
 */
interface RoomRecord {
  config: Array<[string, RoomConfigValue]>;
  subject?: string;
  subjectBy?: string;
  createdAt: number;
}

interface AffiliationRecord {
  affiliation: Affiliation;
  reason?: string;
  nick?: string;
}

/** The MUC service of a room: the domain part of its bare JID. */
function serviceOf(jid: string): string {
  const at = jid.indexOf('@');
  return at < 0 ? jid : jid.slice(at + 1);
}

function roomKey(jid: string): [string, string] {
  return [serviceOf(jid), jid];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function arrayOf(value: unknown): unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

function optionalString(value: unknown): value is string | undefined {
  return value === undefined || typeof value === 'string';
}

function corrupt(what: string): ServerError {
  return new ServerError('STORE_CORRUPT', `embedded store: ${what} is not valid`);
}

function parseRoom(jid: string, value: unknown): StoredRoom {
  if (!isRecord(value)) throw corrupt(`the record of room "${jid}"`);
  const pairs = arrayOf(value.config);
  const { subject, subjectBy, createdAt } = value;
  if (pairs === undefined || !optionalString(subject) || !optionalString(subjectBy)) throw corrupt(`the record of room "${jid}"`);
  if (typeof createdAt !== 'number' || !Number.isFinite(createdAt)) throw corrupt(`the record of room "${jid}"`);
  const entries: Array<[string, RoomConfigValue]> = [];
  for (const pair of pairs) {
    const [field, fieldValue] = arrayOf(pair) ?? [];
    if (typeof field !== 'string' || !isRoomConfigValue(fieldValue)) throw corrupt(`the configuration of room "${jid}"`);
    entries.push([field, Array.isArray(fieldValue) ? [...fieldValue] : fieldValue]);
  }
  // fromEntries defines own properties, so a field named "__proto__" stays a field.
  const room: StoredRoom = { jid, config: Object.fromEntries(entries), createdAt };
  if (subject !== undefined) room.subject = subject;
  if (subjectBy !== undefined) room.subjectBy = subjectBy;
  return room;
}

function parseAffiliation(room: string, jid: string, value: unknown): RoomAffiliation {
  if (!isRecord(value)) throw corrupt(`the affiliation of "${jid}" in room "${room}"`);
  const { affiliation, reason, nick } = value;
  if (!isAffiliation(affiliation) || !optionalString(reason) || !optionalString(nick)) throw corrupt(`the affiliation of "${jid}" in room "${room}"`);
  const result: RoomAffiliation = { jid, affiliation };
  if (reason !== undefined) result.reason = reason;
  if (nick !== undefined) result.nick = nick;
  return result;
}

export class EmbeddedRoomStore implements RoomStore {
  private readonly rooms: PairDb;
  private readonly affiliationsDb: PairDb;
  private readonly owners: PairDb;

  constructor(env: EmbeddedEnv) {
    this.rooms = env.openDB<unknown, [string, string]>({ name: 'rooms', cache: false });
    this.affiliationsDb = env.openDB<unknown, [string, string]>({ name: 'room_affiliations', cache: false });
    this.owners = env.openDB<unknown, [string, string]>({ name: 'room_owners', cache: false });
  }

  async get(jid: string): Promise<StoredRoom | undefined> {
    return guard('room get', () => {
      const value = this.rooms.get(roomKey(jid));
      return value === undefined ? undefined : parseRoom(jid, value);
    });
  }

  async save(room: StoredRoom): Promise<void> {
    const record: RoomRecord = {
      config: Object.entries(room.config).map(([field, value]): [string, RoomConfigValue] => [field, Array.isArray(value) ? [...value] : value]),
      createdAt: room.createdAt,
    };
    if (room.subject !== undefined) record.subject = room.subject;
    if (room.subjectBy !== undefined) record.subjectBy = room.subjectBy;
    // One put replaces the record; the affiliations live apart and are not touched.
    await guard('room save', () => this.rooms.put(roomKey(room.jid), record));
  }

  async delete(jid: string): Promise<boolean> {
    return guard('room delete', () => this.rooms.transaction(() => {
      const key = roomKey(jid);
      if (!this.rooms.doesExist(key)) return false;
      void this.rooms.remove(key);
      // Collect first, then remove: the range is not changed under its own iterator.
      const entries = this.affiliationEntries(jid);
      for (const { user, affiliation } of entries) {
        void this.affiliationsDb.remove([jid, user]);
        if (affiliation === 'owner') void this.owners.remove([user, jid]);
      }
      return true;
    }));
  }

  async list(service: string): Promise<StoredRoom[]> {
    return guard('room list', () => {
      const result: StoredRoom[] = [];
      for (const { key, value } of this.rooms.getRange({ start: [service] })) {
        const [keyService, jid] = key;
        if (keyService !== service) break;
        result.push(parseRoom(jid, value));
      }
      return result;
    });
  }

  async services(): Promise<string[]> {
    return guard('room services', () => {
      const found: string[] = [];
      // Keys sort by service first: one service's rooms are contiguous, so a new service is a new key prefix.
      for (const [service] of this.rooms.getKeys()) if (found.at(-1) !== service) found.push(service);
      return found;
    });
  }

  async affiliations(jid: string): Promise<RoomAffiliation[]> {
    return guard('room affiliations', () => {
      const result: RoomAffiliation[] = [];
      for (const { key, value } of this.affiliationsDb.getRange({ start: [jid] })) {
        const [room, user] = key;
        if (room !== jid) break;
        result.push(parseAffiliation(jid, user, value));
      }
      return result;
    });
  }

  async setAffiliation(room: string, affiliation: RoomAffiliation | { jid: string; affiliation: 'none' }): Promise<void> {
    const user = affiliation.jid;
    await guard('room setAffiliation', () => this.rooms.transaction(() => {
      const key: [string, string] = [room, user];
      const previous = this.affiliationsDb.get(key);
      const wasOwner = previous !== undefined && parseAffiliation(room, user, previous).affiliation === 'owner';
      if (affiliation.affiliation === 'none') {
        if (previous === undefined) return;
        void this.affiliationsDb.remove(key);
        if (wasOwner) void this.owners.remove([user, room]);
        return;
      }
      if (!this.rooms.doesExist(roomKey(room))) {
        throw new ServerError('STORE_NO_SUCH_ROOM', `cannot set an affiliation in room "${room}": the room is not stored (save it first)`);
      }
      const record: AffiliationRecord = { affiliation: affiliation.affiliation };
      if (affiliation.reason !== undefined) record.reason = affiliation.reason;
      if (affiliation.nick !== undefined) record.nick = affiliation.nick;
      void this.affiliationsDb.put(key, record);
      if (affiliation.affiliation === 'owner') {
        if (!wasOwner) void this.owners.put([user, room], true);
      } else if (wasOwner) {
        void this.owners.remove([user, room]);
      }
    }));
  }

  async countOwned(jid: string): Promise<number> {
    return guard('room countOwned', () => {
      let count = 0;
      for (const [user] of this.owners.getKeys({ start: [jid] })) {
        if (user !== jid) break;
        count++;
      }
      return count;
    });
  }

  private affiliationEntries(room: string): Array<{ user: string; affiliation: Affiliation }> {
    const entries: Array<{ user: string; affiliation: Affiliation }> = [];
    for (const { key, value } of this.affiliationsDb.getRange({ start: [room] })) {
      const [keyRoom, user] = key;
      if (keyRoom !== room) break;
      entries.push({ user, affiliation: parseAffiliation(room, user, value).affiliation });
    }
    return entries;
  }
}
