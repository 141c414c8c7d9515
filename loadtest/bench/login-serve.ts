// Entry point of the server process the login benchmark starts (`node --import tsx login-serve.ts`):
// what `ratatosk serve` does, configured by the RATATOSK_* environment, without the rest of the CLI.
import { loadConfig } from '../../src/config/index.js';
import { startServer } from '../../src/main.js';

const server = await startServer(loadConfig({ env: process.env }));
const stop = (): void => {
  process.off('SIGTERM', stop);
  process.off('SIGINT', stop);
  void server.stop().then(() => (process.exitCode = 0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
