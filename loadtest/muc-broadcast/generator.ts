// One load-generator process of the MUC broadcast benchmark (forked by run.ts, driven over IPC). It holds a
// share of the room's occupants, sends the publishers' timestamped messages on schedule, and measures the
// latency of every copy it receives against the send time embedded in the body. process.hrtime reads
// CLOCK_MONOTONIC, which every process on the machine shares, so sender and receiver may be different
// processes.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { BenchClient, type Target } from './ws-client.js';

export interface Member {
  username: string;
  nick: string;
  /** Index among all publishers of the case, or -1 for a subscriber. */
  publisher: number;
}

export type Command =
  | { cmd: 'login'; target: Target; password: string; members: Member[]; concurrency: number; timeoutMs: number }
  | { cmd: 'join'; room: string; from: number; count: number; concurrency: number; timeoutMs: number }
  | { cmd: 'quiet'; quietMs: number }
  | { cmd: 'publish'; room: string; caseId: string; publishers: number; messages: number; intervalMs: number; startAt: number }
  | { cmd: 'progress' }
  | { cmd: 'report' }
  | { cmd: 'close' };

export interface Report {
  received: number;
  duplicates: number;
  foreign: number;
  sent: number;
  errors: number;
  lastError: string | undefined;
  /** Latency histogram: bucket (latency in units of BUCKET_MS) -> copies. */
  buckets: [number, number][];
  sumMs: number;
  maxMs: number;
  /** How late the send timers fired, ms. */
  sendLagMeanMs: number;
  sendLagMaxMs: number;
  /** Event-loop delay during the publish phase, ms. */
  loopDelayMeanMs: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** CPU time of this process during the publish phase (user + system), ms, and the phase's wall time. */
  cpuMs: number;
  wallMs: number;
}

export const BUCKET_MS = 0.05;

const nowMs = (): number => {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
};

let clients: BenchClient[] = [];
let members: Member[] = [];

// Per-case state.
let caseId = '';
let messagesPerPublisher = 0;
let seen: Uint8Array[] = [];
let received = 0;
let duplicates = 0;
let foreign = 0;
let sent = 0;
let sumMs = 0;
let maxMs = 0;
let buckets = new Map<number, number>();
let sendLagSum = 0;
let sendLagMax = 0;
let phaseStart = 0;
let cpuStart = process.cpuUsage();
const loopDelay = monitorEventLoopDelay({ resolution: 10 });

function reply(message: unknown): void {
  process.send?.(message);
}

async function mapLimit<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await run(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

function onBody(client: number, body: string): void {
  const at = nowMs();
  // body: "<caseId> <publisher> <seq> <sentAtMs>"
  const a = body.indexOf(' ');
  const b = body.indexOf(' ', a + 1);
  const c = body.indexOf(' ', b + 1);
  if (body.slice(0, a) !== caseId) {
    foreign++;
    return;
  }
  const index = Number(body.slice(a + 1, b)) * messagesPerPublisher + Number(body.slice(b + 1, c));
  const mine = seen[client];
  if (!mine || mine[index] === 1) {
    duplicates++;
    return;
  }
  mine[index] = 1;
  const latency = at - Number(body.slice(c + 1));
  received++;
  sumMs += latency;
  if (latency > maxMs) maxMs = latency;
  const bucket = Math.round(latency / BUCKET_MS);
  buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1);
}

function publish(room: string, publishers: number, messages: number, intervalMs: number, startAt: number): void {
  clients.forEach((client, i) => {
    const publisher = members[i]?.publisher ?? -1;
    if (publisher < 0) return;
    // Publishers are spread evenly over the interval, so the offered rate is steady.
    const offset = (publisher / publishers) * intervalMs;
    let seq = 0;
    const fire = (): void => {
      const due = startAt + offset + seq * intervalMs;
      const at = nowMs();
      const lag = at - due;
      sendLagSum += lag;
      if (lag > sendLagMax) sendLagMax = lag;
      const id = `${caseId}-${publisher}-${seq}`;
      client.send(`<message xmlns='jabber:client' to='${room}' type='groupchat' id='${id}'><body>${caseId} ${publisher} ${seq} ${at.toFixed(3)}</body></message>`);
      sent++;
      seq++;
      if (seq < messages) setTimeout(fire, Math.max(0, startAt + offset + seq * intervalMs - nowMs()));
    };
    setTimeout(fire, Math.max(0, startAt + offset - nowMs()));
  });
}

process.on('message', (raw: Command) => {
  void handle(raw).catch((err: unknown) => reply({ ev: 'error', message: err instanceof Error ? err.message : String(err) }));
});

async function handle(command: Command): Promise<void> {
  switch (command.cmd) {
    case 'login': {
      members = command.members;
      clients = members.map((m, i) => {
        const client = new BenchClient(command.target, m.username, command.password);
        client.onBody = (body) => onBody(i, body);
        return client;
      });
      const started = nowMs();
      let failed = 0;
      let firstFailure: string | undefined;
      await mapLimit(clients, command.concurrency, async (client) => {
        try {
          await client.login(command.timeoutMs);
        } catch (err) {
          failed++;
          firstFailure ??= err instanceof Error ? err.message : String(err);
        }
      });
      reply({ ev: 'login', ok: clients.length - failed, failed, firstFailure, ms: nowMs() - started });
      return;
    }
    case 'join': {
      const started = nowMs();
      let failed = 0;
      let firstFailure: string | undefined;
      const slice = clients.slice(command.from, command.from + command.count);
      await mapLimit(slice, command.concurrency, async (client) => {
        const member = members[clients.indexOf(client)];
        try {
          await client.join(command.room, member?.nick ?? client.username, command.timeoutMs);
        } catch (err) {
          failed++;
          firstFailure ??= err instanceof Error ? err.message : String(err);
        }
      });
      reply({ ev: 'join', ok: slice.length - failed, failed, firstFailure, ms: nowMs() - started });
      return;
    }
    case 'quiet': {
      // Waits for the presence flood of the joins to end: no frame for quietMs.
      const frames = (): number => clients.reduce((n, c) => n + c.frames, 0);
      let last = frames();
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, command.quietMs));
        const now = frames();
        if (now === last) break;
        last = now;
      }
      reply({ ev: 'quiet', frames: last });
      return;
    }
    case 'publish': {
      caseId = command.caseId;
      messagesPerPublisher = command.messages;
      seen = clients.map(() => new Uint8Array(command.publishers * command.messages));
      received = duplicates = foreign = sent = 0;
      sumMs = maxMs = sendLagSum = sendLagMax = 0;
      buckets = new Map();
      for (const client of clients) client.errors = 0;
      loopDelay.reset();
      loopDelay.enable();
      phaseStart = nowMs();
      cpuStart = process.cpuUsage();
      publish(command.room, command.publishers, command.messages, command.intervalMs, command.startAt);
      reply({ ev: 'publish' });
      return;
    }
    case 'progress':
      reply({ ev: 'progress', received, sent });
      return;
    case 'report': {
      loopDelay.disable();
      const cpu = process.cpuUsage(cpuStart);
      const errored = clients.filter((c) => c.errors > 0);
      const report: Report = {
        received,
        duplicates,
        foreign,
        sent,
        errors: clients.reduce((n, c) => n + c.errors, 0),
        lastError: errored[0]?.lastError,
        buckets: [...buckets.entries()],
        sumMs,
        maxMs,
        sendLagMeanMs: sent ? sendLagSum / sent : 0,
        sendLagMaxMs: sendLagMax,
        loopDelayMeanMs: loopDelay.mean / 1e6,
        loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
        loopDelayMaxMs: loopDelay.max / 1e6,
        cpuMs: (cpu.user + cpu.system) / 1e3,
        wallMs: nowMs() - phaseStart,
      };
      reply({ ev: 'report', report });
      return;
    }
    case 'close':
      for (const client of clients) client.close();
      clients = [];
      reply({ ev: 'close' });
      return;
  }
}

reply({ ev: 'ready' });
