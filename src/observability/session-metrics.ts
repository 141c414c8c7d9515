// Sessions and the bytes waiting to be written to clients, read when Prometheus scrapes: nothing is
// counted as sessions come and go or as stanzas are written.
import { Gauge, type Registry } from 'prom-client';
import type { LocalSessionRegistry } from '../sessions/local-registry.js';
import type { TransportKind } from '../sessions/types.js';

const TRANSPORTS: readonly TransportKind[] = ['tcp', 'websocket', 'bosh'];

/** A client connection as the queue gauges see it. */
export interface QueuedConnection {
  readonly kind: TransportKind;
  /** Bytes accepted for the client and not yet sent (socket write buffer, WebSocket buffer, BOSH queue). */
  queuedBytes?(): number;
}

export function registerSessionMetrics(registry: Registry, nodeId: string, sessions: LocalSessionRegistry): void {
  new Gauge({
    name: 'ratatosk_sessions',
    help: 'Sessions bound on this node, by transport',
    labelNames: ['transport', 'node'] as const,
    registers: [registry],
    collect() {
      const counts = sessions.countByTransport();
      for (const transport of TRANSPORTS) this.set({ transport, node: nodeId }, counts[transport]);
    },
  });
}

type QueueSums = Record<TransportKind, { total: number; max: number }>;

export function registerQueueMetrics(registry: Registry, connections: () => Iterable<QueuedConnection>): void {
  const scan = (): QueueSums => {
    const sums: QueueSums = { tcp: { total: 0, max: 0 }, websocket: { total: 0, max: 0 }, bosh: { total: 0, max: 0 } };
    for (const connection of connections()) {
      const bytes = connection.queuedBytes?.() ?? 0;
      const sum = sums[connection.kind];
      sum.total += bytes;
      if (bytes > sum.max) sum.max = bytes;
    }
    return sums;
  };
  // Both gauges are collected within one scrape (prom-client awaits them in turn, before a setImmediate callback can run):
  // the connections are walked once for the two.
  let scraped: QueueSums | undefined;
  const sumsOfThisScrape = (): QueueSums => {
    if (scraped === undefined) {
      scraped = scan();
      setImmediate(() => (scraped = undefined));
    }
    return scraped;
  };
  const queueGauge = (name: string, help: string, pick: (sum: { total: number; max: number }) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['transport'] as const,
      registers: [registry],
      collect() {
        const sums = sumsOfThisScrape();
        for (const transport of TRANSPORTS) this.set({ transport }, pick(sums[transport]));
      },
    });
  };
  queueGauge('ratatosk_outbound_queued_bytes', 'Bytes accepted for clients and not yet sent (socket and WebSocket write buffers, BOSH queues), by transport', (sum) => sum.total);
  queueGauge('ratatosk_outbound_queued_bytes_max', 'The most bytes waiting for a single client connection, by transport', (sum) => sum.max);
}
