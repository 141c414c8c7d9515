// XEP-0363 across node processes (one redis-server, one data directory as the shared volume): a slot given by
// n1 takes its PUT through n2 and the file is fetched through n1 (the nodes share the upload directory and the
// signing key in it). Control: n3, on an upload directory of its own, refuses that URL and has no such file,
// which is what a cluster without the shared volume would do.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { connect, type TestClient } from '../../test/support/clients.js';
import { addUsers, startNode, type NodeProcess } from '../../test/support/cluster.js';
import { startRedis, type RedisInstance } from '../../test/support/redis.js';

const NS_UPLOAD = 'urn:xmpp:http:upload:0';

describe('XEP-0363 across nodes (a shared upload directory)', function () {
  this.timeout(20_000);
  let redis: RedisInstance | undefined;
  let dataDir = '';
  let ownDir = '';
  const nodes: NodeProcess[] = [];
  let alice: TestClient | undefined;

  before(async function () {
    this.timeout(120_000);
    redis = await startRedis(this);
    dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-upload-'));
    ownDir = await mkdtemp(join(tmpdir(), 'ratatosk-upload-own-'));
    await addUsers(dataDir, 'secret', 'alice');
    nodes.push(await startNode({ id: 'n1', redisUrl: redis.url, dataDir }));
    nodes.push(await startNode({ id: 'n2', redisUrl: redis.url, dataDir }));
    nodes.push(await startNode({ id: 'n3', redisUrl: redis.url, dataDir, env: { RATATOSK_UPLOAD_DIRECTORY: ownDir } }));
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') for (const n of nodes) console.log(`--- log of ${n.id} ---\n${n.log().slice(-4000)}`);
  });

  after(async function () {
    await alice?.stop();
    for (const node of nodes) await node.terminate();
    await redis?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (ownDir) await rm(ownDir, { recursive: true, force: true });
  });

  it('a slot from n1 is PUT through n2 and fetched through n1; n3 without the shared directory refuses it', async function () {
    const [n1, n2, n3] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    alice = await connect(n1, { transport: 'tcp', username: 'alice', password: 'secret' });
    const answer = alice.next((s: Element) => s.is('iq') && s.attrs.id === 'slot1');
    await alice.xmpp.send(xml('iq', { type: 'get', to: 'upload.localhost', id: 'slot1' }, xml('request', { xmlns: NS_UPLOAD, filename: 'notes.txt', size: '11', 'content-type': 'text/plain' })));
    const slot = (await answer).getChild('slot', NS_UPLOAD);
    const put = slot?.getChild('put')?.attrs.url ?? '';
    const get = slot?.getChild('get')?.attrs.url ?? '';
    assert.ok(put.startsWith(`http://127.0.0.1:${n1.ports.http}/upload/`), put);
    const through = (node: NodeProcess, url: string): string => url.replace(`:${n1.ports.http}/`, `:${node.ports.http}/`);
    const body = Buffer.from('hello nodes');

    const refused = await fetch(through(n3, put), { method: 'PUT', body, headers: { 'Content-Type': 'text/plain' } });
    assert.equal(refused.status, 403, 'n3 signs with another key');
    const created = await fetch(through(n2, put), { method: 'PUT', body, headers: { 'Content-Type': 'text/plain' } });
    assert.equal(created.status, 201, await created.text());

    const got = await fetch(get);
    assert.equal(got.status, 200);
    assert.equal(await got.text(), 'hello nodes');
    assert.equal((await fetch(through(n2, get))).status, 200);
    assert.equal((await fetch(through(n3, get))).status, 404, 'n3 does not see the shared directory');
  });
});
