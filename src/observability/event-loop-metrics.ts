// Event-loop utilisation (perf_hooks): the share of time the loop was busy since the previous scrape.
// prom-client's defaults give the loop's lag; this gives how close it is to saturation, and the interval the lag
// is sampled at, which prom-client's lag percentiles include.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/** Whether V8 favours memory now, while the node is idle (src/runtime/idle-memory.ts). */
export interface MemoryFavouring {
  readonly favoured: boolean;
}

/** `mode()` is the running mode, or undefined where none runs (a server started in a test process): 0. */
export function registerMemoryFavouring(registry: Registry, mode: () => MemoryFavouring | undefined): void {
  new Gauge({
    name: 'ratatosk_memory_favoured',
    help: '1 while the node is idle and V8 favours memory over speed ([memory] favour_when_idle), else 0',
    registers: [registry],
    collect() {
      this.set(mode()?.favoured === true ? 1 : 0);
    },
  });
}

/** The loop-delay sampling interval (metrics.ts), which every nodejs_eventloop_lag_* percentile includes. */
export function registerEventLoopSampling(registry: Registry, intervalMs: number): void {
  const gauge = new Gauge({
    name: 'ratatosk_event_loop_sample_seconds',
    help: 'Interval of the event-loop delay samples behind nodejs_eventloop_lag_* (each sample is this interval plus the delay)',
    registers: [registry],
  });
  gauge.set(intervalMs / 1000);
}

export function registerEventLoopUtilisation(registry: Registry): void {
  let previous: EventLoopUtilization = performance.eventLoopUtilization();
  new Gauge({
    name: 'ratatosk_event_loop_utilization',
    help: 'Share of time (0 to 1) the event loop was busy since the previous scrape',
    registers: [registry],
    collect() {
      const now = performance.eventLoopUtilization();
      this.set(performance.eventLoopUtilization(now, previous).utilization);
      previous = now;
    },
  });
}
