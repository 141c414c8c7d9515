// What this node sends to one other node, in order, until the node says it has it (README.md, "Delivery
// guarantee"). Every message gets the next sequence number for that node; the receiver hands messages on
// in that order only and acknowledges the highest it handed on (inbox.ts). A message stays in the window
// until acknowledged:
//  - a publish nobody received (the node is not subscribed: dead, restarting, or re-subscribing after a
//    Redis fail-over) or whose fate is unknown (Redis unreachable, no answer) is published again, with it
//    every later one (the receiver refuses a message that overtook a missing one: go-back-N);
//  - a message Redis says it delivered but the node does not acknowledge within ACK_TIMEOUT_MS (the
//    PUBLISH reached a primary that died before writing it to the subscriber) is published again too;
//  - after RETRY_FOR_MS of "nobody listens" the node is given up (it is gone: the fallbacks re-route);
//    after the fail-over bound (`waitMs`) of failing publishes or missing acknowledgements, everything
//    waiting is handed to its fallback as undeliverable now (the sender hears of it).
// Repeats are dropped by the receiver by sequence number. Nothing is dropped without the caller hearing of it.
import type { Logger } from '../observability/log.js';
import type { OutboundMessage } from './bus.js';

/** How long Redis may answer that nobody listens on the node's channel before the node is given up. */
export const RETRY_FOR_MS = 5000;
/**
 * How long a message may wait while publishes fail (Redis unreachable) or go unacknowledged before it is
 * given up, unless the configuration (redis.failover_wait_seconds) says otherwise.
 */
export const REDIS_OUTAGE_MS = 10_000;
/** A published message not acknowledged in this time is published again (doubling while none come). */
export const ACK_TIMEOUT_MS = 1000;
const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 1000;
/** Messages published together per round (one pipelined write). */
const BATCH = 256;
/** Messages one node may have waiting; more are given up at once. */
export const MAX_QUEUED = 10_000;
/** One publish that gets no answer in this time counts as failed (it may still arrive). */
const PUBLISH_TIMEOUT_MS = 2000;

/**
 * Why a message was given up: the node stopped listening (re-route it: the node is gone), or Redis did not
 * carry it within the bound (its fate is unknown: bounce it, RFC 6120 §8.3.3 type 'wait').
 */
export type GiveUpReason = 'not-listening' | 'redis-outage';

export interface OutboxDeps {
  log: Logger;
  /** Resolves with how many subscribers got it; the message carries its sequence fields. */
  publish(node: string, message: OutboundMessage): Promise<number>;
  /** Called once when the node is given up, before the messages' own fallbacks run. */
  onGiveUp(node: string): void;
  /** Retry budget for this node now: RETRY_FOR_MS normally, 0 for a node already given up. */
  retryFor(node: string): number;
  /** How long publishes may fail or go unacknowledged before the messages are given up; REDIS_OUTAGE_MS by default. */
  redisOutageMs?: number;
  /**
   * The boot id stamped on sequenced messages; with it, a message is done only once acknowledged
   * (acked()). Without it a publish that reached a subscriber counts as done (no sequence fields).
   */
  boot?: string;
  ackTimeoutMs?: number;
}

/** What one publish attempt learned: how many received it, or nothing (it failed or got no answer). */
type Outcome = number | 'unknown';

interface Pending {
  readonly message: OutboundMessage;
  readonly seq: number;
  readonly queuedAt: number;
  /** Published and received by a subscriber, waiting for the acknowledgement since `sentAt`. */
  sentAt: number | undefined;
  /** What to do if the message cannot be delivered (re-route or bounce it, or nothing for what may be lost). */
  readonly undelivered?: (reason: GiveUpReason) => void;
}

export class NodeOutbox {
  /** Every message not yet acknowledged (or, without acks, not yet received), in sequence order. */
  private window: Pending[] = [];
  private nextSeq = 1;
  private pumping: Promise<void> | undefined;
  /** Since when Redis has answered that nobody listens, with no receipt since. */
  private unheardSince: number | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private ackTimeout: number;
  private readonly idlers: Array<() => void> = [];

  constructor(private readonly node: string, private readonly deps: OutboxDeps) {
    this.ackTimeout = deps.ackTimeoutMs ?? ACK_TIMEOUT_MS;
  }

  get size(): number {
    return this.window.length;
  }

  /** Resolves once everything queued now was acknowledged (or published, without acks) or given up. */
  idle(): Promise<void> {
    if (this.window.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idlers.push(resolve));
  }

  send(message: OutboundMessage, undelivered?: (reason: GiveUpReason) => void): void {
    if (this.window.length >= MAX_QUEUED) {
      this.deps.log.warn({ node: this.node, queued: this.window.length }, 'too many messages waiting for a node; giving this one up');
      undelivered?.('redis-outage');
      return;
    }
    this.window.push({ message, seq: this.nextSeq++, queuedAt: Date.now(), sentAt: undefined, ...(undelivered ? { undelivered } : {}) });
    this.kick();
  }

  /** The node handed on every message up to `upTo`. */
  acked(upTo: number): void {
    let done = 0;
    while (done < this.window.length && (this.window[done]?.seq ?? Infinity) <= upTo) done++;
    if (done === 0) return;
    this.window.splice(0, done);
    this.unheardSince = undefined;
    this.ackTimeout = this.deps.ackTimeoutMs ?? ACK_TIMEOUT_MS;
    this.settled();
  }

  private get acks(): boolean {
    return this.deps.boot !== undefined;
  }

  /** Every seq below this is settled: acknowledged or given up. */
  private base(): number {
    return this.window[0]?.seq ?? this.nextSeq;
  }

  private kick(): void {
    if (this.pumping) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      // Anything queued while the last round was finishing starts a new one.
      if (this.window.some((p) => p.sentAt === undefined)) this.kick();
      else this.armAckTimer();
    });
  }

  private async pump(): Promise<void> {
    let delay = FIRST_RETRY_MS;
    for (;;) {
      const first = this.window.findIndex((p) => p.sentAt === undefined);
      if (first === -1) return;
      const batch = this.window.slice(first, first + BATCH);
      const base = this.base();
      const outcomes = await Promise.all(batch.map((p) => this.publishOnce(p, base)));
      const now = Date.now();
      const missed = outcomes.findIndex((o) => !isReceived(o));
      if (missed === -1) {
        for (const p of batch) p.sentAt = now;
        if (!this.acks) this.window = this.window.filter((p) => !batch.includes(p));
      } else {
        // Those before the miss arrived; from the miss on, everything goes again in order (the receiver
        // refuses what overtakes a missing message).
        for (const p of batch.slice(0, missed)) p.sentAt = now;
        if (!this.acks) this.window = this.window.filter((p) => !batch.slice(0, missed).includes(p));
      }
      if (outcomes.some(isReceived)) this.unheardSince = undefined;
      else if (outcomes.includes(0)) this.unheardSince ??= now;
      this.settled();
      if (missed === -1) {
        delay = FIRST_RETRY_MS;
        continue;
      }
      if (this.overdue(now)) return;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }

  /** Gives everything up when the node does not listen, or the oldest message waited past the bound; true if it did. */
  private overdue(now: number): boolean {
    const oldest = this.window[0];
    if (!oldest) return false;
    const budget = this.deps.retryFor(this.node);
    const unheardTooLong = this.unheardSince !== undefined && now - this.unheardSince >= budget;
    if (budget <= 0 || unheardTooLong) {
      this.giveUp('not-listening');
      return true;
    }
    if (now - oldest.queuedAt >= (this.deps.redisOutageMs ?? REDIS_OUTAGE_MS)) {
      this.giveUp('redis-outage');
      return true;
    }
    return false;
  }

  /** While messages wait for their acknowledgement: publish them again when it is late. */
  private armAckTimer(): void {
    if (!this.acks || this.ackTimer || this.window.length === 0) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      const oldest = this.window[0];
      if (!oldest) return;
      const now = Date.now();
      if (oldest.sentAt !== undefined && now - oldest.sentAt >= this.ackTimeout) {
        if (this.overdue(now)) return;
        this.deps.log.debug({ node: this.node, from: oldest.seq, messages: this.window.length }, 'no acknowledgement in time; publishing again');
        for (const p of this.window) p.sentAt = undefined;
        this.ackTimeout = Math.min(this.ackTimeout * 2, MAX_RETRY_MS * 4);
      }
      if (this.pumping) return;
      if (this.window.some((p) => p.sentAt === undefined)) this.kick();
      else this.armAckTimer();
    }, this.ackTimeout);
    this.ackTimer.unref();
  }

  private async publishOnce(pending: Pending, base: number): Promise<Outcome> {
    const message: OutboundMessage = this.acks ? { ...pending.message, boot: this.deps.boot, seq: pending.seq, base } : pending.message;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.deps.publish(this.node, message),
        new Promise<Outcome>((resolve) => {
          timer = setTimeout(() => resolve('unknown'), PUBLISH_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      this.deps.log.debug({ err, node: this.node }, 'publish failed');
      return 'unknown';
    } finally {
      clearTimeout(timer);
    }
  }

  private settled(): void {
    if (this.window.length > 0) return;
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    for (const resolve of this.idlers.splice(0)) resolve();
  }

  private giveUp(reason: GiveUpReason): void {
    const lost = this.window;
    this.window = [];
    this.unheardSince = undefined;
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    this.ackTimeout = this.deps.ackTimeoutMs ?? ACK_TIMEOUT_MS;
    this.deps.log.warn({ node: this.node, messages: lost.length, reason }, reason === 'not-listening' ? 'node does not listen on its channel; its messages fall back' : 'Redis did not carry messages to a node within the fail-over bound; they fall back');
    if (reason === 'not-listening') this.deps.onGiveUp(this.node);
    for (const pending of lost) {
      try {
        pending.undelivered?.(reason);
      } catch (err) {
        this.deps.log.error({ err, node: this.node }, 'fallback of an undeliverable message failed');
      }
    }
    this.settled();
  }
}

function isReceived(outcome: Outcome | undefined): boolean {
  return typeof outcome === 'number' && outcome > 0;
}
