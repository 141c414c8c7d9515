// XEP-0313 retention on both back ends: with [mam] retention_days = 1 the periodic purge removes messages
// older than a day from every archive and leaves the younger ones (and what was just archived) in place.
import assert from 'node:assert/strict';
import { xml } from '@xmpp/client';
import { describeBackends } from '../../test/support/backends.js';
import { connect, type TestClient } from '../../test/support/clients.js';
import type { TestServer } from '../../test/support/server.js';
import { archiveIdAt } from './ids.js';
import { archiveStores } from './store/index.js';
import { query } from './test-kit.js';

const DAY = 24 * 60 * 60 * 1000;

describeBackends('XEP-0313 retention', (backend) => {
  let server: TestServer;
  let alice: TestClient | undefined;

  before(async function () {
    server = await backend.start({ c2s: { requireTls: false }, mam: { retentionDays: 1, purgeIntervalSeconds: 1 } });
    await server.addUser('alice', 'secret');
  });

  after(async function () {
    await alice?.stop();
    await server?.stop();
  });

  it('purges what is older than retention_days, keeps what is younger', async function () {
    const store = server.server.stores.module('mam', archiveStores);
    const old = (age: number, body: string) => {
      const at = Date.now() - age;
      return { owner: 'alice', id: archiveIdAt(at, 0), with: 'bob@localhost', peer: 'bob@localhost/x', timestamp: at, stanza: `<message xmlns="jabber:client" from="bob@localhost/x" type="chat"><body>${body}</body></message>` };
    };
    await store.append([old(3 * DAY, 'three days old'), old(DAY + 60_000, 'a day and a minute old'), old(DAY / 2, 'half a day old'), { ...old(3 * DAY, 'room, three days old'), owner: 'room@conference.localhost' }]);
    alice = await connect(server, { transport: 'tcp', username: 'alice', password: 'secret', resource: 'pc' });
    await alice.xmpp.send(xml('message', { to: 'alice@localhost/pc', type: 'chat' }, xml('body', {}, 'just now')));
    const started = Date.now();
    let bodies: string[] = [];
    while (Date.now() - started < 5000) {
      bodies = (await query(alice)).results.map((r) => r.body);
      if (bodies.length === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.deepEqual(bodies, ['half a day old', 'just now']);
    assert.equal((await store.query({ owner: 'room@conference.localhost', max: 10, from: 'first' })).messages.length, 0);
  });
});
