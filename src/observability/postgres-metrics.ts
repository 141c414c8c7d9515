// The PostgreSQL pool's connections (pg.Pool's counts), read when Prometheus scrapes.
import { Gauge, type Registry } from 'prom-client';

export interface PoolCounts {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

export function registerPoolMetrics(registry: Registry, pool: PoolCounts): void {
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  };
  gauge('ratatosk_pg_pool_connections', 'PostgreSQL connections the pool holds (idle and in use)', () => pool.totalCount);
  gauge('ratatosk_pg_pool_idle_connections', 'PostgreSQL connections idle in the pool', () => pool.idleCount);
  gauge('ratatosk_pg_pool_waiting_clients', 'Queries waiting for a PostgreSQL connection from the pool', () => pool.waitingCount);
}
