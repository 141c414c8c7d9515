// A cluster's login throttle: counters in Redis while it answers, this node's own counters while
// it does not, so an outage neither lets every guess through nor refuses every login. A command
// that takes longer than FALLBACK_AFTER_MS counts as no answer.
import type { Logger } from '../observability/log.js';
import type { Admission, ThrottleEntry, ThrottleStore, UnlockTarget } from './throttle.js';

export const FALLBACK_AFTER_MS = 500;

export interface RedisStatus {
  readonly status: string;
}

export class FallbackThrottleStore implements ThrottleStore {
  private down = false;

  constructor(
    private readonly shared: ThrottleStore,
    private readonly local: ThrottleStore,
    private readonly connection: RedisStatus,
    private readonly log: Logger,
  ) {}

  private async attempt<T>(run: (store: ThrottleStore) => Promise<T>): Promise<T> {
    if (this.connection.status !== 'ready') return this.fallBack(run, 'not connected');
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        run(this.shared),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${FALLBACK_AFTER_MS} ms`)), FALLBACK_AFTER_MS);
        }),
      ]);
      if (this.down) this.log.info('login throttle: Redis answers again; counting in Redis');
      this.down = false;
      return result;
    } catch (err) {
      return this.fallBack(run, err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
    }
  }

  private fallBack<T>(run: (store: ThrottleStore) => Promise<T>, why: string): Promise<T> {
    if (!this.down) this.log.warn({ reason: why }, 'login throttle: Redis unavailable; counting on this node alone');
    this.down = true;
    return run(this.local);
  }

  /** The store that admitted an attempt also hears of its success. */
  async admit(address: string, account: string | undefined): Promise<Admission> {
    return this.attempt((store) => store.admit(address, account));
  }

  async succeeded(address: string, account: string | undefined): Promise<void> {
    // Both: the attempt was counted in whichever answered at the time.
    await Promise.all([this.attempt((store) => (store === this.shared ? store.succeeded(address, account) : Promise.resolve())), this.local.succeeded(address, account)]);
  }

  async list(): Promise<ThrottleEntry[]> {
    const shared = this.connection.status === 'ready' ? await this.shared.list().catch(() => []) : [];
    return [...shared, ...(await this.local.list())];
  }

  async unlock(target: UnlockTarget): Promise<number> {
    const shared = this.connection.status === 'ready' ? await this.shared.unlock(target) : 0;
    return shared + (await this.local.unlock(target));
  }

  async close(): Promise<void> {
    await Promise.all([this.shared.close(), this.local.close()]);
  }
}
