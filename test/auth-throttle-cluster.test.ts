// The login throttle across a cluster: two Ratatosk node processes and one redis-server. Guesses on
// node A count on node B (the account locks after lockout_failures guesses spread over both), a
// pair's delay follows it from one node to the other, and the counters are Redis keys under rt:auth:.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUsers, startNode, type NodeProcess } from './support/cluster.js';
import { startRedis, type RedisInstance } from './support/redis.js';
import { SaslPeer, type Outcome } from './support/sasl-peer.js';

describe('Login throttling shared by two nodes through Redis', function () {
  this.timeout(30_000);
  let redis: RedisInstance | undefined;
  let dataDir = '';
  const nodes: NodeProcess[] = [];
  const peers: SaslPeer[] = [];

  const login = async (node: NodeProcess | undefined, address: string, username: string, password: string): Promise<Outcome> => {
    assert.ok(node);
    const peer = await SaslPeer.open(node.ports.c2s, address);
    peers.push(peer);
    return peer.plain(username, password);
  };

  before(async function () {
    this.timeout(120_000);
    redis = await startRedis(this);
    dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-throttle-cluster-'));
    await addUsers(dataDir, 'right-password', 'alice', 'bob');
    const env = { RATATOSK_AUTH_LOCKOUT_FAILURES: '4', RATATOSK_AUTH_LOCKOUT_SECONDS: '60', RATATOSK_AUTH_FAILURES_BEFORE_DELAY: '2', RATATOSK_AUTH_MAX_FAILURE_DELAY_MS: '1000' };
    for (const id of ['a', 'b']) nodes.push(await startNode({ id, redisUrl: redis.url, dataDir, env }));
  });

  afterEach(function () {
    for (const peer of peers.splice(0)) peer.destroy();
  });

  after(async function () {
    await Promise.all(nodes.splice(0).map((n) => n.terminate()));
    await redis?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('locks an account after guesses spread over both nodes, on both nodes', async function () {
    const [a, b] = nodes;
    assert.equal((await login(a, '127.0.0.2', 'alice', 'guess-1')).result, 'not-authorized');
    assert.equal((await login(a, '127.0.0.3', 'alice', 'guess-2')).result, 'not-authorized');
    assert.equal((await login(b, '127.0.0.4', 'alice', 'guess-3')).result, 'not-authorized');
    assert.equal((await login(b, '127.0.0.5', 'alice', 'guess-4')).result, 'not-authorized');
    // Four guesses in all, two per node: each node alone has seen fewer than lockout_failures.
    assert.equal((await login(a, '127.0.0.6', 'alice', 'right-password')).result, 'temporary-auth-failure');
    assert.equal((await login(b, '127.0.0.6', 'alice', 'right-password')).result, 'temporary-auth-failure');
    const keys = redis?.cli('--scan', '--pattern', 'rt:auth:*').split('\n') ?? [];
    assert.ok(keys.includes('rt:auth:acct:{alice}'), `the account's counter is in Redis: ${keys.join(' ')}`);
    assert.ok(keys.includes('rt:auth:acct:{alice}:from:127.0.0.2'), 'and each pair');
  });

  it("a pair's delay follows it from one node to the other", async function () {
    const [a, b] = nodes;
    assert.equal((await login(a, '127.0.0.7', 'bob', 'guess-1')).result, 'not-authorized');
    assert.equal((await login(a, '127.0.0.7', 'bob', 'guess-2')).result, 'not-authorized');
    const third = await login(b, '127.0.0.7', 'bob', 'guess-3');
    assert.equal(third.result, 'not-authorized');
    assert.ok(third.ms >= 200, `the third guess, on the other node, was answered after ${third.ms} ms; expected the 250 ms delay`);
  });

  it('offers an unknown user the same SCRAM salt on both nodes', async function () {
    const salts: string[] = [];
    for (const node of nodes) {
      const peer = await SaslPeer.open(node.ports.c2s, '127.0.0.8');
      peers.push(peer);
      const answer = await peer.scramFirst('nobody-at-all');
      salts.push(/s=([^,]+)/.exec(answer.data)?.[1] ?? '');
    }
    assert.ok(salts[0] !== '' && salts[0] === salts[1], `salts: ${salts.join(' ')}`);
  });
});
