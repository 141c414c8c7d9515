// Gajim's library, nbxmpp (Debian python3-nbxmpp), stores and reads XEP-0402 bookmarks against the server with its
// own bookmark modules (python/bookmarks_nbxmpp.py): the native list, the XEP-0048 list in private storage that
// XEP-0411 derives from it, a XEP-0048 store seen in XEP-0402, and a retraction. Skipped loudly without the
// package (failed under CI=true).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { requirePythonLibrary, SYSTEM_PYTHON } from '../../test/support/python-sm-client.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';

interface Bookmark {
  jid: string;
  name: string | null;
  nick: string | null;
  autojoin: boolean;
}
type DriverEvent = { event: string; bookmarks?: Bookmark[]; text?: string };

function runDriver(server: TestServer, jid: string, password: string): Promise<DriverEvent[]> {
  const script = fileURLToPath(new URL('./python/bookmarks_nbxmpp.py', import.meta.url));
  const child = spawn(SYSTEM_PYTHON, [script, jid, password, '127.0.0.1', String(server.ports.c2s)], { stdio: 'pipe' });
  const events: DriverEvent[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    events.push(JSON.parse(line) as DriverEvent);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`the nbxmpp driver did not finish: ${JSON.stringify(events)} ${stderr.slice(-2000)}`));
    }, 25_000);
    child.on('exit', () => {
      clearTimeout(timer);
      const error = events.find((e) => e.event === 'error');
      if (error) reject(new Error(`nbxmpp: ${error.text ?? ''} after ${JSON.stringify(events)}; ${stderr.slice(-3000)}`));
      else resolve(events);
    });
  });
}

describe('XEP-0402 bookmarks with nbxmpp (Gajim’s library)', function () {
  let server: TestServer;

  before(async function () {
    requirePythonLibrary(this, 'nbxmpp');
    server = await startTestServer({});
  });
  after(async function () {
    await server?.stop();
  });

  it('stores and reads native bookmarks; XEP-0048 reads and writes the same list (XEP-0411); a retraction', async function () {
    await server.addUser('gajim', 'secret');
    const events = await runDriver(server, `gajim@${server.domain}`, 'secret');
    const list = (name: string): Bookmark[] | undefined => events.find((e) => e.event === name)?.bookmarks;
    const council: Bookmark = { jid: 'council@conference.localhost', name: 'Council', nick: 'gajim', autojoin: true };
    const garden: Bookmark = { jid: 'garden@conference.localhost', name: 'Garden', nick: null, autojoin: false };
    const library: Bookmark = { jid: 'library@conference.localhost', name: 'Library', nick: 'reader', autojoin: true };
    assert.deepEqual(list('native'), [council, garden]);
    assert.deepEqual(list('private'), [council, garden]);
    assert.deepEqual(list('native-after-private'), [council, garden, library]);
    assert.deepEqual(list('native-after-retract'), [council, library]);
    assert.ok(events.some((e) => e.event === 'done'));
  });
});
