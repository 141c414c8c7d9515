// The soak's load and its sampler, in one process (loadtest/soak/run starts it against a built server):
//
//   npx tsx loadtest/soak/generator.ts --http-port P --c2s-port P --server-pid PID --out DIR [--duration 3600] ...
//
// Load (README.md has the figures and why): a stable population logged in for the whole run and a churning one
// (one logout and one login every --churn-interval-ms), over WebSocket (RFC 7395), BOSH (XEP-0124/0206) and TCP
// (RFC 6120), each session the xmpp-load client (../xmpp-load/session.ts: SASL PLAIN, bind, session, roster,
// initial presence); one-to-one chat to online stable users (RFC 6121 §5), presence updates with <show/> and
// <status/> (RFC 6121 §4.4, broadcast to the contacts), and MUC (XEP-0045 §7.2 enter, §7.4 groupchat, §7.14 exit)
// with members entering and leaving rooms. Every chat message and every groupchat copy is accounted for.
//
// Sampler: every --sample-seconds, the server's VmRSS and open fds from /proc/PID, its /metrics (prom-client's
// nodejs_* and ratatosk_sessions) and this process's counters, one CSV line each (DIR/samples.csv).
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { xml, type Element } from '../../src/xml/element.js';
import { boshAgent } from '../xmpp-load/bosh-wire.js';
import { LoadSession, type LoadTarget, type LoadTransport } from '../xmpp-load/session.js';

const { values: args } = parseArgs({
  strict: true,
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    'http-port': { type: 'string' },
    'c2s-port': { type: 'string' },
    'server-pid': { type: 'string' },
    out: { type: 'string' },
    domain: { type: 'string', default: 'soak.test' },
    prefix: { type: 'string', default: 'soak' },
    password: { type: 'string', default: 'soakpass' },
    stable: { type: 'string', default: '600' },
    churn: { type: 'string', default: '200' },
    'churn-users': { type: 'string', default: '400' },
    'churn-interval-ms': { type: 'string', default: '500' },
    'roster-size': { type: 'string', default: '10' },
    'ramp-rate': { type: 'string', default: '25' },
    'chat-rate': { type: 'string', default: '30' },
    'presence-rate': { type: 'string', default: '5' },
    rooms: { type: 'string', default: '10' },
    'muc-members': { type: 'string', default: '120' },
    'muc-rate': { type: 'string', default: '5' },
    'muc-turnover-ms': { type: 'string', default: '2000' },
    duration: { type: 'string', default: '3600' },
    baseline: { type: 'string', default: '30' },
    settle: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '600' },
    after: { type: 'string', default: '60' },
    'sample-seconds': { type: 'string', default: '10' },
  },
});

function fail(message: string): never {
  process.stderr.write(`soak: ${message}\n`);
  process.exit(2);
}
const num = (name: keyof typeof args, min = 0): number => {
  const raw = args[name];
  const n = Number(raw);
  if (typeof raw !== 'string' || !Number.isFinite(n) || n < min) fail(`--${name} must be a number >= ${min}, got "${String(raw)}"`);
  return n;
};
const HTTP_PORT = num('http-port', 1);
const C2S_PORT = num('c2s-port', 1);
const SERVER_PID = num('server-pid', 1);
const OUT = args.out ?? fail('--out DIR is required');
const DOMAIN = args.domain;
const MUC_DOMAIN = `conference.${DOMAIN}`;
const STABLE = num('stable', 1);
const CHURN = num('churn');
const CHURN_USERS = num('churn-users');
if (CHURN > 0 && CHURN_USERS <= CHURN) fail('--churn-users must be larger than --churn (a user logs in again only after logging out)');
const CHURN_INTERVAL_MS = num('churn-interval-ms', 10);
const ROSTER_SIZE = num('roster-size');
const RAMP_RATE = num('ramp-rate', 0.1);
const CHAT_RATE = num('chat-rate');
const PRESENCE_RATE = num('presence-rate');
const ROOMS = num('rooms');
const MUC_MEMBERS = Math.min(num('muc-members'), STABLE);
const MUC_RATE = num('muc-rate');
const MUC_TURNOVER_MS = num('muc-turnover-ms', 10);
const DURATION_S = num('duration', 1);
const SAMPLE_MS = num('sample-seconds', 1) * 1000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(list: readonly T[]): T | undefined => list[Math.floor(Math.random() * list.length)];
const log = (line: string): void => void process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

// ---- transports: 6 in 10 sessions over WebSocket, 3 over BOSH, 1 over TCP ----

const agent = boshAgent();
const transportOf = (i: number): LoadTransport => (i % 10 < 6 ? 'websocket' : i % 10 < 9 ? 'bosh' : 'tcp');
const targetFor = (transport: LoadTransport): LoadTarget => ({
  transport,
  host: args.host,
  port: transport === 'tcp' ? C2S_PORT : HTTP_PORT,
  domain: DOMAIN,
  timeoutMs: 60_000,
  rosterSize: ROSTER_SIZE,
  bosh: { path: '/http-bind', wait: 60, hold: 1, agent, onResend: (reason) => countReason(boshResends, reason) },
});

// ---- counters ----

const counters = {
  logins: 0,
  loginFailures: 0,
  logouts: 0,
  lost: 0,
  chatSent: 0,
  chatDelivered: 0,
  chatBounced: 0,
  chatDuplicates: 0,
  chatUnknown: 0,
  presenceSent: 0,
  presenceReceived: 0,
  mucJoins: 0,
  mucJoinFailures: 0,
  mucLeaves: 0,
  mucSent: 0,
  mucExpected: 0,
  mucDelivered: 0,
  /** A copy not received by a member that left the room after the message was sent (the server may see the exit first). */
  mucMissedByLeaver: 0,
  /** A copy to a session no longer expecting it (entered after, or the exit already seen). */
  mucExtra: 0,
  mucErrors: 0,
  mucPresence: 0,
};
const failureReasons = new Map<string, number>();
const lostReasons = new Map<string, number>();
/** BOSH requests sent again, same rid, after a reset pooled connection (see bosh-wire.ts). */
const boshResends = new Map<string, number>();
const mucErrorSamples: string[] = [];
const countReason = (map: Map<string, number>, reason: string): void => void map.set(reason.slice(0, 160), (map.get(reason.slice(0, 160)) ?? 0) + 1);

// ---- the population ----

interface Member {
  room: string;
  nick: string;
  state: 'joining' | 'joined' | 'leaving';
  /** Groupchat sequence numbers this member should still receive. */
  owed: Set<number>;
  onJoined?: (error?: string) => void;
}

interface Online {
  session: LoadSession;
  kind: 'stable' | 'churn';
  user: number;
  index: number;
  member?: Member;
}

const online: Online[] = [];
const bySession = new Map<LoadSession, Online>();
const stableByBare = new Map<string, Online>();
const churnQueue: Online[] = [];
const freeChurnUsers: number[] = [];
for (let u = STABLE + 1; u <= STABLE + CHURN_USERS; u++) freeChurnUsers.push(u);
let loginIndex = 0;
let phase = 'start';

function remove(entry: Online): void {
  const i = online.indexOf(entry);
  if (i !== -1) {
    online[i] = online[online.length - 1] as Online;
    online.pop();
  }
  bySession.delete(entry.session);
  if (stableByBare.get(entry.session.bare) === entry) stableByBare.delete(entry.session.bare);
  const q = churnQueue.indexOf(entry);
  if (q !== -1) churnQueue.splice(q, 1);
  if (entry.kind === 'churn') freeChurnUsers.push(entry.user);
  if (entry.member) dropMember(entry, 'gone');
}

async function login(kind: 'stable' | 'churn', user: number): Promise<Online | undefined> {
  const index = loginIndex++;
  try {
    const session = await LoadSession.login(targetFor(transportOf(index)), `${args.prefix}${user}`, args.password, `soak${index}`, events);
    counters.logins++;
    if (session.lost !== undefined) return undefined;
    const entry: Online = { session, kind, user, index };
    online.push(entry);
    bySession.set(session, entry);
    if (kind === 'stable') stableByBare.set(session.bare, entry);
    else churnQueue.push(entry);
    return entry;
  } catch (err) {
    counters.loginFailures++;
    countReason(failureReasons, err instanceof Error ? err.message : String(err));
    if (kind === 'churn') freeChurnUsers.push(user);
    return undefined;
  }
}

// ---- one-to-one chat: sender any online session, recipient an online stable user (a contact when one is) ----

const pendingChat = new Map<number, number>();

function sendChat(): void {
  const sender = pick(online);
  if (!sender) return;
  let recipient: Online | undefined;
  for (let tries = 0; tries < 4 && !recipient; tries++) {
    const contact = stableByBare.get(pick(sender.session.contacts) ?? '');
    if (contact && contact !== sender) recipient = contact;
  }
  for (let tries = 0; tries < 4 && !recipient; tries++) {
    const other = pick(online);
    if (other && other !== sender && other.kind === 'stable') recipient = other;
  }
  if (!recipient) return;
  const seq = counters.chatSent++;
  pendingChat.set(seq, performance.now());
  sender.session.sendChat(recipient.session.bare, `c${seq}`, `c${seq} soak chat message of modest size, about one line`);
}

// ---- presence updates (RFC 6121 §4.4): show and status, broadcast by the server to the contacts ----

const SHOWS = ['away', 'chat', 'dnd', 'xa', ''];
function sendPresence(): void {
  const who = pick(online);
  if (!who) return;
  const show = pick(SHOWS) ?? '';
  const children = [xml('status', null, `soak status ${counters.presenceSent}`)];
  if (show !== '') children.push(xml('show', null, show));
  who.session.sendStanza(xml('presence', null, ...children));
  counters.presenceSent++;
}

// ---- MUC ----

const roomJids = Array.from({ length: ROOMS }, (_, i) => `soakroom${i + 1}@${MUC_DOMAIN}`);
/** Joined members per room, the expected receivers of a groupchat message sent now. */
const joined = new Map<string, Set<Online>>(roomJids.map((r) => [r, new Set<Online>()]));
let mucSeq = 0;
const MUC_NS = 'http://jabber.org/protocol/muc';

function enterRoom(entry: Online, room: string): Promise<string | undefined> {
  const nick = `n${entry.index}`;
  return new Promise((resolve) => {
    const member: Member = { room, nick, state: 'joining', owed: new Set(), onJoined: (error) => resolve(error) };
    entry.member = member;
    entry.session.sendStanza(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: MUC_NS }, xml('history', { maxstanzas: '0' }))));
    setTimeout(() => {
      if (member.onJoined) {
        member.onJoined = undefined;
        dropMember(entry, 'timeout');
        resolve('no self-presence within 30 s');
      }
    }, 30_000);
  });
}

function leaveRoom(entry: Online): void {
  const member = entry.member;
  if (!member || member.state !== 'joined') return;
  member.state = 'leaving';
  joined.get(member.room)?.delete(entry);
  entry.session.sendStanza(xml('presence', { to: `${member.room}/${member.nick}`, type: 'unavailable' }));
  counters.mucLeaves++;
}

/** The member is out (exit confirmed, session gone, or the entry failed): copies still owed were not delivered. */
function dropMember(entry: Online, why: 'left' | 'gone' | 'timeout'): void {
  const member = entry.member;
  if (!member) return;
  entry.member = undefined;
  joined.get(member.room)?.delete(entry);
  for (const seq of member.owed) {
    owedCopies.get(seq)?.delete(entry);
    if (why === 'left') counters.mucMissedByLeaver++;
  }
  // A session lost in a room leaves its copies unaccounted: they stay in the summary as 'mucOwedAtLoss'.
  if (why === 'gone') mucOwedAtLoss += member.owed.size;
}
let mucOwedAtLoss = 0;
/** Groupchat sequence number -> members that should still receive it. */
const owedCopies = new Map<number, Set<Online>>();

function sendGroupchat(): void {
  const room = pick(roomJids);
  const members = room ? [...(joined.get(room) ?? [])] : [];
  const sender = pick(members);
  if (!room || !sender) return;
  const seq = mucSeq++;
  owedCopies.set(seq, new Set(members));
  for (const m of members) m.member?.owed.add(seq);
  counters.mucSent++;
  counters.mucExpected += members.length;
  sender.session.sendStanza(xml('message', { to: room, type: 'groupchat', id: `g${seq}` }, xml('body', null, `g${seq} soak groupchat line`)));
}

function onMucStanza(entry: Online, el: Element): boolean {
  const from = el.attrs.from ?? '';
  const room = from.split('/')[0] ?? '';
  if (!room.endsWith(`@${MUC_DOMAIN}`) && from !== MUC_DOMAIN) return false;
  const member = entry.member;
  if (el.name === 'message') {
    if (el.attrs.type === 'error') {
      counters.mucErrors++;
      if (mucErrorSamples.length < 10) mucErrorSamples.push(el.toString().slice(0, 300));
      return true;
    }
    const body = el.getChildText('body');
    if (body === null) return true; // the room subject on entry
    const seq = Number(body.slice(1, body.indexOf(' ')));
    if (member && member.owed.delete(seq)) {
      owedCopies.get(seq)?.delete(entry);
      if (owedCopies.get(seq)?.size === 0) owedCopies.delete(seq);
      counters.mucDelivered++;
    } else counters.mucExtra++;
    return true;
  }
  if (el.name === 'presence') {
    const x = el.getChild('x', `${MUC_NS}#user`);
    const self = x?.getChildren('status').some((s) => s.attrs.code === '110') ?? false;
    if (!member || member.room !== room) return true;
    if (el.attrs.type === 'error') {
      counters.mucErrors++;
      if (mucErrorSamples.length < 10) mucErrorSamples.push(el.toString().slice(0, 300));
      if (member.state === 'joining') {
        const done = member.onJoined;
        member.onJoined = undefined;
        dropMember(entry, 'timeout');
        done?.(`entry refused: ${el.toString().slice(0, 200)}`);
      }
      return true;
    }
    if (!self) {
      counters.mucPresence++;
      return true;
    }
    if (el.attrs.type === 'unavailable') {
      dropMember(entry, 'left');
      return true;
    }
    if (member.state === 'joining') {
      const created = x?.getChildren('status').some((s) => s.attrs.code === '201') ?? false;
      if (created) {
        // XEP-0045 §10.1.2: accept the default configuration (an instant room) so others can enter.
        entry.session.sendStanza(xml('iq', { type: 'set', to: room, id: 'instant' }, xml('query', { xmlns: `${MUC_NS}#owner` }, xml('x', { xmlns: 'jabber:x:data', type: 'submit' }))));
        return true;
      }
      markJoined(entry, member);
    }
    return true;
  }
  if (el.name === 'iq' && el.attrs.id === 'instant' && member?.state === 'joining') {
    if (el.attrs.type === 'result') markJoined(entry, member);
    else {
      const done = member.onJoined;
      member.onJoined = undefined;
      dropMember(entry, 'timeout');
      done?.(`instant room refused: ${el.toString().slice(0, 200)}`);
    }
    return true;
  }
  return false;
}

function markJoined(entry: Online, member: Member): void {
  member.state = 'joined';
  joined.get(member.room)?.add(entry);
  const done = member.onJoined;
  member.onJoined = undefined;
  done?.();
}

async function join(entry: Online, room: string): Promise<void> {
  const error = await enterRoom(entry, room);
  if (error === undefined) counters.mucJoins++;
  else {
    counters.mucJoinFailures++;
    countReason(failureReasons, `muc: ${error}`);
  }
}

/** One member out of a room that keeps at least three, one stable session not in a room into a random room. */
function mucTurnover(): void {
  const rooms = roomJids.filter((r) => (joined.get(r)?.size ?? 0) > 3);
  const room = pick(rooms);
  const leaver = room ? pick([...(joined.get(room) ?? [])]) : undefined;
  if (leaver) leaveRoom(leaver);
  const candidates = online.filter((o) => o.kind === 'stable' && !o.member);
  const joiner = pick(candidates);
  const target = pick(roomJids);
  if (joiner && target) void join(joiner, target);
}

// ---- session events ----

const events = {
  onChat(body: string): void {
    if (!body.startsWith('c')) return void counters.chatUnknown++;
    const seq = Number(body.slice(1, body.indexOf(' ')));
    if (pendingChat.delete(seq)) counters.chatDelivered++;
    else if (seq < counters.chatSent) counters.chatDuplicates++;
    else counters.chatUnknown++;
  },
  onBounce(stanza: Element): void {
    const seq = Number((stanza.attrs.id ?? '').slice(1));
    if (pendingChat.delete(seq)) counters.chatBounced++;
    else counters.chatUnknown++;
  },
  onLost(session: LoadSession, reason: string): void {
    counters.lost++;
    const entry = bySession.get(session);
    // Which transport lost it, and who: a single loss in an hour is otherwise impossible to trace.
    const transport = entry ? transportOf(entry.index) : 'unknown transport';
    countReason(lostReasons, `${transport}: ${reason}`);
    log(`session lost: ${session.bare}/soak${entry?.index ?? '?'} (${entry?.kind ?? 'not yet online'}, ${transport}${entry?.member ? `, in ${entry.member.room}` : ''}): ${reason}`);
    if (!entry) return;
    remove(entry);
    // The stable population stays stable: the user logs in again.
    if (entry.kind === 'stable' && phase !== 'logout') void login('stable', entry.user);
  },
  onStanza(session: LoadSession, el: Element): boolean {
    const entry = bySession.get(session);
    if (!entry) return false;
    if (onMucStanza(entry, el)) return true;
    if (el.name === 'presence') counters.presenceReceived++;
    return false;
  },
};

// ---- the sampler ----

const SAMPLES = `${OUT}/samples.csv`;
const COLUMNS = [
  't', 'phase', 'rss_kib', 'rss_anon_kib', 'rss_file_kib', 'fds', 'heap_used', 'heap_code_used', 'heap_new_used', 'heap_total', 'external', 'array_buffers', 'lag_p99_s', 'lag_mean_s', 'handles',
  'server_sessions', 'online', 'stable', 'churn', 'muc_members', ...Object.keys(counters), 'chat_pending', 'muc_owed', 'gen_lag_p99_ms', 'gen_rss_kib',
];
writeFileSync(SAMPLES, COLUMNS.join(',') + '\n');
const generatorLag = monitorEventLoopDelay({ resolution: 20 });
generatorLag.enable();

/** The code spaces' used bytes as one figure of their own, and the young generation's (new space). */
function codeAware(name: string, labels: string): string {
  if (name !== 'nodejs_heap_space_size_used_bytes') return name;
  if (/space="code(_large_object)?"/.test(labels)) return 'heap_code_used';
  return /space="new"/.test(labels) ? 'heap_new_used' : name;
}

async function metrics(): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  try {
    const response = await fetch(`http://${args.host}:${HTTP_PORT}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) return found;
    for (const line of (await response.text()).split('\n')) {
      if (line.startsWith('#') || line === '') continue;
      // name{labels} value: the figures used here have no labels, or are summed over them; of the heap spaces,
      // the two that hold compiled code are summed apart (the JIT's output grows with the run, not with sessions).
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
      if (!match) continue;
      const labels = match[2] ?? '';
      const name = codeAware(match[1] as string, labels);
      const value = Number(match[3]);
      if (Number.isFinite(value)) found.set(name, (found.get(name) ?? 0) + value);
    }
  } catch {
    // No /metrics (an older server) or a slow answer: those columns stay empty for this sample.
  }
  return found;
}

/**
 * A loop-delay figure with the sampling interval taken out: each of prom-client's samples is the interval between
 * two timer callbacks ([metrics] event_loop_sample_ms, exported as ratatosk_event_loop_sample_seconds).
 */
function lagBeyondSampling(m: ReadonlyMap<string, number>, name: string): number | undefined {
  const lag = m.get(name);
  return lag === undefined ? undefined : Math.max(0, lag - (m.get('ratatosk_event_loop_sample_seconds') ?? 0));
}

interface ProcFigures {
  rss?: number;
  anon?: number;
  file?: number;
  fds?: number;
}
function procFigures(): ProcFigures {
  try {
    const status = readFileSync(`/proc/${SERVER_PID}/status`, 'utf8');
    const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
    return { rss: kib('VmRSS'), anon: kib('RssAnon'), file: kib('RssFile'), fds: readdirSync(`/proc/${SERVER_PID}/fd`).length };
  } catch {
    return {};
  }
}

const fmt = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '' : String(n));
async function sample(): Promise<void> {
  const started = Date.now();
  const m = await metrics();
  const { rss, anon, file, fds } = procFigures();
  const members = [...joined.values()].reduce((n, s) => n + s.size, 0);
  let owed = 0;
  for (const s of owedCopies.values()) owed += s.size;
  const row = [
    (started / 1000).toFixed(1), phase, fmt(rss), fmt(anon), fmt(file), fmt(fds),
    fmt(m.get('nodejs_heap_size_used_bytes')), fmt(m.get('heap_code_used')), fmt(m.get('heap_new_used')), fmt(m.get('nodejs_heap_size_total_bytes')), fmt(m.get('nodejs_external_memory_bytes')),
    fmt(m.get('nodejs_array_buffers_bytes')),
    fmt(lagBeyondSampling(m, 'nodejs_eventloop_lag_p99_seconds')), fmt(lagBeyondSampling(m, 'nodejs_eventloop_lag_mean_seconds')), fmt(m.get('nodejs_active_handles_total')),
    fmt(m.get('ratatosk_sessions')), String(online.length), String(online.filter((o) => o.kind === 'stable').length), String(churnQueue.length),
    String(members), ...Object.values(counters).map(String), String(pendingChat.size), String(owed),
    (generatorLag.percentile(99) / 1e6).toFixed(1), String(Math.round(process.memoryUsage().rss / 1024)),
  ];
  generatorLag.reset();
  appendFileSync(SAMPLES, row.join(',') + '\n');
}

let sampling = true;
const sampler = (async () => {
  for (let next = Date.now(); sampling; ) {
    await sample();
    next += SAMPLE_MS;
    await sleep(Math.max(0, next - Date.now()));
  }
})();
const progress = setInterval(() => {
  log(
    `${phase}: online ${online.length}, logins ${counters.logins} (failed ${counters.loginFailures}, lost ${counters.lost}), chat ${counters.chatDelivered}/${counters.chatSent}, ` +
      `muc ${counters.mucDelivered}/${counters.mucExpected} (${counters.mucSent} sent, ${[...joined.values()].reduce((n, s) => n + s.size, 0)} members), presence ${counters.presenceSent}`,
  );
}, 60_000);

// ---- phases ----

const phases: Record<string, number> = {};
const mark = (name: string): void => {
  phase = name;
  phases[name] = Date.now() / 1000;
  log(`phase ${name}`);
};

/** Runs `tick` `rate` times a second on average until `until` (ms, performance.now()), in batches every 10 ms. */
async function steadyRate(rate: number, until: number, tick: () => void): Promise<void> {
  if (rate <= 0) return;
  const start = performance.now();
  let done = 0;
  while (performance.now() < until) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    while (done < due) {
      tick();
      done++;
    }
    await sleep(10);
  }
}

async function ramp(count: number, kind: 'stable' | 'churn'): Promise<void> {
  const started = performance.now();
  const logins: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = started + (i * 1000) / RAMP_RATE - performance.now();
    if (wait > 1) await sleep(wait);
    const user = kind === 'stable' ? i + 1 : freeChurnUsers.shift();
    if (user !== undefined) logins.push(login(kind, user));
  }
  await Promise.all(logins);
}

async function churnLoop(until: number): Promise<void> {
  let next = performance.now();
  while (performance.now() < until) {
    next += CHURN_INTERVAL_MS;
    const oldest = churnQueue.shift();
    if (oldest) {
      remove(oldest);
      oldest.session.close();
      counters.logouts++;
      // The connection is gone for good after a few seconds whatever the server did with the close.
      setTimeout(() => oldest.session.destroy(), 5000);
    }
    const user = freeChurnUsers.shift();
    if (user !== undefined) void login('churn', user);
    await sleep(Math.max(0, next - performance.now()));
  }
}

mark('baseline');
await sleep(num('baseline') * 1000);
mark('ramp');
await ramp(STABLE, 'stable');
await ramp(CHURN, 'churn');
// Rooms: a first member creates each (one at a time), then the others enter.
const stables = online.filter((o) => o.kind === 'stable');
for (const [i, room] of roomJids.entries()) {
  const creator = stables[i];
  if (creator) await join(creator, room);
}
await Promise.all(stables.slice(ROOMS, MUC_MEMBERS).map((entry, i) => join(entry, roomJids[i % ROOMS] as string)));
mark('settle');
await sleep(num('settle') * 1000);
// The warm-up carries the steady load itself; the measured hour starts when it ends (README.md, "What the figures mean").
const WARMUP_S = num('warmup');
mark(WARMUP_S > 0 ? 'warmup' : 'steady');
const steadyMark = WARMUP_S > 0 ? setTimeout(() => mark('steady'), WARMUP_S * 1000) : undefined;
const until = performance.now() + (WARMUP_S + DURATION_S) * 1000;
const turnover = setInterval(mucTurnover, MUC_TURNOVER_MS);
await Promise.all([
  churnLoop(until),
  steadyRate(CHAT_RATE, until, sendChat),
  steadyRate(PRESENCE_RATE, until, sendPresence),
  steadyRate(MUC_RATE, until, sendGroupchat),
]);
clearInterval(turnover);
clearTimeout(steadyMark);
mark('drain');
for (let waited = 0; waited < 30_000 && (pendingChat.size > 0 || owedCopies.size > 0); waited += 100) await sleep(100);
const unaccounted = { chat: pendingChat.size, muc: [...owedCopies.values()].reduce((n, s) => n + s.size, 0) };
mark('logout');
const leaving = [...online];
for (const entry of leaving) {
  remove(entry);
  entry.session.close();
  counters.logouts++;
}
await sleep(5000);
for (const entry of leaving) entry.session.destroy();
mark('after');
await sleep(num('after') * 1000);
mark('end');
sampling = false;
await sampler;
clearInterval(progress);
agent.destroy();

const generatorSummary = {
  options: args,
  phases,
  counters,
  unaccounted,
  muc_owed_at_session_loss: mucOwedAtLoss,
  login_failure_reasons: Object.fromEntries(failureReasons),
  lost_reasons: Object.fromEntries(lostReasons),
  bosh_resends: Object.fromEntries(boshResends),
  muc_error_samples: mucErrorSamples,
};
writeFileSync(`${OUT}/generator.json`, JSON.stringify(generatorSummary, null, 2) + '\n');
log(`done: ${JSON.stringify({ counters, unaccounted })}`);
process.exit(0);
