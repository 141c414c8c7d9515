// XEP-0163 across two node processes on one private redis-server: alice publishes on n1, her contacts are on n2;
// n1 sends the event to n2 in one request, and n2 hands it to the resource whose caps (known on n2) say
// +notify, not to the one without; the last item reaches a contact coming online on n2 from the shared store.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import type { TestClient } from '../../test/support/clients.js';
import { addUsers, befriend, startNode, type NodeProcess } from '../../test/support/cluster.js';
import { startRedis, type RedisInstance } from '../../test/support/redis.js';
import { AVATAR_METADATA, capsClient, eventFor, metadata, NICK, PUBSUB_EVENT, publishIq } from './test-kit.js';

describe('XEP-0163 PEP across nodes', function () {
  this.timeout(20_000);
  let redis: RedisInstance | undefined;
  let dataDir = '';
  const nodes: NodeProcess[] = [];
  const clients: TestClient[] = [];
  let n1: NodeProcess;
  let n2: NodeProcess;

  const login = async (at: NodeProcess, username: string, features?: readonly string[], resource = at.id): ReturnType<typeof capsClient> => {
    const client = await capsClient(at, username, { features, resource });
    clients.push(client);
    return client;
  };

  before(async function () {
    this.timeout(120_000);
    redis = await startRedis(this);
    dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-pep-'));
    await addUsers(dataDir, 'secret', 'alice', 'bob', 'carol', 'dave');
    for (const contact of ['bob', 'carol', 'dave']) await befriend(dataDir, 'alice', contact);
    for (const id of ['n1', 'n2']) nodes.push(await startNode({ id, redisUrl: redis.url, dataDir }));
    [n1, n2] = nodes as [NodeProcess, NodeProcess];
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') for (const n of nodes) console.log(`--- log of ${n.id} ---\n${n.log().slice(-4000)}`);
  });

  after(async function () {
    this.timeout(30_000);
    await Promise.all(clients.map((c) => c.stop()));
    await Promise.all(nodes.map((n) => n.terminate()));
    await redis?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('§4.3.2: a publish on n1 reaches the contact on n2 whose caps say +notify, not the one without', async function () {
    const bob = await login(n2, 'bob', [`${AVATAR_METADATA}+notify`, `${NICK}+notify`]);
    const carol = await login(n2, 'carol', [`${NICK}+notify`]);
    const alice = await login(n1, 'alice');
    await alice.xmpp.iqCaller.request(publishIq(AVATAR_METADATA, 'a1', metadata('a1')));
    const event = await bob.next(eventFor(AVATAR_METADATA));
    assert.equal(event.attrs.from, 'alice@localhost');
    assert.equal(event.attrs.to, bob.jid);
    // Positive control: carol on n2 hears the nick published after the avatar, and did not hear the avatar.
    await alice.xmpp.iqCaller.request(publishIq(NICK, 'n1', xml('nick', { xmlns: NICK }, 'Alice')));
    await carol.next(eventFor(NICK));
    await assert.rejects(carol.next(eventFor(AVATAR_METADATA), 300));
  });

  it('§6.1.2: a contact coming online on n2 gets the last item alice published on n1', async function () {
    const alice = await login(n1, 'alice', undefined, 'laptop');
    await alice.xmpp.iqCaller.request(publishIq(NICK, 'n1', xml('nick', { xmlns: NICK }, 'Alice II')));
    const dave = await login(n2, 'dave', [`${NICK}+notify`]);
    const last = await dave.next(eventFor(NICK));
    assert.equal(last.getChild('event', PUBSUB_EVENT)?.getChild('items')?.getChild('item')?.getChildText('nick', NICK), 'Alice II');
  });
});
