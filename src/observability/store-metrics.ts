// Latency of store operations (the offline store, the message archive, module stores), by store and
// operation. timedStore wraps a store so that every method returning a promise is timed, without the
// store or its callers changing.
import { performance } from 'node:perf_hooks';
import { Histogram, type Registry } from 'prom-client';

/** 100 µs to 5 s. */
export const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export type StoreTimer = <T extends object>(store: string, target: T) => T;

export function storeTimer(registry: Registry): StoreTimer {
  const histogram = new Histogram({
    name: 'ratatosk_store_operation_seconds',
    help: 'Duration of store operations (failed ones included), by store and operation',
    labelNames: ['store', 'operation'] as const,
    buckets: STORE_BUCKETS,
    registers: [registry],
  });
  return (store, target) => timedStore(target, (operation, seconds) => histogram.observe({ store, operation }, seconds));
}

/** `target` with each method that returns a promise reporting its duration (seconds) once it settles. */
export function timedStore<T extends object>(target: T, observe: (operation: string, seconds: number) => void): T {
  const wrapped = new Map<string | symbol, unknown>();
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'constructor') return value;
      let timed = wrapped.get(property);
      if (timed === undefined) {
        const method = value as (...args: unknown[]) => unknown;
        timed = (...args: unknown[]): unknown => {
          const startedAt = performance.now();
          const result = method.apply(object, args);
          if (!(result instanceof Promise)) return result;
          const done = (): void => observe(property, (performance.now() - startedAt) / 1000);
          result.then(done, done);
          return result;
        };
        wrapped.set(property, timed);
      }
      return timed;
    },
  });
}
