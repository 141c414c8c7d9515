// What a user sees of a Redis fault under a conversation: a sender streams numbered chat messages (one
// every 50 ms) to a recipient who stays online on another node, while `fault` runs from about the middle
// of the stream. Afterwards every message must have reached the live session exactly once and in order:
// nothing in the recipient's offline store, nothing bounced, nothing missing, nothing twice. The two
// nodes share one PostgreSQL schema (test/support/backends.ts's schemaUrl), which the test reads to look
// at the offline store directly.
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { loadConfig } from '../../src/config/index.js';
import { deriveCredentials } from '../../src/auth/credentials.js';
import { openStores } from '../../src/storage/index.js';
import type { Stores } from '../../src/storage/types.js';
import type { TestClient } from './clients.js';

export const MESSAGE_INTERVAL_MS = 50;

export interface DeliveryCount {
  sent: number;
  /** Distinct messages that reached the live session. */
  live: number;
  duplicates: number;
  /** Messages that arrived after a later one. */
  outOfOrder: number;
  bounced: number;
  offline: number;
  /** Neither live, bounced nor offline. */
  missing: number[];
  /** The longest time between two live deliveries. */
  longestGapMs: number;
}

export function describeCount(c: DeliveryCount): string {
  return `sent ${c.sent}, live ${c.live}, duplicates ${c.duplicates}, out of order ${c.outOfOrder}, bounced ${c.bounced}, offline ${c.offline}, missing ${c.missing.length}, longest gap ${c.longestGapMs} ms`;
}

/** Opens the shared store (PostgreSQL schema) the nodes use. */
export async function openSharedStores(databaseUrl: string): Promise<Stores> {
  const config = loadConfig({ file: false, env: {}, overrides: { database: { url: databaseUrl } } });
  return openStores(config);
}

export async function createUsers(stores: Stores, password: string, usernames: readonly string[]): Promise<void> {
  const credentials = await deriveCredentials(password, 4096);
  for (const username of usernames) await stores.accounts.create(username, credentials);
}

/** Offline messages of `username` whose id starts with `tag-`; they are removed so that runs stay apart. */
export async function takeOffline(stores: Stores, username: string, tag: string): Promise<number> {
  const all = await stores.offline.list(username);
  const ours = all.filter((m) => m.stanza.includes(`id="${tag}-`));
  await stores.offline.remove(username, ours.map((m) => m.id));
  return ours.length;
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** Watches one live session for messages `tag-<n>`: arrival order, copies and times. */
export class LiveStream {
  readonly order: number[] = [];
  readonly at = new Map<number, number>();
  duplicates = 0;

  constructor(readonly client: TestClient, private readonly tag: string, kind: 'message' | 'presence' = 'message') {
    client.xmpp.on('stanza', (stanza: Element) => {
      if (!stanza.is(kind) || stanza.attrs.type === 'error') return;
      const seq = seqOf(stanza, tag);
      if (seq === undefined) return;
      if (this.at.has(seq)) {
        this.duplicates++;
        return;
      }
      this.at.set(seq, Date.now());
      this.order.push(seq);
    });
  }

  count(sent: number, bounced: ReadonlySet<number>, offline: number): DeliveryCount {
    let outOfOrder = 0;
    let highest = -1;
    for (const seq of this.order) {
      if (seq < highest) outOfOrder++;
      highest = Math.max(highest, seq);
    }
    const times = [...this.at.values()].sort((a, b) => a - b);
    let longestGapMs = 0;
    for (let i = 1; i < times.length; i++) longestGapMs = Math.max(longestGapMs, (times[i] ?? 0) - (times[i - 1] ?? 0));
    const missing: number[] = [];
    for (let seq = 0; seq < sent; seq++) if (!this.at.has(seq) && !bounced.has(seq)) missing.push(seq);
    return { sent, live: this.at.size, duplicates: this.duplicates, outOfOrder, bounced: bounced.size, offline, missing, longestGapMs };
  }
}

function seqOf(stanza: Element, tag: string): number | undefined {
  const id = stanza.attrs.id;
  if (typeof id !== 'string' || !id.startsWith(`${tag}-`)) return undefined;
  const seq = Number(id.slice(tag.length + 1));
  return Number.isInteger(seq) ? seq : undefined;
}

export interface StreamOptions {
  sender: TestClient;
  /** The live sessions that must get every message (one for chat; every occupant for a room). */
  receivers: readonly TestClient[];
  /** What is streamed: messages (default), or presence broadcasts. */
  kind?: 'message' | 'presence';
  /** Builds stanza `seq` (id `tag-seq`). */
  message(seq: number, id: string): ReturnType<typeof xml>;
  count: number;
  tag: string;
  /** Started (not awaited) when message `count / 2` is due; awaited after the stream. */
  fault(): Promise<unknown>;
  /** How long to wait after the stream for the last messages. */
  settleMs: number;
}

/** Streams the messages across the fault; returns each receiver's watcher and the ids bounced to the sender. */
export async function streamThroughFault(options: StreamOptions): Promise<{ streams: LiveStream[]; bounced: Set<number>; firstBounce: string | undefined }> {
  const { sender, receivers, count, tag } = options;
  const streams = receivers.map((r) => new LiveStream(r, tag, options.kind));
  const bounced = new Set<number>();
  let firstBounce: string | undefined;
  sender.xmpp.on('stanza', (stanza: Element) => {
    if ((stanza.is('message') || stanza.is('presence')) && stanza.attrs.type === 'error') {
      const seq = seqOf(stanza, tag);
      if (seq !== undefined) bounced.add(seq);
      firstBounce ??= stanza.getChild('error')?.toString();
    }
  });
  const began = Date.now();
  let fault: Promise<unknown> | undefined;
  for (let seq = 0; seq < count; seq++) {
    const due = began + seq * MESSAGE_INTERVAL_MS;
    if (Date.now() < due) await sleep(due - Date.now());
    if (!fault && seq >= count / 2) {
      fault = options.fault();
      fault.catch(() => undefined);
    }
    await sender.xmpp.send(options.message(seq, `${tag}-${seq}`));
  }
  await fault;
  const deadline = Date.now() + options.settleMs;
  while (Date.now() < deadline && streams.some((s) => s.at.size + bounced.size < count)) await sleep(100);
  // Copies that would arrive late (a retry) must have their chance to show up as duplicates.
  await sleep(500);
  return { streams, bounced, firstBounce };
}
