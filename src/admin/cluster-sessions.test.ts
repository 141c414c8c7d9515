// The merging rules of cluster-wide `session list|kick` (what other nodes answer, and what they fail to), over an
// in-process stand-in for the cluster bus. test/cluster.test.ts runs the same commands on three real node
// processes on Redis.
import assert from 'node:assert/strict';
import type { NodeInfo } from '../cluster/node-registry.js';
import type { RequestHandler } from '../cluster/remote-sessions.js';
import { ServerError } from '../errors.js';
import { Jid } from '../jid.js';
import type { SessionRecord } from '../sessions/types.js';
import { clusterSessionAdmin, NODE_ANSWER_MS, type LocalSessionAdmin } from './cluster-sessions.js';
import type { LiveSession } from './live.js';

const session = (jid: string, node: string): LiveSession => ({ jid, transport: 'tcp', remoteAddress: '127.0.0.1', since: 0, availability: 'available', priority: 0, node });
const nodeInfo = (id: string, alive = true): NodeInfo => ({ id, alive, connections: 0, draining: false, startedAt: 0, host: '127.0.0.1', c2sPort: 5222, c2sTlsPort: 5223, httpPort: 5280 });

/** One node's own sessions, and the kicks asked of it. */
function localNode(nodeId: string, jids: string[]): LocalSessionAdmin & { kicked: string[] } {
  const kicked: string[] = [];
  return {
    kicked,
    sessions: (bare) => jids.filter((jid) => bare === undefined || jid.startsWith(`${bare}/`)).map((jid) => session(jid, nodeId)),
    kick(full, reason) {
      if (!jids.includes(full)) return false;
      kicked.push(`${full} ${reason ?? ''}`);
      return true;
    },
  };
}

/** Nodes that answer through each other's handlers, as the bus would; `silent` ones never answer. */
function bus(nodes: Record<string, { silent?: boolean; reply?: (topic: string) => unknown }>, records: SessionRecord[] = []) {
  const handlers = new Map<string, Map<string, RequestHandler>>();
  const remoteOf = (self: string) => ({
    answer(topic: string, handler: RequestHandler) {
      const mine = handlers.get(self) ?? new Map<string, RequestHandler>();
      handlers.set(self, mine);
      mine.set(topic, handler);
      return () => mine.delete(topic);
    },
    async request(node: string, topic: string, body: unknown, _timeoutMs: number, onReply: (reply: unknown) => void) {
      const spec = nodes[node];
      if (spec?.silent) return false;
      const handler = handlers.get(node)?.get(topic);
      onReply(spec?.reply ? spec.reply(topic) : handler ? await handler(body, self, Promise.resolve()) : undefined);
      return true;
    },
    find: async (full: string) => records.find((r) => r.jid.toString() === full),
  });
  const registry = { listNodes: async () => Object.keys(nodes).map((id) => nodeInfo(id)) };
  return { remoteOf, registry };
}

describe('cluster-wide session list and kick (src/admin/cluster-sessions.ts)', function () {
  it('alone: this node’s sessions, nothing asked of others', async function () {
    const admin = clusterSessionAdmin({ nodeId: 'n1', local: localNode('n1', ['b@x/2', 'a@x/1']) });
    assert.deepEqual(await admin.sessions(), { sessions: [session('a@x/1', 'n1'), session('b@x/2', 'n1')], unanswered: [] });
    assert.equal(await admin.kick('a@x/1'), true);
    assert.equal(await admin.kick('c@x/3'), false);
  });

  it('merges every node’s answer by node and JID, names a node that does not answer, skips what is not a session', async function () {
    const { remoteOf, registry } = bus({ n1: {}, n2: {}, n3: { silent: true }, n4: { reply: () => [{ jid: 'z@x/1' }, session('y@x/1', 'n4'), 'junk'] } });
    const n2 = clusterSessionAdmin({ nodeId: 'n2', local: localNode('n2', ['a@x/2']), cluster: { remote: remoteOf('n2'), registry } });
    const n1 = clusterSessionAdmin({ nodeId: 'n1', local: localNode('n1', ['b@x/1', 'a@x/1']), cluster: { remote: remoteOf('n1'), registry } });
    const listing = await n1.sessions();
    assert.deepEqual(listing.sessions, [session('a@x/1', 'n1'), session('b@x/1', 'n1'), session('a@x/2', 'n2'), session('y@x/1', 'n4')]);
    assert.deepEqual(listing.unanswered, ['n3']);
    // n4's canned reply ignores the filter; the nodes that run the real handler apply it.
    assert.deepEqual((await n1.sessions('a@x')).sessions.filter((s) => s.node !== 'n4'), [session('a@x/1', 'n1'), session('a@x/2', 'n2')]);
    n2.stop();
  });

  it('kicks on the node the directory names; an unanswered node is an error that says so', async function () {
    const records: SessionRecord[] = [
      { jid: Jid.parse('a@x/2'), node: 'n2', sid: 's', available: true, priority: 0 },
      { jid: Jid.parse('a@x/3'), node: 'n3', sid: 't', available: true, priority: 0 },
    ];
    const { remoteOf, registry } = bus({ n1: {}, n2: {}, n3: { silent: true } }, records);
    const two = localNode('n2', ['a@x/2']);
    clusterSessionAdmin({ nodeId: 'n2', local: two, cluster: { remote: remoteOf('n2'), registry } });
    const n1 = clusterSessionAdmin({ nodeId: 'n1', local: localNode('n1', []), cluster: { remote: remoteOf('n1'), registry } });
    assert.equal(await n1.kick('a@x/2', 'bye'), true);
    assert.deepEqual(two.kicked, ['a@x/2 bye']);
    assert.equal(await n1.kick('a@x/9'), false, 'no record: no such session');
    await assert.rejects(n1.kick('a@x/3'), (err) => err instanceof ServerError && err.code === 'NODE_UNAVAILABLE' && err.message.includes(`${NODE_ANSWER_MS / 1000} s`));
  });
});
