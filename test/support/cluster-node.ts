// One Ratatosk node in a process of its own, for the cluster tests (so that kill -9 is real). Like
// `ratatosk serve`: configuration from RATATOSK_* variables, stop() on SIGTERM. Once listening it
// writes one JSON line to stdout with its ports, since they are picked at random (port 0).
import { loadConfig, type LoadConfigOptions } from '../../src/config/index.js';
import { MODULE_CONFIGS, startServer } from '../../src/main.js';
import { createLogger } from '../../src/observability/log.js';

// RT_TEST_CONFIG_OVERRIDES: JSON of settings with no environment variable (e.g. MUC limits), as loadConfig overrides.
const overrides = process.env.RT_TEST_CONFIG_OVERRIDES ? (JSON.parse(process.env.RT_TEST_CONFIG_OVERRIDES) as LoadConfigOptions['overrides']) : undefined;
const config = loadConfig({ file: false, modules: MODULE_CONFIGS, ...(overrides ? { overrides } : {}) });
const server = await startServer(config, { log: createLogger(config.logLevel) });
process.stdout.write(`${JSON.stringify({ ready: true, node: config.nodeId, pid: process.pid, ports: server.ports })}\n`);
process.once('SIGTERM', () => {
  void server.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
