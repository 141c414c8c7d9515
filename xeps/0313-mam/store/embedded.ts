// The archive in the embedded (LMDB) store, with ordered keys: `mam_messages` [owner, id] -> the message,
// `mam_with` [owner, with, id] (the `with` filter), `mam_time` [id, owner] (retention purges by time),
// `mam_prefs` owner -> preferences. A page is one range read of at most max + 1 keys.
import type { Database } from 'lmdb';
import { ServerError } from '../../../src/errors.js';
import { guard, type EmbeddedEnv, type UserDataOwner } from '../../../src/modules/api.js';
import { ID_MAX, idFloor } from '../ids.js';
import type { ArchivedMessage, ArchivePage, ArchivePrefs, ArchiveQuery, ArchiveStore } from './types.js';

type Key = string[];

interface StoredMessage {
  w: string;
  p: string;
  t: number;
  s: string;
}

function parseStored(owner: string, id: string, value: unknown): ArchivedMessage {
  if (typeof value === 'object' && value !== null) {
    const { w, p, t, s } = value as Record<string, unknown>;
    if (typeof w === 'string' && typeof p === 'string' && typeof t === 'number' && typeof s === 'string') return { owner, id, with: w, peer: p, timestamp: t, stanza: s };
  }
  throw new ServerError('STORE_CORRUPT', `embedded store: archived message ${id} of "${owner}" is not valid`);
}

function parsePrefs(owner: string, value: unknown): ArchivePrefs | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'object' && value !== null) {
    const { default: mode, always, never } = value as Record<string, unknown>;
    const list = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
    if ((mode === 'always' || mode === 'never' || mode === 'roster') && list(always) && list(never)) return { default: mode, always, never };
  }
  throw new ServerError('STORE_CORRUPT', `embedded store: the archive preferences of "${owner}" are not valid`);
}

function bareOf(jid: string): string {
  const slash = jid.indexOf('/');
  return slash === -1 ? jid : jid.slice(0, slash);
}

export class EmbeddedArchiveStore implements ArchiveStore, UserDataOwner {
  private readonly messages: Database<unknown, Key>;
  private readonly byWith: Database<null, Key>;
  private readonly byTime: Database<null, Key>;
  private readonly prefs: Database<unknown, string>;

  constructor(env: EmbeddedEnv) {
    this.messages = env.openDB<unknown, Key>({ name: 'mam_messages', cache: false });
    this.byWith = env.openDB<null, Key>({ name: 'mam_with', cache: false });
    this.byTime = env.openDB<null, Key>({ name: 'mam_time', cache: false });
    this.prefs = env.openDB<unknown, string>({ name: 'mam_prefs', cache: false });
  }

  async append(batch: readonly ArchivedMessage[]): Promise<void> {
    await guard('archive append', () =>
      this.messages.transaction(() => {
        for (const m of batch) {
          const key = [m.owner, m.id];
          if (this.messages.doesExist(key)) continue;
          const value: StoredMessage = { w: m.with, p: m.peer, t: m.timestamp, s: m.stanza };
          void this.messages.put(key, value);
          void this.byWith.put([m.owner, m.with, m.id], null);
          void this.byTime.put([m.id, m.owner], null);
        }
      }),
    );
  }

  async query(q: ArchiveQuery): Promise<ArchivePage> {
    return guard('archive query', () => (q.ids === undefined ? this.range(q) : this.byIds(q, q.ids)));
  }

  private range(q: ArchiveQuery): ArchivePage {
    const low = q.after ?? '';
    const high = q.before ?? ID_MAX;
    const prefix = q.with === undefined ? [q.owner] : [q.owner, bareOf(q.with)];
    const reverse = q.from === 'last';
    const iterable = reverse
      ? this.rangeKeys({ start: [...prefix, high], end: [...prefix, low], reverse: true })
      : this.rangeKeys({ start: [...prefix, low], end: [...prefix, high] });
    const found: ArchivedMessage[] = [];
    let complete = true;
    for (const key of iterable) {
      const id = key[key.length - 1];
      if (id === undefined || id <= low || id >= high) continue;
      const message = parseStored(q.owner, id, this.messages.get([q.owner, id]));
      if (q.withFull === true && message.peer !== q.with) continue;
      if (found.length === q.max) {
        complete = false;
        break;
      }
      found.push(message);
    }
    if (reverse) found.reverse();
    return { messages: found, complete };
  }

  private *rangeKeys(options: { start: Key; end: Key; reverse?: boolean }): Iterable<Key> {
    const db = options.start.length === 3 ? this.byWith : this.messages;
    for (const key of db.getKeys(options)) if (Array.isArray(key)) yield key.map(String);
  }

  private byIds(q: ArchiveQuery, ids: readonly string[]): ArchivePage {
    const low = q.after ?? '';
    const high = q.before ?? ID_MAX;
    const all: ArchivedMessage[] = [];
    for (const id of [...new Set(ids)].sort()) {
      if (id <= low || id >= high) continue;
      const value = this.messages.get([q.owner, id]);
      if (value === undefined) continue;
      const message = parseStored(q.owner, id, value);
      if (q.with !== undefined && (q.withFull === true ? message.peer : message.with) !== q.with) continue;
      all.push(message);
    }
    const messages = q.from === 'last' ? all.slice(-q.max) : all.slice(0, q.max);
    return { messages, complete: messages.length === all.length };
  }

  async has(owner: string, id: string): Promise<boolean> {
    return guard('archive lookup', () => this.messages.doesExist([owner, id]));
  }

  async getPrefs(owner: string): Promise<ArchivePrefs | undefined> {
    const value = await guard('archive preferences get', () => this.prefs.get(owner));
    return parsePrefs(owner, value);
  }

  async setPrefs(owner: string, prefs: ArchivePrefs): Promise<void> {
    await guard('archive preferences set', () => this.prefs.put(owner, { default: prefs.default, always: [...prefs.always], never: [...prefs.never] }));
  }

  async purgeBefore(timestamp: number): Promise<number> {
    return guard('archive purge', () =>
      this.messages.transaction(() => {
        let removed = 0;
        for (const key of this.byTime.getKeys({ start: [''], end: [idFloor(timestamp)] })) {
          if (!Array.isArray(key)) continue;
          const [id, owner] = key.map(String);
          if (id === undefined || owner === undefined) continue;
          this.removeOne(owner, id);
          removed++;
        }
        return removed;
      }),
    );
  }

  async scan(after: { owner: string; id: string } | undefined, limit: number): Promise<ArchivedMessage[]> {
    return guard('archive scan', () => {
      const out: ArchivedMessage[] = [];
      const range = after === undefined ? {} : { start: [after.owner, after.id], exclusiveStart: true };
      for (const { key, value } of this.messages.getRange(range)) {
        if (!Array.isArray(key)) continue;
        const [owner, id] = key.map(String);
        if (owner === undefined || id === undefined || (after !== undefined && owner === after.owner && id === after.id)) continue;
        out.push(parseStored(owner, id, value));
        if (out.length === limit) break;
      }
      return out;
    });
  }

  async allPrefs(): Promise<Array<{ owner: string; prefs: ArchivePrefs }>> {
    return guard('archive preferences scan', () => {
      const out: Array<{ owner: string; prefs: ArchivePrefs }> = [];
      for (const { key, value } of this.prefs.getRange({})) {
        const prefs = parsePrefs(String(key), value);
        if (prefs !== undefined) out.push({ owner: String(key), prefs });
      }
      return out;
    });
  }

  async removeOwner(owner: string): Promise<void> {
    await guard('archive removal', () => this.messages.transaction(() => this.removeOwnerSync(owner)));
  }

  /** An account's archive goes with the account (run inside its delete transaction). */
  removeUserData(username: string): void {
    this.removeOwnerSync(username);
  }

  private removeOwnerSync(owner: string): void {
    for (const key of this.messages.getKeys({ start: [owner, ''], end: [owner, ID_MAX] })) {
      if (!Array.isArray(key)) continue;
      const id = key[1];
      if (typeof id === 'string') this.removeOne(owner, id);
    }
    void this.prefs.remove(owner);
  }

  private removeOne(owner: string, id: string): void {
    const value = this.messages.get([owner, id]);
    if (value !== undefined) {
      const message = parseStored(owner, id, value);
      void this.byWith.remove([owner, message.with, id]);
    }
    void this.messages.remove([owner, id]);
    void this.byTime.remove([id, owner]);
  }
}
