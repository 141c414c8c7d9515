// Starts a real Ratatosk server on ephemeral loopback ports with its own data directory.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveCredentials } from '../../src/auth/credentials.js';
import { loadConfig, type DeepPartial, type LoadConfigOptions } from '../../src/config/index.js';
import type { Config } from '../../src/config/types.js';
import { MODULE_CONFIGS, startServer, type RunningServer } from '../../src/main.js';
import { createLogger } from '../../src/observability/log.js';

export interface TestServer {
  readonly server: RunningServer;
  readonly config: Config;
  readonly domain: string;
  readonly ports: RunningServer['ports'];
  addUser(username: string, password: string): Promise<void>;
  stop(): Promise<void>;
}

/** `overrides` as loadConfig's: the core's keys camelCase, and the modules' tables by section ({ muc: { maxOccupants } }). */
export async function startTestServer(overrides: NonNullable<LoadConfigOptions['overrides']> = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-test-'));
  const base: DeepPartial<Config> = {
    domain: 'localhost',
    dataDir,
    nodeId: 'test',
    logLevel: 'silent',
    // SASL2 only where a test asks for it: xmpp.js takes it when offered, and Bind2 makes the resource up.
    c2s: { host: '127.0.0.1', port: 0, tlsPort: 0, sasl2: false },
    http: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
  };
  const config = loadConfig({ file: false, env: {}, overrides: merge<LoadConfigOptions['overrides']>(base, overrides), modules: MODULE_CONFIGS });
  const level = (process.env.RATATOSK_TEST_LOG ?? 'silent') as Config['logLevel'];
  const server = await startServer(config, { log: createLogger(level) });
  return {
    server,
    config,
    domain: config.domain,
    ports: server.ports,
    async addUser(username, password) {
      const created = await server.stores.accounts.create(username, await deriveCredentials(password, config.auth.scramIterations));
      if (!created) throw new Error(`user ${username} exists`);
    },
    async stop() {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

type Obj = Record<string, unknown>;
function merge<T>(a: T, b: T): T {
  const out: Obj = { ...(a as Obj) };
  for (const [k, v] of Object.entries(b as Obj)) {
    const prev = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' ? merge(prev, v) : v;
  }
  return out as T;
}
