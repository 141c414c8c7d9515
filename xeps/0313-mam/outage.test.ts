// XEP-0313 during a PostgreSQL outage, on a private PostgreSQL cluster this test stops and starts under a
// running server: messages between online users are delivered at once, stamped with their archive ids; a
// query during the outage is refused with a 'wait' error; once PostgreSQL is back the queued batches are
// written and both archives hold every message once, in order, under the ids that were stamped.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { connect, type TestClient } from '../../test/support/clients.js';
import { startPostgresInstance, type PostgresInstance } from '../../test/support/postgres-instance.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { query, SID } from './test-kit.js';

const withBody = (body: string) => (s: Element): boolean => s.is('message') && s.getChildText('body') === body;

describe('XEP-0313 archive during a PostgreSQL outage', function () {
  this.timeout(120_000);
  let postgres: PostgresInstance | undefined;
  let server: TestServer;
  const clients: TestClient[] = [];
  let alice: TestClient;
  let bob: TestClient;

  before(async function () {
    postgres = await startPostgresInstance(this);
    server = await startTestServer({ database: { url: postgres.url }, c2s: { requireTls: false }, mam: { batchSize: 2 } });
    for (const user of ['alice', 'bob']) await server.addUser(user, 'secret');
    for (const [user, resource] of [['alice', 'desk'], ['bob', 'phone']] as const) {
      const client = await connect(server, { transport: 'tcp', username: user, password: 'secret', resource });
      clients.push(client);
      await client.xmpp.send(xml('presence'));
      await client.next((s) => s.is('presence') && s.attrs.from === client.jid);
    }
    [alice, bob] = clients as [TestClient, TestClient];
  });

  after(async function () {
    await Promise.all(clients.map((c) => c.stop()));
    await server?.stop();
    await postgres?.cleanup();
  });

  it('delivers and stamps while PostgreSQL is down, refuses queries with wait, and archives everything once it is back', async function () {
    const bodies: string[] = [];
    const stamped: string[] = [];
    const converse = async (body: string): Promise<void> => {
      bodies.push(body);
      await bob.xmpp.send(xml('message', { to: 'alice@localhost', type: 'chat' }, xml('body', {}, body)));
      const got = await alice.next(withBody(body), 5000);
      const id = got.getChildren('stanza-id', SID).find((s) => s.attrs.by === 'alice@localhost')?.attrs.id;
      assert.ok(typeof id === 'string', got.toString());
      stamped.push(id);
    };
    await converse('before the outage');
    assert.deepEqual((await query(alice)).results.map((r) => r.body), ['before the outage'], 'positive control');

    await postgres?.stop('fast');
    for (let i = 0; i < 7; i++) await converse(`during the outage ${i}`);
    const refused = await query(alice).then(
      () => undefined,
      (err: unknown) => err as { condition?: string; type?: string },
    );
    assert.deepEqual({ condition: refused?.condition, type: refused?.type }, { condition: 'internal-server-error', type: 'wait' });

    await postgres?.start();
    const started = Date.now();
    while (Date.now() - started < 20_000) {
      const archived = await query(alice).then((a) => a.results.length, () => 0);
      if (archived === bodies.length) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const answer = await query(alice);
    assert.deepEqual(answer.results.map((r) => r.body), bodies);
    assert.deepEqual(answer.results.map((r) => r.id), stamped, 'the ids stamped during the outage are the archive ids');
    assert.deepEqual((await query(bob)).results.map((r) => r.body), bodies, 'the sender\'s archive too');
  });
});
