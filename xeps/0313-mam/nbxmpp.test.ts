// Gajim's library, nbxmpp (Debian python3-nbxmpp), reads the archive with its own MAM module
// (python/mam_nbxmpp.py): alice and bob (xmpp.js clients) converse, carol writes to alice too, then nbxmpp logs in
// as alice, pages the whole archive forwards in tens (RSM <after/>, as Gajim does) and gets every message once, in
// order, with the ids alice's live client saw as stanza-ids; `with` bob and `with` carol each give their own
// conversation only (issue #16, "Must show"). Skipped loudly without the package (failed under CI=true).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { connect, type TestClient } from '../../test/support/clients.js';
import { requirePythonLibrary, SYSTEM_PYTHON } from '../../test/support/python-sm-client.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { SID } from './test-kit.js';

const PAGE = 10;
const MESSAGES = 25;

interface DriverEvent {
  readonly event: string;
  readonly query?: string;
  readonly queryid?: string;
  readonly id?: string;
  readonly archive?: string;
  readonly from?: string;
  readonly to?: string;
  readonly body?: string | null;
  readonly timestamp?: string;
  readonly complete?: boolean;
  readonly pages?: number;
  readonly text?: string;
}

function runDriver(server: TestServer, jid: string, password: string, withs: string[]): Promise<DriverEvent[]> {
  const script = fileURLToPath(new URL('./python/mam_nbxmpp.py', import.meta.url));
  const child = spawn(SYSTEM_PYTHON, [script, jid, password, '127.0.0.1', String(server.ports.c2s), String(PAGE), ...withs], { stdio: 'pipe' });
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
      if (error !== undefined || !events.some((e) => e.event === 'done')) reject(new Error(`nbxmpp: ${error?.text ?? 'no "done"'} after ${JSON.stringify(events)}; ${stderr.slice(-3000)}`));
      else resolve(events);
    });
  });
}

const withBody = (body: string) => (s: Element): boolean => s.is('message') && s.getChildText('body') === body;

describe('XEP-0313 archive read by nbxmpp (Gajim’s library)', function () {
  this.timeout(40_000);
  let server: TestServer;
  const clients: TestClient[] = [];

  before(async function () {
    requirePythonLibrary(this, 'nbxmpp');
    server = await startTestServer({});
    for (const user of ['alice', 'bob', 'carol']) await server.addUser(user, 'secret');
  });
  after(async function () {
    await Promise.all(clients.map((c) => c.stop()));
    await server?.stop();
  });

  it('pages the archive forwards in tens: every message once, in order, with its stanza-id; `with` filters by contact', async function () {
    const login = async (username: string): Promise<TestClient> => {
      const client = await connect(server, { transport: 'websocket', username, password: 'secret', resource: 'xmppjs' });
      clients.push(client);
      await client.xmpp.send(xml('presence'));
      await client.next((s) => s.is('presence') && s.attrs.from === client.jid);
      return client;
    };
    const [alice, bob, carol] = [await login('alice'), await login('bob'), await login('carol')];
    const send = async (from: TestClient, to: TestClient, body: string): Promise<Element> => {
      const got = to.next(withBody(body));
      await from.xmpp.send(xml('message', { to: to.jid.replace(/\/.*$/, ''), type: 'chat' }, xml('body', {}, body)));
      return got;
    };

    // The stanza-id alice's archive stamped on what she received live, by body.
    const stanzaIds = new Map<string, string>();
    const withBob: string[] = [];
    const withCarol: string[] = [];
    const all: string[] = [];
    for (let n = 1; n <= MESSAGES; n++) {
      const fromAlice = n % 2 === 1;
      const body = `${n}: ${fromAlice ? 'alice → bob' : 'bob → alice'} <&> ü`;
      const received = fromAlice ? await send(alice, bob, body) : await send(bob, alice, body);
      if (!fromAlice) {
        const sid = received.getChildren('stanza-id', SID).find((s) => s.attrs.by === 'alice@localhost')?.attrs.id;
        assert.ok(typeof sid === 'string', `a stanza-id by alice's archive on ${received.toString()}`);
        stanzaIds.set(body, sid);
      }
      withBob.push(body);
      all.push(body);
      if (n % 5 === 0) {
        const note = `${n}: carol → alice`;
        await send(carol, alice, note);
        withCarol.push(note);
        all.push(note);
      }
    }

    const events = await runDriver(server, 'alice@localhost', 'secret', ['bob@localhost', 'carol@localhost']);
    const results = (query: string): DriverEvent[] => events.filter((e) => e.event === 'result' && e.query === query);
    const pages = (query: string): number | undefined => events.find((e) => e.event === 'query-done' && e.query === query)?.pages;

    const everything = results('all');
    assert.deepEqual(everything.map((r) => r.body), all, 'every message once, in order');
    assert.equal(pages('all'), Math.ceil(all.length / PAGE));
    for (const page of events.filter((e) => e.event === 'page' && e.query === 'all')) {
      assert.ok(everything.filter((r) => r.queryid === page.queryid).length <= PAGE, `a page of at most ${PAGE}`);
    }
    const ids = everything.map((r) => r.id ?? '');
    assert.equal(new Set(ids).size, ids.length, 'ids are unique');
    for (const r of everything) {
      assert.equal(r.archive, 'alice@localhost');
      assert.ok(!Number.isNaN(Date.parse(r.timestamp ?? '')), `timestamp ${r.timestamp}`);
      const live = stanzaIds.get(r.body ?? '');
      if (live !== undefined) assert.equal(r.id, live, `the archive id of "${r.body}" is the stanza-id alice received`);
    }
    assert.equal(everything.filter((r) => stanzaIds.has(r.body ?? '')).length, stanzaIds.size);
    assert.ok(everything.some((r) => r.from === 'alice@localhost/xmppjs' && r.to === 'bob@localhost'), 'sent messages are there from alice');

    assert.deepEqual(results('with bob@localhost').map((r) => r.body), withBob);
    assert.equal(pages('with bob@localhost'), Math.ceil(withBob.length / PAGE));
    assert.deepEqual(results('with carol@localhost').map((r) => r.body), withCarol);
  });
});
