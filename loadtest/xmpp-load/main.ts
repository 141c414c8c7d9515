// xmpp-load: the max-users and message-rate scenarios of loadtest/tsung over WebSocket (RFC 7395) and BOSH
// (XEP-0124, XEP-0206), many sessions in one Node process. It replaces Tsung 1.7 for those two transports
// (README.md says why). loadtest/run starts it for --transport websocket|bosh; it can also run on its own
// against any server with users <prefix>1..<prefix>N sharing one password:
//
//   npx tsx loadtest/xmpp-load/main.ts --transport websocket|bosh --port HTTP_PORT[,HTTP_PORT...] [--host 127.0.0.1]
//     [--domain tsung.test] [--users 1000] [--prefix tsung] [--password tsungpass] [--arrival-rate 50]
//     [--hold 60] [--rate 0] [--message-size 64] [--settle 5] [--drain 15] [--bosh-wait 60] [--bosh-hold 1]
//     [--login-timeout 60] [--scenario max-users|message-rate] [--results FILE]
//
// Phases: arrivals (--arrival-rate logins started per second, evenly spaced), --settle seconds, then the
// steady phase of --hold seconds: idle (max-users), or chat messages at --rate per second in total
// (message-rate), each from a random online user to a random online roster contact (any online user when
// none of its contacts is), the send time in the body; latency is measured where the message arrives, in
// this process. Then up to --drain seconds for the last messages, then every session logs out.
// Several ports (the nodes of a cluster on one host): user i connects to port i mod N.
// Every message is accounted for: delivered, bounced (an error came back) or unaccounted.
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Element } from '../../src/xml/element.js';
import { boshAgent } from './bosh-wire.js';
import { LoadSession, type LoadTarget, type LoadTransport } from './session.js';

interface Options {
  scenario: string;
  transport: LoadTransport;
  host: string;
  ports: number[];
  domain: string;
  users: number;
  first: number;
  prefix: string;
  password: string;
  arrivalRate: number;
  holdSeconds: number;
  rate: number;
  messageSize: number;
  settleSeconds: number;
  drainSeconds: number;
  boshWait: number;
  boshHold: number;
  loginTimeoutSeconds: number;
  /** Roster items every user must get back (a login with another count fails); undefined: not checked. */
  rosterSize: number | undefined;
  results: string | undefined;
  /** XEP-0198 enabled by every session (LoadTarget.streamManagement). */
  streamManagement: boolean;
  /** With stream management: an <r/> after every Nth chat message. */
  ackEvery: number;
  /** An XEP-0199 ping to the server after every chat message (LoadTarget.pingAfterMessage). */
  pingAfterMessage: boolean;
}

function fail(message: string): never {
  process.stderr.write(`xmpp-load: ${message}\n`);
  process.exit(2);
}

function parseOptions(): Options {
  let values;
  try {
    ({ values } = parseArgs({
      strict: true,
      options: {
        scenario: { type: 'string' },
        transport: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string' },
        domain: { type: 'string', default: 'tsung.test' },
        users: { type: 'string', default: '1000' },
        first: { type: 'string', default: '1' },
        prefix: { type: 'string', default: 'tsung' },
        password: { type: 'string', default: 'tsungpass' },
        'arrival-rate': { type: 'string', default: '50' },
        hold: { type: 'string', default: '60' },
        rate: { type: 'string', default: '0' },
        'message-size': { type: 'string', default: '64' },
        settle: { type: 'string', default: '5' },
        drain: { type: 'string', default: '15' },
        'bosh-wait': { type: 'string', default: '60' },
        'bosh-hold': { type: 'string', default: '1' },
        'login-timeout': { type: 'string', default: '60' },
        'roster-size': { type: 'string' },
        results: { type: 'string' },
        'stream-management': { type: 'boolean', default: false },
        'ack-every': { type: 'string', default: '1' },
        'ping-after-message': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  if (values.help) {
    process.stdout.write('usage: see the header of loadtest/xmpp-load/main.ts and loadtest/xmpp-load/README.md\n');
    process.exit(0);
  }
  const number = (name: string, value: string | undefined, min: number): number => {
    const n = Number(value);
    if (value === undefined || !Number.isFinite(n) || n < min) fail(`--${name} must be a number >= ${min}, got "${value ?? ''}"`);
    return n;
  };
  const transport = values.transport;
  if (transport !== 'websocket' && transport !== 'bosh') fail(`--transport must be websocket or bosh, got "${transport ?? ''}"`);
  const rate = number('rate', values.rate, 0);
  return {
    scenario: values.scenario ?? (rate > 0 ? 'message-rate' : 'max-users'),
    transport,
    host: values.host,
    ports: (values.port ?? '').split(',').map((p) => number('port', p, 1)),
    domain: values.domain,
    users: number('users', values.users, 1),
    first: number('first', values.first, 0),
    prefix: values.prefix,
    password: values.password,
    arrivalRate: number('arrival-rate', values['arrival-rate'], 0.001),
    holdSeconds: number('hold', values.hold, 0),
    rate,
    messageSize: number('message-size', values['message-size'], 0),
    settleSeconds: number('settle', values.settle, 0),
    drainSeconds: number('drain', values.drain, 0),
    boshWait: number('bosh-wait', values['bosh-wait'], 1),
    boshHold: number('bosh-hold', values['bosh-hold'], 1),
    loginTimeoutSeconds: number('login-timeout', values['login-timeout'], 1),
    rosterSize: values['roster-size'] === undefined ? undefined : number('roster-size', values['roster-size'], 0),
    results: values.results,
    streamManagement: values['stream-management'],
    ackEvery: number('ack-every', values['ack-every'], 1),
    pingAfterMessage: values['ping-after-message'],
  };
}

const options = parseOptions();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const wallSeconds = (): number => Date.now() / 1000;
const agent = options.transport === 'bosh' ? boshAgent() : undefined;
/** Requests sent again after a reset pooled connection, by reason (see bosh-wire.ts). */
const boshResends = new Map<string, number>();
const targets: LoadTarget[] = options.ports.map((port) => ({
  transport: options.transport,
  host: options.host,
  port,
  domain: options.domain,
  timeoutMs: options.loginTimeoutSeconds * 1000,
  rosterSize: options.rosterSize,
  bosh: { path: '/http-bind', wait: options.boshWait, hold: options.boshHold, agent: agent ?? boshAgent(), onResend: (reason) => count(boshResends, reason) },
  streamManagement: options.streamManagement,
  ackEvery: options.ackEvery,
  pingAfterMessage: options.pingAfterMessage,
}));

// ---- the population ----

const online: LoadSession[] = [];
const byBare = new Map<string, LoadSession>();
let sessionsMax = 0;
const loginMs: number[] = [];
const loginTotalMs: number[] = [];
const loginFailures = new Map<string, number>();
const lostSessions = new Map<string, number>();
const count = (map: Map<string, number>, reason: string): void => void map.set(reason.slice(0, 120), (map.get(reason.slice(0, 120)) ?? 0) + 1);

// ---- messages ----

let sent = 0;
let delivered = 0;
let bounced = 0;
let duplicates = 0;
let unknown = 0;
/** Sequence number -> performance.now() at sending, until delivered or bounced. */
const pending = new Map<number, number>();
const latencyMs: number[] = [];
const padding = 'x'.repeat(Math.max(0, options.messageSize));

const events = {
  onChat(body: string, at: number): void {
    const space = body.indexOf(' ');
    const seq = Number(body.slice(0, space));
    const sentAt = pending.get(seq);
    if (sentAt === undefined) {
      if (Number.isInteger(seq) && seq >= 0 && seq < sent) duplicates++;
      else unknown++;
      return;
    }
    pending.delete(seq);
    delivered++;
    latencyMs.push(at - sentAt);
  },
  onBounce(stanza: Element): void {
    const seq = Number((stanza.attrs.id ?? '').slice(1));
    if (pending.delete(seq)) bounced++;
    else unknown++;
  },
  onLost(session: LoadSession, reason: string): void {
    count(lostSessions, reason);
    forget(session);
  },
};

function forget(session: LoadSession): void {
  const i = online.indexOf(session);
  if (i === -1) return;
  online[i] = online[online.length - 1] as LoadSession;
  online.pop();
  if (byBare.get(session.bare) === session) byBare.delete(session.bare);
}

function pick<T>(list: readonly T[]): T | undefined {
  return list[Math.floor(Math.random() * list.length)];
}

/** A random online roster contact of the sender, or a random online user when none is found quickly. */
function recipientFor(sender: LoadSession): LoadSession | undefined {
  for (let tries = 0; tries < 4; tries++) {
    const contact = byBare.get(pick(sender.contacts) ?? '');
    if (contact && contact !== sender) return contact;
  }
  for (let tries = 0; tries < 4; tries++) {
    const other = pick(online);
    if (other && other !== sender) return other;
  }
  return undefined;
}

function sendOne(): boolean {
  const sender = pick(online);
  const recipient = sender && recipientFor(sender);
  if (!sender || !recipient) return false;
  const seq = sent++;
  const now = performance.now();
  pending.set(seq, now);
  // "<seq> <send time, ms>" then padding up to --message-size characters.
  const head = `${seq} ${now.toFixed(3)} `;
  sender.sendChat(recipient.bare, `m${seq}`, head + padding.slice(head.length));
  return true;
}

// ---- phases ----

const phases: Record<string, number> = {};
const progress = setInterval(() => {
  process.stderr.write(
    `[xmpp-load] online ${online.length}, logins ${loginMs.length}, failed ${[...loginFailures.values()].reduce((a, b) => a + b, 0)}, ` +
      `lost ${[...lostSessions.values()].reduce((a, b) => a + b, 0)}, sent ${sent}, delivered ${delivered}, bounced ${bounced}\n`,
  );
}, 5000);

async function arrivals(): Promise<void> {
  phases.arrivals_start = wallSeconds();
  const started = performance.now();
  const logins: Promise<void>[] = [];
  for (let i = 0; i < options.users; i++) {
    const due = started + (i * 1000) / options.arrivalRate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const username = `${options.prefix}${options.first + i}`;
    logins.push(
      LoadSession.login(targets[i % targets.length] as LoadTarget, username, options.password, 'xmpp-load', events).then(
        (session) => {
          loginMs.push(session.timings.login);
          loginTotalMs.push(session.timings.total);
          phases.last_login = wallSeconds();
          if (session.lost !== undefined) return;
          online.push(session);
          byBare.set(session.bare, session);
          sessionsMax = Math.max(sessionsMax, online.length);
        },
        (err: unknown) => count(loginFailures, err instanceof Error ? err.message : String(err)),
      ),
    );
  }
  await Promise.all(logins);
  phases.arrivals_end = wallSeconds();
}

async function steady(): Promise<void> {
  phases.steady_start = wallSeconds();
  const start = performance.now();
  const end = start + options.holdSeconds * 1000;
  if (options.rate <= 0) {
    await sleep(options.holdSeconds * 1000);
  } else {
    // Messages due by now at the aggregate rate, sent in small batches every few milliseconds.
    let skipped = 0;
    for (let now = performance.now(); now < end; now = performance.now()) {
      const due = Math.floor(((now - start) / 1000) * options.rate);
      while (sent + skipped < due) if (!sendOne()) skipped++;
      await sleep(2);
    }
    if (skipped > 0) process.stderr.write(`[xmpp-load] ${skipped} messages not sent: no online recipient\n`);
  }
  phases.steady_end = wallSeconds();
  phases.sessions_at_steady_end = online.length;
}

async function drain(): Promise<void> {
  const until = performance.now() + options.drainSeconds * 1000;
  while (pending.size > 0 && performance.now() < until) await sleep(50);
  phases.drained = wallSeconds();
}

async function logout(): Promise<void> {
  phases.close_start = wallSeconds();
  for (const session of [...online]) session.close();
  await sleep(2000);
  for (const session of online.splice(0)) session.destroy();
  agent?.destroy();
}

process.stderr.write(
  `[xmpp-load] ${options.scenario} over ${options.transport}: ${options.users} users at ${options.arrivalRate}/s, ` +
    `${options.holdSeconds} s steady${options.rate > 0 ? ` at ${options.rate} msg/s` : ''}, ${options.host}:${options.ports.join(',')}\n`,
);
await arrivals();
await sleep(options.settleSeconds * 1000);
await steady();
if (options.rate > 0) await drain();
// XEP-0198, before logging out: how many acks the server gave, and stanzas it had not acknowledged a second
// after a last <r/>.
if (options.streamManagement) {
  for (const session of online) session.requestAck();
  await sleep(1000);
}
const streamManagement = options.streamManagement
  ? {
      sessions: online.filter((s) => s.sm.enabled).length,
      acks: online.reduce((n, s) => n + s.sm.acks, 0),
      unacked_at_end: online.reduce((n, s) => n + ((s.sm.outbound - s.sm.acked + 2 ** 32) % 2 ** 32), 0),
    }
  : undefined;
await logout();
clearInterval(progress);

const results = {
  scenario: options.scenario,
  transport: options.transport,
  users: options.users,
  arrival_rate: options.arrivalRate,
  rate: options.rate,
  hold_s: options.holdSeconds,
  bosh: options.transport === 'bosh' ? { wait: options.boshWait, hold: options.boshHold } : undefined,
  phases,
  sessions_max: sessionsMax,
  logins: loginMs.length,
  login_ms: loginMs,
  login_total_ms: loginTotalMs,
  login_failures: Object.fromEntries(loginFailures),
  lost_sessions: Object.fromEntries(lostSessions),
  bosh_resends: Object.fromEntries(boshResends),
  messages: { sent, delivered, bounced, unaccounted: pending.size, duplicates, unknown },
  stream_management: streamManagement,
  latency_ms: latencyMs,
};
if (options.results !== undefined) writeFileSync(options.results, JSON.stringify(results) + '\n');
process.stderr.write(
  `[xmpp-load] done: ${loginMs.length}/${options.users} logged in, sessions max ${sessionsMax}, messages sent ${sent}, ` +
    `delivered ${delivered}, bounced ${bounced}, unaccounted ${pending.size}, duplicates ${duplicates}` +
    (streamManagement ? `, SM sessions ${streamManagement.sessions}, acks ${streamManagement.acks}, unacked at end ${streamManagement.unacked_at_end}` : '') +
    '\n',
);
process.exit(0);
