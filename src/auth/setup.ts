// Builds the login throttle and the stand-in credentials from the configuration: in this node's
// memory alone, or shared through Redis (with this node's memory while Redis is away).
import type { Cluster, Redis } from 'ioredis';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/log.js';
import { StandInCredentials, loadAuthSecret } from './stand-in.js';
import { LoginThrottle, type ThrottlePolicy } from './throttle.js';
import { FallbackThrottleStore } from './throttle-fallback.js';
import { MemoryThrottleStore } from './throttle-memory.js';
import { AUTH_KEY_PREFIX, RedisThrottleStore } from './throttle-redis.js';

export function throttlePolicy(auth: Config['auth']): ThrottlePolicy {
  return {
    failuresBeforeDelay: auth.failuresBeforeDelay,
    addressFailuresBeforeDelay: auth.addressFailuresBeforeDelay,
    maxDelayMs: auth.maxFailureDelayMs,
    windowMs: auth.failureWindowSeconds * 1000,
    lockoutFailures: auth.lockoutFailures,
    lockoutMs: auth.lockoutSeconds * 1000,
    trustMs: auth.trustedLoginSeconds * 1000,
  };
}

export interface AuthParts {
  throttle: LoginThrottle;
  standIns: StandInCredentials;
}

/** `redis`: the node's own connection for the throttle, when the cluster runs on Redis. */
export async function setUpAuth(config: Config, log: Logger, redis?: Redis | Cluster): Promise<AuthParts> {
  const policy = throttlePolicy(config.auth);
  const local = new MemoryThrottleStore(policy, config.auth.maxTracked);
  const store = redis ? new FallbackThrottleStore(new RedisThrottleStore(redis, policy), local, redis, log.child({ component: 'login-throttle' })) : local;
  const secret = await loadAuthSecret(config.dataDir, redis ? { client: redis, key: `${AUTH_KEY_PREFIX}secret` } : undefined);
  return { throttle: new LoginThrottle(store), standIns: new StandInCredentials(secret, config.auth.scramIterations) };
}
