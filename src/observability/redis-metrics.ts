// Redis command latency by command, and reconnections, for the ioredis clients of this node (the cluster's
// command connection, the login throttle's). Timed around ioredis's sendCommand, which every command (also
// those of pipelines and auto-pipelining) passes through, until its reply or error.
import { performance } from 'node:perf_hooks';
import type { Command } from 'ioredis';
import { Counter, Histogram, type Registry } from 'prom-client';

/** 50 µs to 2.5 s. */
export const REDIS_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** What of an ioredis client (Redis or Cluster) is observed. */
export interface ObservableRedis {
  sendCommand(command: Command, ...rest: never[]): unknown;
  on(event: 'reconnecting', listener: () => void): unknown;
}

export type RedisObserver = (client: ObservableRedis, connection: string) => void;

export function redisObserver(registry: Registry): RedisObserver {
  const latency = new Histogram({
    name: 'ratatosk_redis_command_seconds',
    help: 'Redis command round trips (failed ones included), by command',
    labelNames: ['command'] as const,
    buckets: REDIS_BUCKETS,
    registers: [registry],
  });
  const reconnections = new Counter({
    name: 'ratatosk_redis_reconnections_total',
    help: 'Reconnections to Redis begun, by connection (cluster, auth)',
    labelNames: ['connection'] as const,
    registers: [registry],
  });
  return (client, connection) => {
    reconnections.inc({ connection }, 0);
    client.on('reconnecting', () => reconnections.inc({ connection }));
    const send = client.sendCommand.bind(client) as (command: Command, ...rest: unknown[]) => unknown;
    client.sendCommand = (command: Command, ...rest: unknown[]): unknown => {
      const startedAt = performance.now();
      const done = (): void => latency.observe({ command: command.name.toLowerCase() }, (performance.now() - startedAt) / 1000);
      command.promise.then(done, done);
      return send(command, ...rest);
    };
  };
}
