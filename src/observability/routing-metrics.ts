// How long routing a client's stanza takes: from the router taking it to the end of its routing (handed
// to the recipient sessions, to the cluster bus, or to a hook such as offline storage). Unlabelled, so an
// observation is a clock read and a bucket search.
import { performance } from 'node:perf_hooks';
import { Histogram, type Registry } from 'prom-client';

/** 10 µs to 1 s. */
export const ROUTING_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export interface RoutingTimer {
  /** A timestamp to hand back to `routed` (performance.now(), ms). */
  start(): number;
  routed(startedAt: number): void;
}

export function routingTimer(registry: Registry): RoutingTimer {
  const histogram = new Histogram({
    name: 'ratatosk_routing_seconds',
    help: 'Time from the router taking a client stanza to its hand-off to the recipient sessions, the cluster bus or a hook',
    buckets: ROUTING_BUCKETS,
    registers: [registry],
  });
  return {
    start: () => performance.now(),
    routed: (startedAt) => histogram.observe((performance.now() - startedAt) / 1000),
  };
}
