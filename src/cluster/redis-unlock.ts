// Giving back a lock held in Redis (a string whose value is the holder's random token): deleted only if it still
// holds our token, since it may have expired and been taken by another. The node registry's sweep locks and the
// cluster's exclusive work (redis-exclusive.ts) both use it.
import type { Result } from 'ioredis';
import type { RedisClient } from './redis-connection.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    ratatoskUnlock(key: string, token: string): Result<number, Context>;
  }
}

const UNLOCK = `
  if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
  return 0`;

/** Defines `ratatoskUnlock(key, token)` on the client (1 when it deleted the lock, 0 when it was not ours). */
export function defineUnlock(redis: RedisClient): void {
  redis.defineCommand('ratatoskUnlock', { numberOfKeys: 1, lua: UNLOCK });
}
