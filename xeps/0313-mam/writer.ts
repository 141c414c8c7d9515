// Archive writes off the routing path: messages wait in memory and go to the store in batches (batch_size
// messages, or after flush_ms). A failed batch stays at the head of the queue and is retried with a backoff
// capped at 5 s; while the store is down the queue keeps at most max_pending messages, dropping the oldest
// (counted in the log). Routing never waits on any of this.
import type { MamSettings } from './settings.js';
import type { ArchivedMessage, ArchiveStore } from './store/types.js';

interface Log {
  warn(data: object, message: string): void;
  error(data: object, message: string): void;
  info(data: object, message: string): void;
}

const MAX_BACKOFF_MS = 5000;

export class ArchiveWriter {
  private pending: ArchivedMessage[] = [];
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failures = 0;
  private dropped = 0;
  private stopped = false;

  constructor(
    private readonly store: ArchiveStore,
    private readonly settings: Pick<MamSettings, 'batchSize' | 'flushMs' | 'maxPending'>,
    private readonly log: Log,
  ) {}

  get queued(): number {
    return this.pending.length;
  }

  add(message: ArchivedMessage): void {
    this.pending.push(message);
    this.trim();
    if (this.failures > 0) return;
    this.schedule(this.pending.length >= this.settings.batchSize ? 0 : this.settings.flushMs);
  }

  /** Writes everything queued now; rejects (the store's error) when the store cannot take it. */
  flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const run = this.chain.then(() => this.writeAll());
    this.chain = run.catch(() => undefined);
    return run.then(
      () => {
        if (this.failures > 0) this.log.info({ failures: this.failures }, 'archive store reachable again; queued messages written');
        this.failures = 0;
      },
      (err: unknown) => {
        this.failures++;
        if (!this.stopped) this.schedule(Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(this.failures, 6)));
        throw err;
      },
    );
  }

  /** Stops the timer and writes what is queued, giving up after `timeoutMs`. */
  async stop(timeoutMs = 2000): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    let timeout: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timeout = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([this.flush().catch((err: unknown) => this.log.error({ err, lost: this.pending.length }, 'archive: messages not written at stop')), late]);
    clearTimeout(timeout);
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((err: unknown) => {
        if (this.failures === 1 || this.failures % 20 === 0) this.log.warn({ err: err instanceof Error ? err.message : String(err), queued: this.pending.length, failures: this.failures }, 'archive store unavailable; messages kept in memory and retried');
      });
    }, delayMs);
    this.timer.unref();
  }

  private async writeAll(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.settings.batchSize);
      try {
        await this.store.append(batch);
      } catch (err) {
        this.pending = batch.concat(this.pending);
        this.trim();
        throw err;
      }
    }
  }

  private trim(): void {
    const over = this.pending.length - this.settings.maxPending;
    if (over <= 0) return;
    this.pending.splice(0, over);
    this.dropped += over;
    if (this.dropped === over || this.dropped % 1000 < over) this.log.error({ dropped: this.dropped, maxPending: this.settings.maxPending }, 'archive queue full while the store is unavailable: oldest messages dropped from the archive (they were delivered)');
  }
}
