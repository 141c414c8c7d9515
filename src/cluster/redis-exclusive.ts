// Exclusive work across the cluster (exclusive.ts) with a lock in Redis: SET NX PX with a random token, given
// back by a compare-and-delete script, so a holder can only ever release its own. Work queues per name on its
// node first, so only one request per node and name asks Redis at a time. A holder that dies leaves the lock to
// expire (LOCK_TTL_MS); work that runs longer than that may overlap with the next holder's, so what runs under
// it is a few store operations, never a wait for a client.
import { randomBytes } from 'node:crypto';
import { StanzaError } from '../errors.js';
import type { Logger } from '../observability/log.js';
import { LocalExclusive, type Exclusive } from './exclusive.js';
import { lockKey } from './keys.js';
import type { RedisClient } from './redis-connection.js';
import { redisOutageError } from './remote-sessions.js';
import { defineUnlock } from './redis-unlock.js';

/** How long a lock outlives a holder that died holding it. */
export const LOCK_TTL_MS = 15_000;
const FIRST_PAUSE_MS = 5;
const LONGEST_PAUSE_MS = 100;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class RedisExclusive implements Exclusive {
  private readonly local = new LocalExclusive();

  constructor(
    private readonly redis: RedisClient,
    private readonly nodeId: string,
    private readonly log: Logger,
    /** How long to keep asking for a lock (held elsewhere, or Redis failing over) before giving up. */
    private readonly waitMs = 10_000,
  ) {
    defineUnlock(redis);
  }

  run<T>(name: string, work: () => Promise<T>): Promise<T> {
    return this.local.run(name, async () => {
      const token = await this.acquire(name);
      try {
        return await work();
      } finally {
        await this.redis.ratatoskUnlock(lockKey(name), token).catch((err: unknown) => {
          // It expires by itself; until then the next holder waits.
          this.log.warn({ err, lock: name }, 'could not release a cluster lock');
        });
      }
    });
  }

  private async acquire(name: string): Promise<string> {
    const key = lockKey(name);
    const token = `${this.nodeId}:${randomBytes(9).toString('base64url')}`;
    const deadline = Date.now() + this.waitMs;
    let pause = FIRST_PAUSE_MS;
    for (;;) {
      let reachable: boolean;
      try {
        if ((await this.redis.set(key, token, 'PX', LOCK_TTL_MS, 'NX')) === 'OK') return token;
        reachable = true;
      } catch {
        reachable = false;
      }
      if (Date.now() + pause > deadline) {
        // RFC 6120 §8.3.2: both are 'wait' errors; the client may try again.
        throw reachable ? new StanzaError('resource-constraint', `${name} is busy on another node; try again`, 'wait') : redisOutageError();
      }
      await sleep(pause);
      pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
    }
  }
}
