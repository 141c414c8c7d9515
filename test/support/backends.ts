// Runs a protocol suite once per storage back end: the embedded store, then PostgreSQL in a fresh schema of
// its own (chosen through the connection URL's `options=-c search_path=<schema>`, which pg passes to the
// server). Without PostgreSQL the second run is skipped loudly, or fails under CI=true (requirePostgres).
import type { LoadConfigOptions } from '../../src/config/index.js';
import { createTestSchema, requirePostgres, TEST_DATABASE_URL } from '../../src/storage/postgres/test-fixture.js';
import { startTestServer, type TestServer } from './server.js';

export type BackendName = 'embedded' | 'postgres';

export interface Backend {
  readonly name: BackendName;
  /** Starts a test server on this back end; each call on PostgreSQL gets a schema of its own. Overrides as startTestServer's. */
  start(overrides?: NonNullable<LoadConfigOptions['overrides']>): Promise<TestServer>;
}

/** The database URL that makes every pooled connection use `schema`. */
export function schemaUrl(schema: string, base = TEST_DATABASE_URL): string {
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

/** `describe(title [backend], …)` for each back end; `body` gets the back end to start servers on. */
export function describeBackends(title: string, body: (backend: Backend) => void): void {
  describe(`${title} [embedded]`, function () {
    body({ name: 'embedded', start: (overrides = {}) => startTestServer(overrides) });
  });

  describe(`${title} [postgres]`, function () {
    const drops: Array<() => Promise<void>> = [];
    before(async function () {
      await requirePostgres(this);
    });
    after(async function () {
      for (const drop of drops.splice(0)) await drop();
    });
    body({
      name: 'postgres',
      async start(overrides = {}) {
        const { schema, drop } = await createTestSchema();
        drops.push(drop);
        return startTestServer({ ...overrides, database: { url: schemaUrl(schema) } });
      },
    });
  });
}
