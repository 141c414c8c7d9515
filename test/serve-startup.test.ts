// `ratatosk serve` that cannot finish starting (here: its admin port is taken) must exit with an error
// instead of lingering with its other listeners open (src/main.ts undoes a failed start-up).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('serve: a start-up that fails half-way', function () {
  this.timeout(60_000);

  it('exits with status 1 and names the cause when the admin port is in use', async function () {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    const dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-startup-'));
    try {
      const env: NodeJS.ProcessEnv = {};
      for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('RATATOSK_')) env[key] = value;
      Object.assign(env, {
        RATATOSK_DATA_DIR: dataDir,
        RATATOSK_C2S_HOST: '127.0.0.1',
        RATATOSK_C2S_PORT: '0',
        RATATOSK_C2S_TLS_PORT: '-1',
        RATATOSK_HTTP_HOST: '127.0.0.1',
        RATATOSK_HTTP_PORT: '0',
        RATATOSK_ADMIN_PORT: String(taken),
        RATATOSK_LOG_LEVEL: 'error',
      });
      const child = spawn(process.execPath, ['--import', 'tsx', 'loadtest/tsung/ratatosk-cli.ts', 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
      const [code, signal] = (await new Promise((resolve) => child.once('exit', (c, s) => resolve([c, s])))) as [number | null, string | null];
      clearTimeout(timer);
      assert.equal(signal, null, `serve did not exit by itself (killed); stderr:\n${stderr}`);
      assert.equal(code, 1, stderr);
      assert.match(stderr, new RegExp(String(taken)));
    } finally {
      blocker.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
