// Smoke test of loadtest/xmpp-load (the WebSocket and BOSH load generator that loadtest/run uses instead of
// Tsung for those transports): a few users against a test server, message-rate for a few seconds, over each
// transport. Counts, not timings: every user logs in, every message is delivered, none unaccounted.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from './support/server.js';

const run = promisify(execFile);
const ROOT = new URL('..', import.meta.url).pathname;
const USERS = 12;

interface Results {
  logins: number;
  sessions_max: number;
  login_failures: Record<string, number>;
  lost_sessions: Record<string, number>;
  messages: { sent: number; delivered: number; bounced: number; unaccounted: number; duplicates: number };
  latency_ms: number[];
}

describe('xmpp-load smoke run (loadtest/xmpp-load: WebSocket and BOSH)', function () {
  this.timeout(90_000);
  let server: TestServer;
  let out: string;

  before(async function () {
    server = await startTestServer();
    for (let i = 1; i <= USERS; i++) await server.addUser(`load${i}`, 'loadpass');
    out = await mkdtemp(join(tmpdir(), 'ratatosk-xmpp-load-'));
  });

  after(async function () {
    await server?.stop();
    if (out !== undefined) await rm(out, { recursive: true, force: true });
  });

  for (const transport of ['websocket', 'bosh'] as const) {
    it(`${transport}: logs every user in and accounts for every message`, async function () {
      const results = join(out, `${transport}.json`);
      const args = [
        '--import', 'tsx', 'loadtest/xmpp-load/main.ts', '--transport', transport, '--port', String(server.ports.http),
        '--domain', server.domain, '--users', String(USERS), '--prefix', 'load', '--password', 'loadpass',
        '--arrival-rate', '50', '--settle', '1', '--hold', '3', '--rate', '20', '--drain', '10', '--bosh-wait', '5', '--results', results,
      ];
      await run(process.execPath, args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
      const r = JSON.parse(await readFile(results, 'utf8')) as Results;
      const context = JSON.stringify({ ...r, latency_ms: r.latency_ms.length });
      assert.equal(r.logins, USERS, context);
      assert.equal(r.sessions_max, USERS, context);
      assert.deepEqual(r.login_failures, {}, context);
      assert.deepEqual(r.lost_sessions, {}, context);
      assert.ok(r.messages.sent >= 50, context);
      assert.equal(r.messages.delivered, r.messages.sent, context);
      assert.equal(r.messages.unaccounted, 0, context);
      assert.equal(r.messages.duplicates, 0, context);
      assert.equal(r.latency_ms.length, r.messages.delivered, context);
    });
  }
});
