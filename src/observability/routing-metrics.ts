// How long routing a client's stanza takes: from the router taking it to the end of its routing (handed
// to the recipient sessions, to the cluster bus, or to a hook such as offline storage). Unlabelled, so an
// observation is a clock read, a bucket search and two additions to plain numbers: prom-client's own
// observe() (label checks and hashing per call) is not on the hot path. The prom-client Histogram reads the
// counts when Prometheus scrapes, so the exposition is the one prom-client writes for an unlabelled histogram.
import { performance } from 'node:perf_hooks';
import { Histogram, type Registry } from 'prom-client';

/** 10 µs to 1 s. */
export const ROUTING_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export interface RoutingTimer {
  /** A timestamp to hand back to `routed` (performance.now(), ms). */
  start(): number;
  routed(startedAt: number): void;
}

/** One value of prom-client's histogram export (lib/histogram.js setValuePair). */
interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string | number>;
  value: number;
  metricName: string;
  exemplar: null | undefined;
}

/**
 * An unlabelled prom-client Histogram whose observations are counted in a typed array (`record`); what a scrape
 * reads is built from it in the shape prom-client's own getForPromString() gives (which its get() builds on).
 */
export class CountingHistogram extends Histogram {
  private readonly bounds: Float64Array;
  /** Per bucket, not cumulative; the last slot holds what is above every bound. */
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;
  private readonly metric: { readonly name: string; readonly help: string };

  constructor(config: { name: string; help: string; buckets: readonly number[]; registers: Registry[] }) {
    super({ ...config, buckets: [...config.buckets] });
    this.metric = { name: config.name, help: config.help };
    this.bounds = Float64Array.from(config.buckets);
    this.counts = new Float64Array(config.buckets.length + 1);
  }

  /** An observation (prom-client's observe() is left alone and unused: its counts are not these). */
  record(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += value;
    this.count++;
  }

  override reset(): void {
    super.reset();
    // prom-client's constructor resets the metric before this class's fields exist.
    if (this.counts === undefined) return;
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  /** prom-client calls this for the text exposition, and get() builds on it. */
  getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; values: ExportedValue[]; aggregator: 'sum' }> {
    const { name, help } = this.metric;
    const bucket = `${name}_bucket`;
    const values: ExportedValue[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i] as number;
      values.push({ labels: { le: this.bounds[i] as number }, sharedLabels: {}, value: cumulative, metricName: bucket, exemplar: null });
    }
    values.push(
      { labels: { le: '+Inf' }, sharedLabels: {}, value: this.count, metricName: bucket, exemplar: null },
      { labels: {}, sharedLabels: {}, value: this.sum, metricName: `${name}_sum`, exemplar: undefined },
      { labels: {}, sharedLabels: {}, value: this.count, metricName: `${name}_count`, exemplar: undefined },
    );
    return Promise.resolve({ name, help, type: 'histogram', values, aggregator: 'sum' });
  }
}

export function routingTimer(registry: Registry): RoutingTimer {
  const histogram = new CountingHistogram({
    name: 'ratatosk_routing_seconds',
    help: 'Time from the router taking a client stanza to its hand-off to the recipient sessions, the cluster bus or a hook',
    buckets: ROUTING_BUCKETS,
    registers: [registry],
  });
  return {
    start: () => performance.now(),
    routed: (startedAt) => histogram.record((performance.now() - startedAt) / 1000),
  };
}
