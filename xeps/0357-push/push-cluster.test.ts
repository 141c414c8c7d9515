// XEP-0357 across two node processes on one private redis-server: the client waits for resumption on n2,
// where the app server (a XEP-0114 component) is connected; the sender is on n1. The message reaches the
// waiting session through n2's channel, and n2, which holds the session, publishes the notification.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { xml } from '@xmpp/client';
import { addUsers, startNode, type NodeProcess } from '../../test/support/cluster.js';
import { connect, type TestClient } from '../../test/support/clients.js';
import { rawLogin, RawStream } from '../../test/support/raw-stream.js';
import { startRedis, type RedisInstance } from '../../test/support/redis.js';

const APP = 'push.localhost';
const APP_SECRET = 'app-server-secret';
const PUSH = 'urn:xmpp:push:0';

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

describe('XEP-0357 push notifications across nodes', function () {
  this.timeout(30_000);
  let redis: RedisInstance | undefined;
  let dataDir = '';
  const nodes: NodeProcess[] = [];
  const raws: RawStream[] = [];
  let bob: TestClient | undefined;

  before(async function () {
    this.timeout(120_000);
    redis = await startRedis(this);
    dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-push-'));
    await addUsers(dataDir, 'secret', 'alice', 'bob');
    const componentPort = await freePort();
    nodes.push(await startNode({ id: 'n1', redisUrl: redis.url, dataDir }));
    const overrides = { component: { port: componentPort }, components: [{ domain: APP, secret: APP_SECRET }], stream_management: { resumeTimeout: 30 } };
    nodes.push(await startNode({ id: 'n2', redisUrl: redis.url, dataDir, env: { RT_TEST_CONFIG_OVERRIDES: JSON.stringify(overrides) } }));
    const app = await RawStream.connect(componentPort);
    raws.push(app);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') for (const n of nodes) console.log(`--- log of ${n.id} ---\n${n.log().slice(-4000)}`);
  });

  after(async function () {
    for (const raw of raws.splice(0)) raw.destroy();
    await bob?.stop();
    await Promise.all(nodes.splice(0).map((n) => n.terminate()));
    await redis?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('a message from n1 to a session waiting on n2: n2 publishes to the app server', async function () {
    const [n1, n2] = nodes as [NodeProcess, NodeProcess];
    const app = raws[0] as RawStream;
    app.write(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${APP}'>`);
    const [, id = ''] = await app.expect(/<stream:stream [^>]*id='([^']+)'>/);
    app.write(`<handshake>${createHash('sha1').update(id + APP_SECRET).digest('hex')}</handshake>`);
    await app.expect(/<handshake\/>/);

    const { stream } = await rawLogin(n2.ports.c2s, 'alice', 'secret', 'phone');
    raws.push(stream);
    stream.write("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    await stream.expect(/<enabled /);
    stream.write(`<iq type='set' id='push'><enable xmlns='${PUSH}' jid='${APP}' node='cluster-node'/></iq>`);
    await stream.expect(/<iq type="result" id="push"/);
    stream.write('<presence/>');
    bob = await connect(n1, { transport: 'tcp', username: 'bob', password: 'secret' });

    // Control: connected, the message reaches the client across the nodes and no notification goes out.
    await bob.xmpp.send(xml('message', { to: 'alice@localhost', type: 'chat' }, xml('body', {}, 'are you there?')));
    await stream.expect(/<body>are you there\?<\/body>/);
    await app.silence(/<iq/, 300);

    stream.destroy();
    await delay(300);
    await bob.xmpp.send(xml('message', { to: 'alice@localhost', type: 'chat' }, xml('body', {}, 'across')));
    const publish = await app.element('iq');
    assert.equal(publish.attrs.to, APP);
    assert.equal(publish.getChild('pubsub', 'http://jabber.org/protocol/pubsub')?.getChild('publish')?.attrs.node, 'cluster-node');
    const form = publish.getChild('pubsub', 'http://jabber.org/protocol/pubsub')?.getChild('publish')?.getChild('item')?.getChild('notification', PUSH)?.getChild('x', 'jabber:x:data');
    const fields = Object.fromEntries((form?.getChildren('field') ?? []).map((f) => [String(f.attrs.var), f.getChildText('value') ?? '']));
    assert.deepEqual(fields, { FORM_TYPE: 'urn:xmpp:push:summary', 'message-count': '1', 'last-message-sender': bob.jid });
    app.write(`<iq type='result' id='${publish.attrs.id}' from='${APP}' to='${publish.attrs.from}'/>`);
  });
});
