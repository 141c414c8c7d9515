// Second client libraries confirm SCRAM-SHA-512 and -PLUS against a real server: Gajim's nbxmpp 4.2
// (SCRAM-SHA-512; it never uses -PLUS) and slixmpp 1.8 (-PLUS with tls-unique, which exists on TLS 1.2
// only; on TLS 1.3 it tries -PLUS with tls-unique, is refused, and logs in with SCRAM and the 'y' flag).
// Both from Debian for /usr/bin/python3 (test/support/python/login_*.py).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { requirePythonLibrary, SYSTEM_PYTHON, type PythonSmLibrary } from './support/python-sm-client.js';
import { startTestServer, type TestServer } from './support/server.js';

const run = promisify(execFile);
const NO_THROTTLE = { failuresBeforeDelay: 1000, addressFailuresBeforeDelay: 1000, lockoutFailures: 0 };

interface LoginEvent {
  event: string;
  jid?: string;
  mechanism?: string;
  tls?: string;
  text?: string;
}

async function login(library: PythonSmLibrary, args: string[]): Promise<LoginEvent> {
  const script = fileURLToPath(new URL(`./support/python/login_${library}.py`, import.meta.url));
  const { stdout } = await run(SYSTEM_PYTHON, [script, ...args], { timeout: 30_000 });
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? '{}';
  return JSON.parse(line) as LoginEvent;
}

describe('SCRAM with Python client libraries', function () {
  this.timeout(60_000);
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ auth: NO_THROTTLE });
    await server.addUser('juliet', 'r0m30');
  });
  after(async () => {
    await server?.stop();
  });

  describe('nbxmpp', () => {
    before(function () {
      requirePythonLibrary(this, 'nbxmpp');
    });

    it('logs in with SCRAM-SHA-512 over STARTTLS and direct TLS', async () => {
      const starttls = await login('nbxmpp', ['juliet@localhost', 'r0m30', '127.0.0.1', String(server.ports.c2s), 'SCRAM-SHA-512']);
      assert.deepEqual([starttls.event, starttls.mechanism, starttls.jid], ['online', 'SCRAM-SHA-512', 'juliet@localhost/nbxmpp'], JSON.stringify(starttls));
      const direct = await login('nbxmpp', ['juliet@localhost', 'r0m30', '127.0.0.1', String(server.ports.c2sTls), 'SCRAM-SHA-512', 'direct']);
      assert.deepEqual([direct.event, direct.mechanism], ['online', 'SCRAM-SHA-512'], JSON.stringify(direct));
    });

    it('fails SCRAM-SHA-512 with a wrong password (control)', async () => {
      const wrong = await login('nbxmpp', ['juliet@localhost', 'wrong', '127.0.0.1', String(server.ports.c2s), 'SCRAM-SHA-512']);
      assert.equal(wrong.event, 'error');
      assert.match(wrong.text ?? '', /not-authorized/);
    });
  });

  describe('slixmpp', () => {
    before(function () {
      requirePythonLibrary(this, 'slixmpp');
    });

    for (const mechanism of ['SCRAM-SHA-512-PLUS', 'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS']) {
      it(`logs in with ${mechanism} bound with tls-unique on TLS 1.2`, async () => {
        const result = await login('slixmpp', ['juliet@localhost', 'r0m30', '127.0.0.1', String(server.ports.c2s), mechanism, '1.2']);
        assert.deepEqual([result.event, result.tls], ['online', 'TLSv1.2'], JSON.stringify(result));
      });
    }

    it('fails -PLUS with a wrong password (control)', async () => {
      const result = await login('slixmpp', ['juliet@localhost', 'wrong', '127.0.0.1', String(server.ports.c2s), 'SCRAM-SHA-256-PLUS', '1.2']);
      assert.equal(result.event, 'error');
    });

    it("on TLS 1.3 (no tls-unique) fails -PLUS, then logs in with SCRAM and 'y' on the same stream", async () => {
      const plusOnly = await login('slixmpp', ['juliet@localhost', 'r0m30', '127.0.0.1', String(server.ports.c2s), 'SCRAM-SHA-256-PLUS']);
      assert.equal(plusOnly.event, 'error', JSON.stringify(plusOnly));
      // Its own choice of mechanisms: -PLUS with tls-unique (refused: not a TLS 1.3 type), then SCRAM-SHA-512 with 'y'.
      const any = await login('slixmpp', ['juliet@localhost', 'r0m30', '127.0.0.1', String(server.ports.c2s), '']);
      assert.deepEqual([any.event, any.tls], ['online', 'TLSv1.3'], JSON.stringify(any));
    });
  });
});
