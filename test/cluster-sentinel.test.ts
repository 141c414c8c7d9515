// Clustering through Redis Sentinel (redis.sentinels + redis.sentinel_name): two Ratatosk nodes in
// child processes find the primary through three Sentinels, and keep routing between each other when
// the primary is killed (kill -9) or frozen (SIGSTOP) and the replica is promoted. A steady stream
// of messages runs across the fail-over to a recipient who stays online: every message must reach the
// live session, once and in order — none stored offline (the recipient never went offline), none
// bounced, none lost, none twice (issue 20). The longest pause between deliveries is printed: it is what
// users feel of a fail-over. test/cluster-failover-delivery.test.ts runs the same across other faults.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { connect, type TestClient } from './support/clients.js';
import { addUsers, startNode, type NodeProcess } from './support/cluster.js';
import { defaultSentinelConfigs, startSentinelTopology, type SentinelTopology, type SwitchMaster } from './support/redis-topologies.js';

const PASSWORD = 'fail-over-secret';
const USERS = ['alice', 'bob', 'carol', 'dave'];
const RATE_PER_SECOND = 20;
const STREAM_SECONDS = 10;
/** When, into the stream, the primary is taken away. */
const FAILOVER_AT_MS = 2500;

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

interface StreamResult {
  sent: number;
  delivered: number;
  bounced: number;
  stored: number;
  duplicates: number;
  unaccounted: number[];
  longestGapMs: number;
  switchMaster: SwitchMaster;
  /** The longest a delivered message took from the sender's write to the receiver. */
  slowestMs: number;
}

/**
 * `sender` sends RATE_PER_SECOND messages a second for STREAM_SECONDS to `receiver`'s full JID while
 * `failOver` runs, then waits until every message is accounted for (or `settleMs` passes).
 */
async function streamAcrossFailOver(
  sender: TestClient,
  receiver: TestClient,
  failOver: () => Promise<SwitchMaster>,
  settleMs: number,
  tag: string,
): Promise<{ result: Omit<StreamResult, 'stored' | 'unaccounted'> & { missing: number[] }; deliveredSeqs: Map<number, number>; bouncedSeqs: Set<number> }> {
  const deliveredAt = new Map<number, number>();
  const bounced = new Set<number>();
  let duplicates = 0;
  const seqOf = (stanza: Element): number | undefined => {
    const id = stanza.attrs.id;
    if (typeof id !== 'string' || !id.startsWith(`${tag}-`)) return undefined;
    const seq = Number(id.slice(tag.length + 1));
    return Number.isInteger(seq) ? seq : undefined;
  };
  receiver.xmpp.on('stanza', (stanza: Element) => {
    if (!stanza.is('message') || stanza.attrs.type === 'error') return;
    const seq = seqOf(stanza);
    if (seq === undefined) return;
    if (deliveredAt.has(seq)) duplicates++;
    else deliveredAt.set(seq, Date.now());
  });
  sender.xmpp.on('stanza', (stanza: Element) => {
    if (!stanza.is('message') || stanza.attrs.type !== 'error') return;
    const seq = seqOf(stanza);
    if (seq === undefined) return;
    if (bounced.has(seq)) duplicates++;
    else bounced.add(seq);
  });

  const total = RATE_PER_SECOND * STREAM_SECONDS;
  const interval = 1000 / RATE_PER_SECOND;
  const began = Date.now();
  const sentAt = new Map<number, number>();
  let failing: Promise<SwitchMaster> | undefined;
  for (let seq = 0; seq < total; seq++) {
    const due = began + seq * interval;
    if (Date.now() < due) await sleep(due - Date.now());
    if (!failing && Date.now() - began >= FAILOVER_AT_MS) {
      failing = failOver();
      failing.catch(() => undefined);
    }
    sentAt.set(seq, Date.now());
    await sender.xmpp.send(xml('message', { to: receiver.jid, type: 'chat', id: `${tag}-${seq}` }, xml('body', {}, `message ${seq}`)));
  }
  assert.ok(failing, 'the fail-over started during the stream');
  const switchMaster = await failing;

  const deadline = Date.now() + settleMs;
  while (Date.now() < deadline && deliveredAt.size + bounced.size < total) await sleep(200);

  const times = [...deliveredAt.values()].sort((a, b) => a - b);
  let longestGapMs = 0;
  for (let i = 1; i < times.length; i++) longestGapMs = Math.max(longestGapMs, (times[i] ?? 0) - (times[i - 1] ?? 0));
  let slowestMs = 0;
  for (const [seq, at] of deliveredAt) slowestMs = Math.max(slowestMs, at - (sentAt.get(seq) ?? at));
  const missing: number[] = [];
  for (let seq = 0; seq < total; seq++) {
    if (deliveredAt.has(seq) && bounced.has(seq)) duplicates++;
    if (!deliveredAt.has(seq) && !bounced.has(seq)) missing.push(seq);
  }
  return {
    result: {
      sent: total,
      delivered: deliveredAt.size,
      bounced: bounced.size,
      duplicates,
      longestGapMs,
      switchMaster,
      slowestMs,
      missing,
    },
    deliveredSeqs: deliveredAt,
    bouncedSeqs: bounced,
  };
}

/** Messages stored offline for `username` (XEP-0160), read by logging in a fresh resource with initial presence. */
async function collectOffline(node: NodeProcess, username: string, tag: string): Promise<Set<number>> {
  const client = await connect(node, { transport: 'tcp', username, password: PASSWORD, resource: `offline-${tag}` });
  const seqs = new Set<number>();
  client.xmpp.on('stanza', (stanza: Element) => {
    const id = stanza.attrs.id;
    if (stanza.is('message') && typeof id === 'string' && id.startsWith(`${tag}-`)) seqs.add(Number(id.slice(tag.length + 1)));
  });
  await client.xmpp.send(xml('presence'));
  // Offline messages follow the initial presence at once; wait until none has come for a moment.
  let last = -1;
  while (last !== seqs.size) {
    last = seqs.size;
    await sleep(1000);
  }
  await client.stop();
  return seqs;
}

function report(title: string, r: StreamResult): void {
  console.log(
    `      ${title}: sent ${r.sent}, delivered ${r.delivered}, bounced ${r.bounced}, stored offline ${r.stored}, ` +
      `duplicates ${r.duplicates}, unaccounted ${r.unaccounted.length}; +switch-master ${r.switchMaster.afterMs} ms after the fault; ` +
      `longest gap between deliveries ${r.longestGapMs} ms; slowest message ${r.slowestMs} ms`,
  );
}

describe('cluster on Redis Sentinel (3 Sentinels, primary + replica)', function () {
  this.timeout(240_000);
  let topology: SentinelTopology | undefined;
  let dataDir = '';
  const nodes: NodeProcess[] = [];
  const clients: TestClient[] = [];

  before(async function () {
    this.timeout(180_000);
    // RATATOSK_TEST_SENTINEL_DOWN_AFTER=5000 runs the same fail-overs with docker/redis's timing.
    const downAfter = process.env.RATATOSK_TEST_SENTINEL_DOWN_AFTER;
    topology = await startSentinelTopology(this, (layout) => {
      const configs = defaultSentinelConfigs(layout);
      if (!downAfter) return configs;
      return { ...configs, sentinels: configs.sentinels.map((c) => c.replace(/down-after-milliseconds (\S+) \d+/, `down-after-milliseconds $1 ${Number(downAfter)}`)) };
    });
    dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-sentinel-cluster-'));
    await addUsers(dataDir, PASSWORD, ...USERS);
    const env = { RATATOSK_REDIS_SENTINELS: topology.sentinelAddresses.join(','), RATATOSK_REDIS_SENTINEL_NAME: topology.masterName };
    // One after the other: the first creates the shared certificate. No redis.url: the Sentinels name the primary.
    for (const id of ['s1', 's2']) nodes.push(await startNode({ id, redisUrl: '', dataDir, env }));
  });

  afterEach(async function () {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    if (this.currentTest?.state === 'failed') for (const n of nodes) console.log(`--- log of ${n.id} ---\n${n.log().slice(-4000)}`);
  });

  after(async function () {
    this.timeout(30_000);
    await Promise.all(nodes.map((n) => (n.child.exitCode === null && n.child.signalCode === null ? n.terminate() : undefined)));
    await topology?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /**
   * Logged in and available, its presence echoed back: by then the node has registered the session in
   * the shared directory (the registration runs before the presence broadcast that echoes it).
   */
  const online = async (node: NodeProcess, username: string, transport: 'tcp' | 'websocket', resource: string): Promise<TestClient> => {
    const client = await connect(node, { transport, username, password: PASSWORD, resource });
    clients.push(client);
    await client.xmpp.send(xml('presence'));
    await client.next((s) => s.is('presence') && s.attrs.from === `${username}@localhost/${resource}` && s.attrs.type === undefined, 10_000);
    return client;
  };

  it('routes a message between users on different nodes through the Sentinel-managed primary', async () => {
    const [a, b] = nodes;
    assert.ok(a && b);
    const alice = await online(a, 'alice', 'tcp', 'desk');
    const bob = await online(b, 'bob', 'websocket', 'phone');
    await alice.xmpp.send(xml('message', { to: bob.jid, type: 'chat', id: 'hello-1' }, xml('body', {}, 'hello across nodes')));
    const got = await bob.next((s) => s.is('message') && s.attrs.id === 'hello-1', 10_000);
    assert.equal(got.attrs.from, alice.jid);
    assert.equal(got.getChildText('body'), 'hello across nodes');
  });

  for (const fault of ['kill', 'pause'] as const) {
    const title = fault === 'kill' ? 'kill -9 of the primary' : 'SIGSTOP of the primary';
    it(`delivers every message of a ${RATE_PER_SECOND}/s stream across a ${title} to the live session, once, in order: none stored offline or bounced`, async () => {
      const topo = topology;
      const [a, b] = nodes;
      assert.ok(topo && a && b);
      // A fail-over needs a replica to promote: bring back the server an earlier test took away.
      const primaryNow = await topo.currentPrimary();
      for (const server of [topo.primary, topo.replica]) {
        if (server.address !== primaryNow && (!server.alive || server.paused)) await topo.reviveAsReplica(server);
      }
      const [sender, receiver] = fault === 'kill' ? ['carol', 'dave'] : ['dave', 'carol'];
      const from = await online(a, sender, 'tcp', `stream-${fault}`);
      const to = await online(b, receiver, 'websocket', `stream-${fault}`);
      // Both sessions must be in the directory on the current primary before it goes.
      await from.xmpp.send(xml('message', { to: to.jid, type: 'chat', id: `warm-${fault}` }, xml('body', {}, 'warm-up')));
      await to.next((s) => s.attrs.id === `warm-${fault}`, 10_000);

      const failOver = fault === 'kill' ? () => topo.killPrimary(30_000) : () => topo.pausePrimary(30_000);
      const { result, deliveredSeqs, bouncedSeqs } = await streamAcrossFailOver(from, to, failOver, 30_000, `s${fault}`);
      // Whatever went to offline storage, including (as a duplicate) anything that also arrived or bounced.
      const stored = await collectOffline(b, receiver, `s${fault}`);
      const storedTwice = [...stored].filter((seq) => deliveredSeqs.has(seq) || bouncedSeqs.has(seq)).length;
      const unaccounted = result.missing.filter((seq) => !stored.has(seq));
      const full: StreamResult = { ...result, stored: stored.size - storedTwice, duplicates: result.duplicates + storedTwice, unaccounted };
      report(title, full);

      assert.deepEqual(unaccounted, [], `messages neither delivered, bounced nor stored: ${unaccounted.join(', ')}`);
      assert.equal(full.duplicates, 0, 'no message arrives twice, or both arrives and bounces');
      assert.equal(full.stored, 0, 'no message stored offline: the recipient was online throughout');
      assert.equal(full.bounced, 0, 'no message bounced: the fail-over is within the bound');
      assert.equal(full.delivered, full.sent);
      const arrival = [...deliveredSeqs.keys()]; // a Map keeps insertion (arrival) order
      assert.deepEqual(arrival, [...arrival].sort((x, y) => x - y), 'the messages arrived in the order they were sent');
      // Routing works again on the promoted primary.
      await from.xmpp.send(xml('message', { to: to.jid, type: 'chat', id: `after-${fault}` }, xml('body', {}, 'after the fail-over')));
      await to.next((s) => s.attrs.id === `after-${fault}`, 15_000);
    });
  }
});
