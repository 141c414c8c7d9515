// CPU per routed cross-node stanza: two Ratatosk node processes and a private redis-server on this machine,
// one sender on node A and one recipient on node B (both TCP, xmpp.js), N chat messages to the recipient's
// full JID and then N to its bare JID, at most WINDOW unanswered at a time. The CPU time (user + system,
// from /proc/<pid>/stat) each node process and redis-server spent during the N messages, divided by N.
// Run it on the code before and after a change, on a machine as quiet as one can get:
//
//   node --import tsx loadtest/cluster/cross-node-cost.ts [--messages 20000] [--window 200] [--rounds 3]
//   node --import tsx loadtest/cluster/cross-node-cost.ts --messages 1000 --interval 25 --rounds 1
//
// --interval paces the messages (one every that many ms, as a conversation does) instead of a window:
// then every cross-node message travels alone, with its own acknowledgement. The processes' idle CPU over
// the same time (heartbeats, sweeps, timers), measured first with no messages, is subtracted.
// Nodes share one embedded store (LMDB) in a temporary folder; nothing touches the machine's Redis.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { xml } from '@xmpp/client';
import type { Element } from 'ltx';
import { connect, type TestClient } from '../../test/support/clients.js';
import { addUsers, startNode, type NodeProcess } from '../../test/support/cluster.js';
import { freePort } from '../../test/support/postgres-instance.js';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '20000' }, window: { type: 'string', default: '200' }, rounds: { type: 'string', default: '3' }, interval: { type: 'string', default: '0' } } });
const N = Number(values.messages);
const WINDOW = Number(values.window);
const ROUNDS = Number(values.rounds);
const INTERVAL_MS = Number(values.interval);
const TICKS = 100; // USER_HZ on Linux

/** user + system CPU time of a process, in microseconds. */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS;
}

async function startRedis(): Promise<{ pid: number; url: string; stop(): void }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited ${code}`)));
  });
  child.stdout?.resume();
  return { pid: child.pid ?? 0, url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

/** Sends N messages with at most WINDOW unanswered; resolves when all arrived. */
async function stream(sender: TestClient, receiver: TestClient, to: string, tag: string): Promise<number> {
  let arrived = 0;
  let sent = 0;
  let wake: (() => void) | undefined;
  const onStanza = (stanza: Element): void => {
    if (stanza.is('message') && typeof stanza.attrs.id === 'string' && stanza.attrs.id.startsWith(tag)) {
      arrived++;
      wake?.();
    }
  };
  receiver.xmpp.on('stanza', onStanza);
  const began = process.hrtime.bigint();
  if (INTERVAL_MS > 0) {
    for (; sent < N; sent++) {
      void sender.xmpp.send(xml('message', { to, type: 'chat', id: `${tag}${sent}` }, xml('body', {}, `message ${sent}`)));
      await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS));
    }
  }
  while (arrived < N) {
    while (sent < N && sent - arrived < WINDOW) {
      void sender.xmpp.send(xml('message', { to, type: 'chat', id: `${tag}${sent}` }, xml('body', {}, `message ${sent}`)));
      sent++;
    }
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, 1000).unref();
    });
  }
  receiver.xmpp.off('stanza', onStanza);
  return Number(process.hrtime.bigint() - began) / 1e6;
}

const dataDir = await mkdtemp(join(tmpdir(), 'ratatosk-cost-'));
const redis = await startRedis();
const nodes: NodeProcess[] = [];
try {
  await addUsers(dataDir, 'secret', 'sender', 'recipient');
  for (const id of ['cost-a', 'cost-b']) nodes.push(await startNode({ id, redisUrl: redis.url, dataDir, env: { RATATOSK_LOG_LEVEL: 'error' } }));
  const [a, b] = nodes as [NodeProcess, NodeProcess];
  const sender = await connect(a, { transport: 'tcp', username: 'sender', password: 'secret', resource: 's' });
  const recipient = await connect(b, { transport: 'tcp', username: 'recipient', password: 'secret', resource: 'r' });
  await recipient.xmpp.send(xml('presence'));
  await recipient.next((s) => s.is('presence') && s.attrs.from === recipient.jid);
  // Warm-up: JIT, connections, caches.
  await stream(sender, recipient, recipient.jid, 'warm-');
  console.log(`# ${N} messages per run, ${INTERVAL_MS > 0 ? `one every ${INTERVAL_MS} ms` : `window ${WINDOW}`}; CPU µs per message (node A, node B, redis-server, total); wall ms`);
  const pids = [a.pid, b.pid, redis.pid];
  let idlePerMs = [0, 0, 0];
  if (INTERVAL_MS > 0) {
    const idleMs = N * INTERVAL_MS;
    const before = pids.map(cpuMicros);
    const began = Date.now();
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    const took = Date.now() - began;
    idlePerMs = pids.map((pid, i) => (cpuMicros(pid) - (before[i] ?? 0)) / took);
    console.log(`# idle CPU subtracted: A ${(idlePerMs[0] ?? 0).toFixed(2)}, B ${(idlePerMs[1] ?? 0).toFixed(2)}, redis ${(idlePerMs[2] ?? 0).toFixed(2)} µs per ms`);
  }
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [kind, to] of [['full', recipient.jid], ['bare', 'recipient@localhost']] as const) {
      const before = pids.map(cpuMicros);
      const wallMs = await stream(sender, recipient, to, `${kind}${round}-`);
      const used = pids.map((pid, i) => (cpuMicros(pid) - (before[i] ?? 0) - (idlePerMs[i] ?? 0) * wallMs) / N);
      const total = used.reduce((x, y) => x + y, 0);
      console.log(`round ${round} to ${kind} JID: A ${used[0]?.toFixed(1)} µs, B ${used[1]?.toFixed(1)} µs, redis ${used[2]?.toFixed(1)} µs, total ${total.toFixed(1)} µs; ${wallMs.toFixed(0)} ms (${((N * 1000) / wallMs).toFixed(0)} msg/s)`);
    }
  }
  await sender.stop();
  await recipient.stop();
} finally {
  await Promise.all(nodes.map((n) => n.terminate().catch(() => undefined)));
  redis.stop();
  await rm(dataDir, { recursive: true, force: true });
}
