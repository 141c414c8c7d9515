// Prometheus metrics (issue #18, README "Metrics"): one registry per running server, since tests run
// several servers in one process and prom-client's global registry would mix them. prom-client's default
// process and Node.js metrics keep their standard names; ours are named ratatosk_* and defined in the
// small modules beside this one.
import { collectDefaultMetrics, Registry } from 'prom-client';
import { DEFAULT_EVENT_LOOP_SAMPLE_MS } from '../config/schema.js';
import type { LocalSessionRegistry } from '../sessions/local-registry.js';
import { registerEventLoopSampling, registerEventLoopUtilisation, registerMemoryFavouring, type MemoryFavouring } from './event-loop-metrics.js';
import { loginRecorder, type LoginRecorder } from './login-metrics.js';
import { registerPoolMetrics, type PoolCounts } from './postgres-metrics.js';
import { redisObserver, type RedisObserver } from './redis-metrics.js';
import { routingTimer, type RoutingTimer } from './routing-metrics.js';
import { registerQueueMetrics, registerSessionMetrics, type QueuedConnection } from './session-metrics.js';
import { StanzaTraffic } from './stanza-traffic.js';
import { storeTimer, type StoreTimer } from './store-metrics.js';

export interface ServerMetricsSources {
  nodeId: string;
  sessions: LocalSessionRegistry;
  /** [metrics] event_loop_sample_ms; its default when not given (a server in a test process). */
  eventLoopSampleMs?: number;
}

const NOT_A_NUMBER = / Nan$/gm;

export class ServerMetrics {
  readonly registry = new Registry();
  readonly traffic = new StanzaTraffic();
  readonly logins: LoginRecorder;
  readonly routing: RoutingTimer;
  readonly timeStore: StoreTimer;
  readonly observeRedis: RedisObserver;
  private memoryFavouring: MemoryFavouring | undefined;

  constructor(sources: ServerMetricsSources) {
    const eventLoopSampleMs = sources.eventLoopSampleMs ?? DEFAULT_EVENT_LOOP_SAMPLE_MS;
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: eventLoopSampleMs });
    registerEventLoopSampling(this.registry, eventLoopSampleMs);
    registerEventLoopUtilisation(this.registry);
    registerMemoryFavouring(this.registry, () => this.memoryFavouring);
    registerSessionMetrics(this.registry, sources.nodeId, sources.sessions);
    this.traffic.register(this.registry);
    this.logins = loginRecorder(this.registry);
    this.routing = routingTimer(this.registry);
    this.timeStore = storeTimer(this.registry);
    this.observeRedis = redisObserver(this.registry);
  }

  /** The client connections, for the outbound queue gauges. */
  watchConnections(connections: () => Iterable<QueuedConnection>): void {
    registerQueueMetrics(this.registry, connections);
  }

  /** The process's idle-memory mode (`ratatosk serve` runs one). */
  watchMemoryFavouring(mode: MemoryFavouring): void {
    this.memoryFavouring = mode;
  }

  /** The PostgreSQL pool, for the pool gauges (only with the PostgreSQL back end). */
  watchPool(pool: PoolCounts): void {
    registerPoolMetrics(this.registry, pool);
  }

  /** The Prometheus text exposition of every metric. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    // prom-client writes a not-a-number value (the event-loop delay before its first sample) as "Nan"; the text
    // format spells it "NaN", and stricter parsers than Prometheus's own refuse the other spelling.
    const body = (await this.registry.metrics()).replace(NOT_A_NUMBER, ' NaN');
    return { contentType: this.registry.contentType, body };
  }
}
