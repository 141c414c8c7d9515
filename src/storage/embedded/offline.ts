// Offline messages (XEP-0160) in the embedded (LMDB) store. Sub-database `offline` is keyed
// [username, seq] → { stanza, storedAt }, so one user's queue is one contiguous key range in
// arrival order. `seq` comes from a counter in `offline_seq` that only ever grows (it survives
// restarts and emptied queues), so an id is never handed out twice: a delivery that removes the
// ids it listed cannot remove a message pushed after it. Pushes check the queue's size and
// append in one write transaction, which LMDB serialises across processes; so does a take, which reads,
// hands out and removes in one synchronous write transaction (nodes sharing the store hand nothing twice).
import type { Database } from 'lmdb';
import { ServerError } from '../../errors.js';
import type { OfflineMessage, OfflineStore, OfflineTake } from '../types.js';
import { deliveredIds } from '../records.js';
import { guard, type EmbeddedEnv, type UserDataOwner } from './env.js';

type OfflineKey = [string, number];

interface OfflineRecord {
  stanza: string;
  storedAt: number;
}

const COUNTER_KEY = 'next';

/** The key range of one user's queue: [username] sorts before every [username, seq]. */
function queueRange(username: string): { start: [string]; end: [string, number] } {
  return { start: [username], end: [username, Infinity] };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseRecord(username: string, key: unknown, value: unknown): OfflineMessage {
  const seq = Array.isArray(key) ? key[1] : undefined;
  if (typeof seq === 'number' && Number.isSafeInteger(seq) && isRecord(value)) {
    const { stanza, storedAt } = value;
    if (typeof stanza === 'string' && typeof storedAt === 'number') return { id: String(seq), stanza, storedAt };
  }
  throw new ServerError('STORE_CORRUPT', `embedded store: an offline message of "${username}" is not valid`);
}

/** A queue id as the sequence number it was made from, or undefined when it cannot be one of ours. */
function parseId(id: string): number | undefined {
  if (!/^[1-9]\d{0,15}$/.test(id)) return undefined;
  const seq = Number(id);
  return Number.isSafeInteger(seq) ? seq : undefined;
}

export class EmbeddedOfflineStore implements OfflineStore, UserDataOwner {
  private readonly db: Database<unknown, OfflineKey>;
  private readonly counter: Database<unknown, string>;

  constructor(env: EmbeddedEnv) {
    this.db = env.openDB<unknown, OfflineKey>({ name: 'offline', cache: false });
    this.counter = env.openDB<unknown, string>({ name: 'offline_seq', cache: false });
  }

  async push(username: string, stanza: string, limit: number): Promise<boolean> {
    if (!(limit > 0)) return false;
    const record: OfflineRecord = { stanza, storedAt: Date.now() };
    return guard('offline push', () => this.db.transaction(() => {
      // Counting stops at the limit, so a full queue costs `limit` key reads, not its length.
      if (this.db.getKeysCount({ ...queueRange(username), limit }) >= limit) return false;
      const seq = this.nextSeq(username);
      void this.db.put([username, seq], record);
      void this.counter.put(COUNTER_KEY, seq);
      return true;
    }));
  }

  async list(username: string, limit?: number): Promise<OfflineMessage[]> {
    if (limit !== undefined && !(limit > 0)) return [];
    return guard('offline list', () => this.queue(username, limit));
  }

  async remove(username: string, ids: readonly string[]): Promise<void> {
    const seqs = ids.map(parseId).filter((seq): seq is number => seq !== undefined);
    if (seqs.length === 0) return;
    await guard('offline remove', () => this.db.transaction(() => {
      for (const seq of seqs) void this.db.remove([username, seq]);
    }));
  }

  async take(username: string, limit: number, hand: (messages: readonly OfflineMessage[]) => readonly string[]): Promise<OfflineTake> {
    if (!(limit > 0)) return { listed: 0, removed: 0 };
    // A failure of `hand` is its own, not the store's: it is rethrown as it came, after the transaction was undone.
    let handFailure: { error: unknown } | undefined;
    try {
      return await guard('offline take', () =>
        this.db.transactionSync(() => {
          const messages = this.queue(username, limit);
          if (messages.length === 0) return { listed: 0, removed: 0 };
          let handed: readonly string[];
          try {
            handed = hand(messages);
          } catch (error) {
            handFailure = { error };
            throw error;
          }
          let removed = 0;
          for (const id of deliveredIds(messages, handed)) {
            const seq = parseId(id);
            if (seq === undefined) continue;
            void this.db.remove([username, seq]);
            removed++;
          }
          return { listed: messages.length, removed };
        }),
      );
    } catch (err) {
      if (handFailure !== undefined) throw handFailure.error;
      throw err;
    }
  }

  async count(username: string): Promise<number> {
    return guard('offline count', () => this.db.getKeysCount(queueRange(username)));
  }

  removeUserData(username: string): void {
    const keys = [...this.db.getKeys(queueRange(username))];
    for (const key of keys) void this.db.remove(key);
  }

  /** The user's queue, oldest first, up to `limit` (all without one). */
  private queue(username: string, limit?: number): OfflineMessage[] {
    const messages: OfflineMessage[] = [];
    const range = limit === undefined ? queueRange(username) : { ...queueRange(username), limit: Math.trunc(limit) };
    for (const { key, value } of this.db.getRange(range)) messages.push(parseRecord(username, key, value));
    return messages;
  }

  /** Above every id ever given out, and above this queue's newest (should the counter be lost). Call in a write transaction. */
  private nextSeq(username: string): number {
    const stored = this.counter.get(COUNTER_KEY);
    if (stored !== undefined && (typeof stored !== 'number' || !Number.isSafeInteger(stored))) {
      throw new ServerError('STORE_CORRUPT', 'embedded store: the offline message counter is not valid');
    }
    let last = stored ?? 0;
    for (const key of this.db.getKeys({ start: [username, Infinity], end: [username], reverse: true, limit: 1 })) {
      const seq = key[1];
      if (typeof seq === 'number' && seq > last) last = seq;
    }
    return last + 1;
  }
}
