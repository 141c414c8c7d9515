// The [mam] configuration table (ratatosk.example.toml documents each key): how long the archive keeps
// messages, the largest page a query gets, the preference of users who set none, and the write batches.
import { z } from 'zod';
import { configTypes, moduleConfig } from '../../src/modules/api.js';

const { integer } = configTypes;

export type DefaultPrefs = 'always' | 'roster' | 'never';

export interface MamSettings {
  /** Messages older than this many days are purged; 0 keeps them for ever. */
  readonly retentionDays: number;
  /** How often the purge runs (ms). */
  readonly purgeIntervalMs: number;
  /** Most messages one query returns; a larger RSM <max/> is clamped to it. */
  readonly maxPage: number;
  /** What is archived for a user who never set preferences (XEP-0313 §5). */
  readonly defaultPrefs: DefaultPrefs;
  /** Messages written to the store in one batch, and how long a message waits for its batch (ms). */
  readonly batchSize: number;
  readonly flushMs: number;
  /** Messages kept in memory while the store is unreachable; past it the oldest are dropped (logged). */
  readonly maxPending: number;
}

export const mamConfig = moduleConfig({
  section: 'mam',
  shape: {
    retention_days: integer(0, 100_000).default(0),
    purge_interval_seconds: integer(1, 86_400).default(3600),
    max_page: integer(1, 1000).default(100),
    default_prefs: z.enum(['always', 'roster', 'never']).default('always'),
    batch_size: integer(1, 10_000).default(200),
    flush_ms: integer(1, 10_000).default(5),
    max_pending: integer(1, 10_000_000).default(100_000),
  },
  resolve: (t): MamSettings => ({
    retentionDays: t.retention_days,
    purgeIntervalMs: t.purge_interval_seconds * 1000,
    maxPage: t.max_page,
    defaultPrefs: t.default_prefs,
    batchSize: t.batch_size,
    flushMs: t.flush_ms,
    maxPending: t.max_pending,
  }),
});
