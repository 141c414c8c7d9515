// XEP-0280 Message Carbons across two node processes on one private redis-server: alice on TCP at n1 and
// on WebSocket at n2 sees the copies of what her other resource sent and received; the copies for all of
// her resources on the other node are ONE publish on that node's channel (counted by a subscriber on it),
// which that node hands only to the resources that enabled Carbons.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import type { Redis } from 'ioredis';
import { connect, type ClientTransport, type TestClient } from '../../test/support/clients.js';
import { addUsers, startNode, type NodeProcess } from '../../test/support/cluster.js';
import { startRedis, type RedisInstance } from '../../test/support/redis.js';
import { CARBONS, carbonOf, chat, enable, forwarded, isMessage, nothing } from './test-kit.js';

interface Publish {
  header: { m?: string; t?: string[]; fl?: string; ra?: number; bt?: string; sq?: number };
  stanza: string;
}

describe('XEP-0280 Message Carbons across nodes', function () {
  this.timeout(20_000);
  let redis: RedisInstance | undefined;
  let dataDir = '';
  const nodes: NodeProcess[] = [];
  const clients: TestClient[] = [];
  const published = new Map<string, Publish[]>();
  let spy: Redis;
  let n1: NodeProcess;
  let n2: NodeProcess;
  let tcp: TestClient;
  let ws: TestClient;
  let ws2: TestClient;
  let off: TestClient;
  let bob: TestClient;

  const login = async (at: NodeProcess, username: string, resource: string, transport: ClientTransport, priority: number): Promise<TestClient> => {
    const client = await connect(at, { transport, username, password: 'secret', resource });
    clients.push(client);
    await client.xmpp.send(xml('presence', {}, xml('priority', {}, String(priority))));
    await client.next((s) => s.is('presence') && s.attrs.from === client.jid);
    return client;
  };
  /** The publishes on node `id`'s channel whose stanza mentions the message id (a copy carries its original). */
  const publishesTo = (id: string, messageId: string): Publish[] => (published.get(id) ?? []).filter((p) => p.stanza.includes(`id="${messageId}"`));
  const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 200));

  before(async function () {
    this.timeout(120_000);
    redis = await startRedis(this);
    dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-carbons-'));
    await addUsers(dataDir, 'secret', 'alice', 'bob');
    for (const id of ['n1', 'n2']) nodes.push(await startNode({ id, redisUrl: redis.url, dataDir }));
    [n1, n2] = nodes as [NodeProcess, NodeProcess];
    spy = redis.client();
    spy.on('message', (channel: string, payload: string) => {
      const node = /^rt:ch:\{(.+)\}$/.exec(channel)?.[1] ?? channel;
      const newline = payload.indexOf('\n');
      if (newline === -1) return;
      const header = JSON.parse(payload.slice(0, newline)) as Publish['header'];
      const list = published.get(node) ?? [];
      // A message published again until acknowledged (src/cluster/outbox.ts) keeps its sequence number: counted once.
      if (header.sq !== undefined && list.some((p) => p.header.bt === header.bt && p.header.sq === header.sq)) return;
      list.push({ header, stanza: payload.slice(newline + 1) });
      published.set(node, list);
    });
    await spy.subscribe('rt:ch:{n1}', 'rt:ch:{n2}');
    tcp = await login(n1, 'alice', 'tcp', 'tcp', 5);
    ws = await login(n2, 'alice', 'ws', 'websocket', 1);
    ws2 = await login(n2, 'alice', 'ws2', 'websocket', 1);
    off = await login(n2, 'alice', 'off', 'websocket', 1);
    bob = await login(n1, 'bob', 'home', 'tcp', 0);
    for (const client of [tcp, ws, ws2]) await enable(client);
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

  it('§7: a message to the TCP resource on n1 is copied to the enabled WebSocket resources on n2 in ONE publish', async function () {
    await bob.xmpp.send(chat(tcp.jid, 'x1', 'hello TCP'));
    await tcp.next(isMessage('x1'));
    for (const client of [ws, ws2]) {
      const carbon = await client.next(carbonOf('received', 'x1'));
      assert.deepEqual({ from: carbon.attrs.from, to: carbon.attrs.to }, { from: 'alice@localhost', to: client.jid });
      assert.deepEqual({ from: forwarded(carbon, 'received').attrs.from, to: forwarded(carbon, 'received').attrs.to }, { from: bob.jid, to: tcp.jid });
    }
    await settle();
    const toN2 = publishesTo('n2', 'x1');
    assert.equal(toN2.length, 1, `publishes to n2: ${toN2.length}`);
    const header = toN2[0]?.header;
    assert.deepEqual([...(header?.t ?? [])].sort(), ['alice@localhost/off', 'alice@localhost/ws', 'alice@localhost/ws2']);
    assert.equal(header?.fl, CARBONS);
    // n2 handed it only to the resources that enabled Carbons.
    await nothing(off, carbonOf('received', 'x1'), 'a resource without Carbons on n2 got a copy');
  });

  it('§8: what the WebSocket resource on n2 sends is copied to the TCP resource on n1, and to the one beside it', async function () {
    await ws.xmpp.send(chat(bob.jid, 'x2', 'hello bob'));
    await bob.next(isMessage('x2'));
    const carbon = await tcp.next(carbonOf('sent', 'x2'));
    assert.equal(carbon.attrs.to, tcp.jid);
    assert.deepEqual({ from: forwarded(carbon, 'sent').attrs.from, to: forwarded(carbon, 'sent').attrs.to }, { from: ws.jid, to: bob.jid });
    await ws2.next(carbonOf('sent', 'x2'));
    await settle();
    const copies = publishesTo('n1', 'x2').filter((p) => p.header.fl === CARBONS);
    assert.equal(copies.length, 1, `copies published to n1: ${copies.length}`);
    assert.deepEqual(copies[0]?.header.t, [tcp.jid]);
    await nothing(off, carbonOf('sent', 'x2'), 'a resource without Carbons got a copy');
    await nothing(ws, carbonOf('sent', 'x2'), 'the sender got a copy of its own message');
  });

  it('§8: what the TCP resource on n1 sends is copied to both enabled WebSocket resources on n2 in ONE publish', async function () {
    await tcp.xmpp.send(chat('bob@localhost', 'x9', 'from the desktop'));
    await bob.next(isMessage('x9'));
    for (const client of [ws, ws2]) {
      const carbon = await client.next(carbonOf('sent', 'x9'));
      assert.deepEqual({ from: carbon.attrs.from, to: carbon.attrs.to }, { from: 'alice@localhost', to: client.jid });
      assert.deepEqual({ from: forwarded(carbon, 'sent').attrs.from, to: forwarded(carbon, 'sent').attrs.to }, { from: tcp.jid, to: 'bob@localhost' });
    }
    await settle();
    const toN2 = publishesTo('n2', 'x9');
    assert.equal(toN2.length, 1, `publishes to n2: ${toN2.length}`);
    assert.equal(toN2[0]?.header.fl, CARBONS);
    await nothing(off, carbonOf('sent', 'x9'), 'a resource without Carbons on n2 got a copy');
  });

  it('§7: a message to the WebSocket resource on n2 is copied by n2 to the TCP resource on n1', async function () {
    await bob.xmpp.send(chat(ws.jid, 'x3', 'hello WebSocket'));
    await ws.next(isMessage('x3'));
    const carbon = await tcp.next(carbonOf('received', 'x3'));
    assert.equal(forwarded(carbon, 'received').attrs.to, ws.jid);
    await ws2.next(carbonOf('received', 'x3'));
    await settle();
    assert.equal(publishesTo('n1', 'x3').filter((p) => p.header.fl === CARBONS).length, 1);
  });

  it('§7: a message to the bare JID goes to the TCP resource (priority 5); n2 gets one publish of copies', async function () {
    await bob.xmpp.send(chat('alice@localhost', 'x4', 'hello account'));
    await tcp.next(isMessage('x4'));
    await ws.next(carbonOf('received', 'x4'));
    await ws2.next(carbonOf('received', 'x4'));
    await settle();
    assert.equal(publishesTo('n2', 'x4').length, 1);
    await nothing(ws, isMessage('x4'), 'a lower priority resource got the original');
  });

  it('§9: <private/> and <no-copy/> are not copied across nodes either (a plain one sent after them is)', async function () {
    await bob.xmpp.send(chat(tcp.jid, 'x5', 'private', xml('private', { xmlns: CARBONS }), xml('no-copy', { xmlns: 'urn:xmpp:hints' })));
    await tcp.next(isMessage('x5'));
    await ws.xmpp.send(chat(bob.jid, 'x6', 'no-copy', xml('no-copy', { xmlns: 'urn:xmpp:hints' })));
    await bob.next(isMessage('x6'));
    await bob.xmpp.send(chat(tcp.jid, 'x7', 'plain'));
    await ws.next(carbonOf('received', 'x7'));
    await nothing(ws, carbonOf('received', 'x5'), 'a private message was copied');
    await nothing(tcp, carbonOf('sent', 'x6'), 'a no-copy message was copied');
    assert.equal(publishesTo('n2', 'x5').length, 0);
    assert.equal(publishesTo('n1', 'x6').filter((p) => p.header.fl === CARBONS).length, 0);
  });

  it('a resource on n2 that disables Carbons stops getting copies from n1 (the other one on n2 still does)', async function () {
    await enable(ws2, false);
    try {
      await bob.xmpp.send(chat(tcp.jid, 'x8', 'after disable'));
      await ws.next(carbonOf('received', 'x8'));
      await nothing(ws2, carbonOf('received', 'x8'), 'a resource that disabled Carbons got a copy');
    } finally {
      await enable(ws2);
    }
  });
});
