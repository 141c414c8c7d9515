// Prometheus metrics (issue #18): one registry per running server, since tests run several servers in
// one process and prom-client's global registry would mix them. prom-client's default process and
// Node.js metrics keep their standard names; ours are named ratatosk_*.
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { LocalSessionRegistry } from '../sessions/local-registry.js';
import type { TransportKind } from '../sessions/types.js';

export interface ServerMetricsSources {
  nodeId: string;
  sessions: LocalSessionRegistry;
}

export class ServerMetrics {
  readonly registry = new Registry();

  constructor(sources: ServerMetricsSources) {
    collectDefaultMetrics({ register: this.registry });
    const { nodeId, sessions } = sources;
    new Gauge({
      name: 'ratatosk_sessions',
      help: 'Sessions bound on this node, by transport',
      labelNames: ['transport', 'node'] as const,
      registers: [this.registry],
      // Read from the session registry at scrape time: nothing to count as sessions come and go.
      collect() {
        const counts = sessions.countByTransport();
        for (const transport of Object.keys(counts) as TransportKind[]) this.set({ transport, node: nodeId }, counts[transport]);
      },
    });
  }

  /** The Prometheus text exposition of every metric. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
