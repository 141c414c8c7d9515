// What this node sends to one other node, in order. A publish that nobody received (the node is not
// subscribed: dead, restarting, or reconnecting to Redis) is retried with backoff for a bounded time;
// then the node is given up and everything queued for it goes back to the router's fallback rules.
// A publish that fails (Redis itself unreachable, as during a Sentinel fail-over) says nothing about
// the node, so it is retried for the longer REDIS_OUTAGE_MS before the node is given up. A retried
// publish may reach the node twice; the receiving bus drops the second copy by its id.
// Nothing is dropped without the caller hearing of it.
import type { Logger } from '../observability/log.js';
import type { BusMessage } from './bus.js';

/** How long Redis may answer that nobody listens on the node's channel before the node is given up. */
export const RETRY_FOR_MS = 5000;
/**
 * How long a message may wait while publishes fail (Redis unreachable) before the node is given up:
 * longer than a Sentinel fail-over with down-after-milliseconds of a few seconds.
 */
export const REDIS_OUTAGE_MS = 30_000;
const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 1000;
/** Messages published together per round (one pipelined write). */
const BATCH = 256;
/** Messages one node may have waiting; more are given up at once. */
export const MAX_QUEUED = 10_000;
/** One publish that gets no answer in this time counts as failed (it may still arrive). */
const PUBLISH_TIMEOUT_MS = 2000;

export interface OutboxDeps {
  log: Logger;
  publish(node: string, message: BusMessage): Promise<number>;
  /** Called once when the node is given up, before the messages' own fallbacks run. */
  onGiveUp(node: string): void;
  /** Retry budget for this node now: RETRY_FOR_MS normally, 0 for a node already given up. */
  retryFor(node: string): number;
  /** How long publishes may fail before the node is given up; REDIS_OUTAGE_MS unless a test says otherwise. */
  redisOutageMs?: number;
}

/** What one publish attempt learned: how many received it, or nothing (it failed or got no answer). */
type Outcome = number | 'unknown';

interface Pending {
  readonly message: BusMessage;
  readonly queuedAt: number;
  /** What to do if the message cannot be delivered (re-route it, or nothing for what may be lost). */
  readonly undelivered?: () => void;
}

export class NodeOutbox {
  private queue: Pending[] = [];
  private pumping: Promise<void> | undefined;
  /** Since when Redis has answered that nobody listens, with no receipt since. */
  private unheardSince: number | undefined;

  constructor(private readonly node: string, private readonly deps: OutboxDeps) {}

  get size(): number {
    return this.queue.length;
  }

  /** Resolves once everything queued now was published or given up. */
  async idle(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  send(message: BusMessage, undelivered?: () => void): void {
    if (this.queue.length >= MAX_QUEUED) {
      this.deps.log.warn({ node: this.node, queued: this.queue.length }, 'too many messages waiting for a node; giving this one up');
      undelivered?.();
      return;
    }
    this.queue.push({ message, queuedAt: Date.now(), ...(undelivered ? { undelivered } : {}) });
    this.kick();
  }

  private kick(): void {
    if (this.pumping) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
      // Anything queued while the last round was finishing starts a new one.
      if (this.queue.length > 0) this.kick();
    });
  }

  private async pump(): Promise<void> {
    let delay = FIRST_RETRY_MS;
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, BATCH);
      const outcomes = await Promise.all(batch.map((p) => this.publishOnce(p.message)));
      const failed = batch.filter((_, i) => !isReceived(outcomes[i]));
      this.queue.splice(0, batch.length, ...failed);
      if (outcomes.some(isReceived)) this.unheardSince = undefined;
      else if (outcomes.includes(0)) this.unheardSince ??= Date.now();
      const oldest = failed[0];
      if (!oldest) {
        delay = FIRST_RETRY_MS;
        continue;
      }
      const now = Date.now();
      const budget = this.deps.retryFor(this.node);
      const unheardTooLong = this.unheardSince !== undefined && now - this.unheardSince >= budget;
      const outageTooLong = now - oldest.queuedAt >= (this.deps.redisOutageMs ?? REDIS_OUTAGE_MS);
      if (budget <= 0 || unheardTooLong || outageTooLong) {
        this.giveUp();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }

  private async publishOnce(message: BusMessage): Promise<Outcome> {
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

  private giveUp(): void {
    const lost = this.queue;
    this.queue = [];
    this.unheardSince = undefined;
    this.deps.log.warn({ node: this.node, messages: lost.length }, 'node does not listen on its channel; its messages fall back');
    this.deps.onGiveUp(this.node);
    for (const pending of lost) {
      try {
        pending.undelivered?.();
      } catch (err) {
        this.deps.log.error({ err, node: this.node }, 'fallback of an undeliverable message failed');
      }
    }
  }
}

function isReceived(outcome: Outcome | undefined): boolean {
  return typeof outcome === 'number' && outcome > 0;
}
