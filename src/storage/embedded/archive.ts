// The message archive (XEP-0313, paged per XEP-0059) in the embedded (LMDB) store.
//
// Layout, one archive being one contiguous key range in every sub-database:
//   archive          [owner, seq]       → [timestamp, with]   (small: what a scan reads)
//   archive_stanzas  [owner, seq]       → stanza               (read only for the page returned)
//   archive_with     [owner, with, seq] → timestamp            (the `with` index)
//   archive_seq      'next'             → the last seq given out (never goes back)
// Ids are the decimal `seq`, unique across archives and increasing in insertion order.
//
// Cost of a query: it must count every match, so it reads the owner's whole range of `archive`,
// O(messages in the archive), or with `with` only that correspondent's range of `archive_with`,
// O(messages exchanged with them); neither decodes a stanza. Only the page's stanzas are read.
// Time bounds filter during that scan (timestamps need not follow insertion order).
// pruneBefore reads every archive: O(all messages), in write transactions of bounded size.
import type { Database } from 'lmdb';
import { ServerError } from '../../errors.js';
import type { ArchivedMessage, ArchivePage, ArchiveQuery, ArchiveStore } from '../types.js';
import { guard, type EmbeddedEnv, type UserDataOwner } from './env.js';

/** Largest page a query returns, whatever it asks for. */
export const MAX_ARCHIVE_PAGE = 250;
/** Messages pruneBefore deletes per write transaction, so other writers are not held up for long. */
const PRUNE_BATCH = 5000;
const COUNTER_KEY = 'next';

type SeqKey = [string, number];
type WithKey = [string, string, number];
type Meta = [timestamp: number, withJid: string];

function corrupt(what: string): ServerError {
  return new ServerError('STORE_CORRUPT', `embedded store: ${what} is not valid`);
}

function parseMeta(owner: string, value: unknown): Meta {
  if (Array.isArray(value) && value.length === 2) {
    const [timestamp, withJid]: unknown[] = value;
    if (typeof timestamp === 'number' && typeof withJid === 'string') return [timestamp, withJid];
  }
  throw corrupt(`an archived message of "${owner}"`);
}

function seqOf(owner: string, key: readonly unknown[]): number {
  const seq = key[key.length - 1];
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) throw corrupt(`an archive key of "${owner}"`);
  return seq;
}

/** A message id as its seq; undefined when it cannot be an id of ours. */
function parseId(id: string): number | undefined {
  if (!/^[1-9]\d{0,15}$/.test(id)) return undefined;
  const seq = Number(id);
  return Number.isSafeInteger(seq) ? seq : undefined;
}

/** The page size asked for, within 0..MAX_ARCHIVE_PAGE. */
export function archivePageSize(limit: number): number {
  return Number.isFinite(limit) ? Math.min(Math.max(Math.trunc(limit), 0), MAX_ARCHIVE_PAGE) : 0;
}

/** Keeps the newest `limit` of the matches seen so far while scanning oldest first. */
class Tail {
  private items: number[] = [];
  constructor(private readonly limit: number) {}
  push(seq: number): void {
    if (this.limit === 0) return;
    this.items.push(seq);
    if (this.items.length >= 2 * this.limit) this.items = this.items.slice(-this.limit);
  }
  get result(): number[] {
    return this.limit === 0 ? [] : this.items.slice(-this.limit);
  }
}

export class EmbeddedArchiveStore implements ArchiveStore, UserDataOwner {
  private readonly meta: Database<unknown, SeqKey>;
  private readonly stanzas: Database<unknown, SeqKey>;
  private readonly byWith: Database<unknown, WithKey>;
  private readonly counter: Database<unknown, string>;

  constructor(env: EmbeddedEnv) {
    this.meta = env.openDB<unknown, SeqKey>({ name: 'archive', cache: false });
    this.stanzas = env.openDB<unknown, SeqKey>({ name: 'archive_stanzas', cache: false });
    this.byWith = env.openDB<unknown, WithKey>({ name: 'archive_with', cache: false });
    this.counter = env.openDB<unknown, string>({ name: 'archive_seq', cache: false });
  }

  async append(message: Omit<ArchivedMessage, 'id'>): Promise<string> {
    const { owner, with: withJid, stanza } = message;
    const timestamp = Math.trunc(message.timestamp); // whole milliseconds, as PostgreSQL keeps them
    return guard('archive append', () => this.meta.transaction(() => {
      const seq = this.nextSeq(owner);
      const meta: Meta = [timestamp, withJid];
      void this.meta.put([owner, seq], meta);
      void this.stanzas.put([owner, seq], stanza);
      void this.byWith.put([owner, withJid, seq], timestamp);
      void this.counter.put(COUNTER_KEY, seq);
      return String(seq);
    }));
  }

  async query(query: ArchiveQuery): Promise<ArchivePage> {
    const { owner, start, end } = query;
    const limit = archivePageSize(query.limit);
    const backward = query.before !== undefined;
    // Ids bound the page exclusively; an id that is not one of ours matches nothing.
    let valid = true;
    let lower: number | undefined;
    let upper: number | undefined;
    if (query.after !== undefined) {
      lower = parseId(query.after);
      if (lower === undefined) valid = false;
    }
    if (query.before !== undefined && query.before !== '') {
      upper = parseId(query.before);
      if (upper === undefined) valid = false;
    }
    const inTime = (ts: number): boolean => (start === undefined || ts >= start) && (end === undefined || ts <= end);

    // Everything below reads one snapshot: it runs synchronously within one event turn.
    return guard('archive query', () => {
      let count = 0;
      let candidates = 0;
      const head: number[] = [];
      const tail = new Tail(limit);
      const consider = (seq: number, ts: number): void => {
        if (!inTime(ts)) return;
        count++;
        if (!valid || (lower !== undefined && seq <= lower) || (upper !== undefined && seq >= upper)) return;
        candidates++;
        if (backward) tail.push(seq);
        else if (head.length < limit) head.push(seq);
      };
      if (query.with !== undefined) {
        for (const { key, value } of this.byWith.getRange({ start: [owner, query.with], end: [owner, query.with, Infinity] })) {
          if (typeof value !== 'number') throw corrupt(`the archive index of "${owner}"`);
          consider(seqOf(owner, key), value);
        }
      } else {
        for (const { key, value } of this.meta.getRange({ start: [owner], end: [owner, Infinity] })) {
          consider(seqOf(owner, key), parseMeta(owner, value)[0]);
        }
      }
      const seqs = backward ? tail.result : head;
      const messages = seqs.map((seq) => this.read(owner, seq));
      return { messages, complete: candidates <= limit, count };
    });
  }

  async deleteArchive(owner: string): Promise<void> {
    await guard('archive delete', () => this.meta.transaction(() => this.removeUserData(owner)));
  }

  async pruneBefore(timestamp: number): Promise<number> {
    let removed = 0;
    let from: SeqKey | undefined;
    for (;;) {
      const batch = await guard('archive prune', () => this.meta.transaction(() => {
        const doomed: Array<{ key: SeqKey; withJid: string }> = [];
        let next: SeqKey | undefined;
        for (const { key, value } of this.meta.getRange(from === undefined ? {} : { start: from })) {
          if (doomed.length === PRUNE_BATCH) {
            next = key;
            break;
          }
          const owner = key[0];
          const [ts, withJid] = parseMeta(owner, value);
          if (ts < timestamp) doomed.push({ key, withJid });
        }
        for (const { key, withJid } of doomed) this.removeMessage(key, withJid);
        return { removed: doomed.length, next };
      }));
      removed += batch.removed;
      if (batch.next === undefined) return removed;
      from = batch.next;
    }
  }

  /** Removes the archive whose owner is `owner`; synchronous, for a write transaction. */
  removeUserData(owner: string): void {
    const doomed: Array<{ key: SeqKey; withJid: string }> = [];
    for (const { key, value } of this.meta.getRange({ start: [owner], end: [owner, Infinity] })) {
      doomed.push({ key, withJid: parseMeta(owner, value)[1] });
    }
    for (const { key, withJid } of doomed) this.removeMessage(key, withJid);
  }

  private removeMessage(key: SeqKey, withJid: string): void {
    const [owner, seq] = key;
    void this.meta.remove(key);
    void this.stanzas.remove(key);
    void this.byWith.remove([owner, withJid, seq]);
  }

  private read(owner: string, seq: number): ArchivedMessage {
    const [timestamp, withJid] = parseMeta(owner, this.meta.get([owner, seq]));
    const stanza = this.stanzas.get([owner, seq]);
    if (typeof stanza !== 'string') throw corrupt(`an archived message of "${owner}"`);
    return { id: String(seq), owner, with: withJid, timestamp, stanza };
  }

  /** Above every id ever given out, and above this archive's newest (should the counter be lost). Call in a write transaction. */
  private nextSeq(owner: string): number {
    const stored = this.counter.get(COUNTER_KEY);
    if (stored !== undefined && (typeof stored !== 'number' || !Number.isSafeInteger(stored))) throw corrupt('the archive counter');
    let last = stored ?? 0;
    for (const key of this.meta.getKeys({ start: [owner, Infinity], end: [owner], reverse: true, limit: 1 })) {
      const seq = key[1];
      if (typeof seq === 'number' && seq > last) last = seq;
    }
    return last + 1;
  }
}
