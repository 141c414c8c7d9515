// What this node sends to one other node, in order. A publish that nobody received (the node is not
// subscribed: dead, restarting, or reconnecting to Redis) is retried with backoff for a bounded time;
// then the node is given up and everything queued for it goes back to the router's fallback rules.
// Nothing is dropped without the caller hearing of it.
import type { Logger } from '../observability/log.js';
import type { BusMessage } from './bus.js';

/** How long a message may wait for its node to listen again before it is given up. */
export const RETRY_FOR_MS = 5000;
const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 1000;
/** Messages published together per round (one pipelined write). */
const BATCH = 256;
/** Messages one node may have waiting; more are given up at once. */
export const MAX_QUEUED = 10_000;
/** One publish that gets no answer in this time counts as not received. */
const PUBLISH_TIMEOUT_MS = 2000;

export interface OutboxDeps {
  log: Logger;
  publish(node: string, message: BusMessage): Promise<number>;
  /** Called once when the node is given up, before the messages' own fallbacks run. */
  onGiveUp(node: string): void;
  /** Retry budget for this node now: RETRY_FOR_MS normally, 0 for a node already given up. */
  retryFor(node: string): number;
}

interface Pending {
  readonly message: BusMessage;
  readonly queuedAt: number;
  /** What to do if the message cannot be delivered (re-route it, or nothing for what may be lost). */
  readonly undelivered?: () => void;
}

export class NodeOutbox {
  private queue: Pending[] = [];
  private pumping: Promise<void> | undefined;

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
      const received = await Promise.all(batch.map((p) => this.publishOnce(p.message)));
      const failed = batch.filter((_, i) => (received[i] ?? 0) === 0);
      this.queue.splice(0, batch.length, ...failed);
      const oldest = failed[0];
      if (!oldest) {
        delay = FIRST_RETRY_MS;
        continue;
      }
      if (Date.now() - oldest.queuedAt >= this.deps.retryFor(this.node)) {
        this.giveUp();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }

  private async publishOnce(message: BusMessage): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.deps.publish(this.node, message),
        new Promise<number>((resolve) => {
          timer = setTimeout(() => resolve(0), PUBLISH_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      this.deps.log.debug({ err, node: this.node }, 'publish failed');
      return 0;
    } finally {
      clearTimeout(timer);
    }
  }

  private giveUp(): void {
    const lost = this.queue;
    this.queue = [];
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
