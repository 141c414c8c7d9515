// The store of persistent MUC rooms (XEP-0045 §10.1.3 persistent rooms, §9 affiliations): its
// interface and the validation of what a back end reads. Implemented in embedded.ts (LMDB) and
// postgres.ts (migrations/0006_muc_rooms.sql); both pass rooms.contract.ts.

export type Affiliation = 'owner' | 'admin' | 'member' | 'outcast';
export type RoomConfigValue = string | number | boolean | string[];

export interface StoredRoom {
  /** The room's bare JID, e.g. "lounge@conference.example.org". */
  jid: string;
  /** The room configuration, keyed by XEP-0045 form field (muc#roomconfig_*); validated by the module. */
  config: Record<string, RoomConfigValue>;
  subject?: string;
  subjectBy?: string;
  createdAt: number;
}

export interface RoomAffiliation {
  /** Bare JID of the affiliated user. */
  jid: string;
  affiliation: Affiliation;
  reason?: string;
  /** The nickname registered in the room, if any. */
  nick?: string;
}

export interface RoomStore {
  get(jid: string): Promise<StoredRoom | undefined>;
  /** Inserts or replaces the room's configuration and subject (affiliations are kept). */
  save(room: StoredRoom): Promise<void>;
  /** Deletes the room with its affiliations; false when there was none. */
  delete(jid: string): Promise<boolean>;
  /** The rooms of one MUC service (the domain part of their JIDs), sorted by JID. */
  list(service: string): Promise<StoredRoom[]>;
  affiliations(jid: string): Promise<RoomAffiliation[]>;
  /** Sets an affiliation; 'none' removes it. */
  setAffiliation(room: string, affiliation: RoomAffiliation | { jid: string; affiliation: 'none' }): Promise<void>;
  /** Number of persistent rooms in which `jid` is an owner (for the rooms-per-user limit). */
  countOwned(jid: string): Promise<number>;
  /** The MUC services that have stored rooms, sorted (for `ratatosk export`). */
  services(): Promise<string[]>;
}

/** A MUC affiliation as stored. */
export function isAffiliation(value: unknown): value is Affiliation {
  return value === 'owner' || value === 'admin' || value === 'member' || value === 'outcast';
}

/** A room configuration value as stored: string, finite number, boolean or list of strings. */
export function isRoomConfigValue(value: unknown): value is RoomConfigValue {
  if (typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  return Array.isArray(value) && (value as unknown[]).every((v) => typeof v === 'string');
}
