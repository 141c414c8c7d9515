// XEP-0198 §5 resumption on another node of the cluster (issue #15 item 2): the messages the node that
// receives a <resume/> and the node holding the session exchange (src/cluster/README.md, "Session hand-over"),
// and the checks on what arrives. The session itself moves through the core (StreamSession.handOver on the
// owner, ClientStream.adopt here); this module adds its queue of unacknowledged stanzas.
import { readSessionState, type Outbound, type OutputStage, type SessionState } from '../../src/modules/api.js';
import { COUNTER_MODULUS } from './counter.js';
import type { QueueState } from './queue.js';

/** The request topic on the cluster bus. */
export const TAKEOVER_TOPIC = 'stream-management:take-over';
/** How long the resuming node waits for the owner's answer before <failed/> (the bound of the hand-over). */
export const TAKEOVER_WAIT_MS = 5000;
/**
 * The owner hands the session over only until this long before the resuming node stops waiting, so that its
 * answer arrives in time (a late one is still taken: the session is kept there for resumption, then times out).
 */
export const TAKEOVER_MARGIN_MS = 1000;

/** Resuming node → owner. */
export interface TakeOverRequest {
  readonly previd: string;
  /** The account that asks (local part): another account's session is not handed over. */
  readonly account: string;
  /** ms since the epoch; the owner declines after it. */
  readonly deadline: number;
}

/** Owner → resuming node. */
export type TakeOverReply = { readonly ok: false } | { readonly ok: true; readonly session: SessionState; readonly queue: QueueState; readonly inboundBase: number };

/** The node a previd names (index.ts makes it `<node id, base64url>.<random>`); undefined when it names none. */
export function ownerOf(previd: string): string | undefined {
  const dot = previd.indexOf('.');
  if (dot <= 0) return undefined;
  const node = Buffer.from(previd.slice(0, dot), 'base64url').toString('utf8');
  return node === '' ? undefined : node;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isCounter = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < COUNTER_MODULUS;

export function readTakeOverRequest(body: unknown): TakeOverRequest | undefined {
  if (!isObject(body)) return undefined;
  const { previd, account, deadline } = body;
  if (typeof previd !== 'string' || typeof account !== 'string' || typeof deadline !== 'number') return undefined;
  return { previd, account, deadline };
}

/** The reply, or a reason it is not one (null: the owner's node had no handler or it failed). */
export function readTakeOverReply(body: unknown): TakeOverReply | string {
  if (!isObject(body)) return 'not an object';
  if (body.ok === false) return { ok: false };
  if (body.ok !== true) return 'no ok';
  const session = readSessionState(body.session);
  if (typeof session === 'string') return `session: ${session}`;
  const queue = body.queue;
  if (!isObject(queue) || !isCounter(queue.acked) || !Array.isArray(queue.items)) return 'bad queue';
  const items: { stanza: string; at: number }[] = [];
  for (const item of queue.items) {
    if (!isObject(item) || typeof item.stanza !== 'string' || typeof item.at !== 'number') return 'bad queue item';
    items.push({ stanza: item.stanza, at: item.at });
  }
  if (!isCounter(body.inboundBase)) return 'bad inboundBase';
  return { ok: true, session, queue: { acked: queue.acked, items }, inboundBase: body.inboundBase };
}

/** Owner → taker: a stanza that reached the session on the owner after the hand-over (already past its filters there). */
export const FORWARDED_TOPIC = 'stream-management:forwarded';
/** Taker → owner, once the session is here: its reply comes after everything the owner forwards for what the taker routed to it before. */
export const FENCE_TOPIC = 'stream-management:fence';

export interface Forwarded {
  readonly jid: string;
  readonly stanza: string;
}

export function readForwarded(body: unknown): Forwarded | undefined {
  if (!isObject(body) || typeof body.jid !== 'string' || typeof body.stanza !== 'string') return undefined;
  return { jid: body.jid, stanza: body.stanza };
}

/**
 * First on the output of a session just taken over, until the fence reply: holds what routing on this node gives
 * the session, so that a stanza this node routed to the owner just before (and that comes back forwarded, past
 * the fence) is not overtaken by a later one delivered here directly.
 */
export class Fence implements OutputStage {
  readonly position = 1;
  private held: Outbound[] = [];

  send(stanza: Outbound): void {
    this.held.push(stanza);
  }

  release(): Outbound[] {
    return this.held.splice(0);
  }
}
