// Commands about the running server: its sessions and its status. They run only inside the
// server, through the admin API; without a server `status` says "not running" (exit status 3,
// as ejabberdctl's) and the session commands fail naming the data directory.
import { ServerError } from '../errors.js';
import {
  parseJid,
  parseUserJid,
  requiredArg,
  servedDomain,
  stringOption,
  type JsonValue,
  type ServerCommand,
} from './command.js';
import { NODE_ANSWER_MS } from './cluster-sessions.js';
import type { LiveSession } from './live.js';
import { reportLines } from '../runtime/reload.js';
import { VERSION } from '../version.js';

function sessionLine(s: LiveSession): string {
  return [s.jid, s.transport, s.remoteAddress, new Date(s.since).toISOString(), s.availability, String(s.priority), s.node].join('\t');
}

function sessionData(s: LiveSession): JsonValue {
  return { jid: s.jid, transport: s.transport, remoteAddress: s.remoteAddress, since: new Date(s.since).toISOString(), availability: s.availability, priority: s.priority, node: s.node };
}

export const sessionList: ServerCommand = {
  name: 'session list',
  runs: 'server',
  summary: 'List the sessions bound on the running server (every node of a cluster).',
  usage: 'session list [--user <jid>]',
  details: [
    'One session a line, tab-separated: full JID, transport (tcp, websocket, bosh), remote address,',
    'bound since (UTC), availability (available, chat, away, xa, dnd, or unavailable before initial',
    'presence), presence priority and the node it is bound on. In a cluster every live node is asked; one',
    'that does not answer within 3 s is named on stderr (its sessions missing, the others\' listed).',
    'Needs a running server.',
  ],
  args: [],
  options: [{ name: 'user', takesValue: true, valueName: 'jid', summary: 'Only the sessions of this account (user@domain or user)' }],
  async run(ctx, input) {
    const user = stringOption(input, 'user');
    const bare = user === undefined ? undefined : parseUserJid(user, ctx.config.domain).jid;
    const { sessions, unanswered } = await ctx.live.sessions(bare);
    for (const node of unanswered) ctx.notice(`ratatosk: node ${node} did not answer within ${NODE_ANSWER_MS / 1000} s: its sessions are not listed`);
    return { exitCode: 0, lines: sessions.map(sessionLine), data: { sessions: sessions.map(sessionData), unanswered } };
  },
};

export const sessionKick: ServerCommand = {
  name: 'session kick',
  runs: 'server',
  summary: 'Disconnect one session.',
  usage: 'session kick <full-jid> [--reason <text>]',
  details: [
    'Closes the session with the stream error <policy-violation/>, the reason as its text, on whichever',
    'node of a cluster holds it. A client may reconnect at once unless its account is deleted or its',
    'password changed. Needs a running server.',
  ],
  args: [{ name: 'full-jid', required: true, summary: 'user@domain/resource, as "session list" shows it' }],
  options: [{ name: 'reason', takesValue: true, valueName: 'text', summary: 'Text sent to the client with the stream error' }],
  async run(ctx, input) {
    const raw = requiredArg(input, 'full-jid', this);
    const jid = parseJid(raw);
    const served = servedDomain(ctx.config);
    if (jid.local === '' || jid.isBare) throw new ServerError('INVALID_JID', `"${raw}" is not a full JID: give user@${served}/resource, as "session list" shows it`);
    if (jid.domain !== served) throw new ServerError('WRONG_DOMAIN', `"${raw}" is not on this server: it serves ${served}`);
    const reason = stringOption(input, 'reason');
    const full = jid.toString();
    if (!(await ctx.live.kick(full, reason === '' ? undefined : reason))) throw new ServerError('SESSION_NOT_FOUND', `no session ${full} on this server`);
    return { exitCode: 0, lines: [`kicked ${full}`], data: { jid: full } };
  },
};

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return d > 0 ? `${d}d ${h}h ${m}m ${s}s` : h > 0 ? `${h}h ${m}m ${s}s` : m > 0 ? `${m}m ${s}s` : `${s}s`;
}

export const status: ServerCommand = {
  name: 'status',
  runs: 'server',
  summary: 'Show whether the server runs, and its node, version, sessions, uptime, store and ports.',
  usage: 'status',
  details: ['Exit status 0 when a server answers for the data directory, 3 ("not running") when none does.'],
  args: [],
  options: [],
  whenStopped(ctx) {
    return { exitCode: 3, lines: ['not running'], data: { running: false, dataDir: ctx.config.dataDir } };
  },
  async run(ctx) {
    const live = ctx.live;
    const stats = live.stats();
    const uptime = Math.max(0, Math.round((Date.now() - live.startedAt) / 1000));
    const transports = Object.entries(stats.byTransport).map(([t, n]) => `${t} ${n}`).join(', ');
    const ports = Object.entries(live.ports).map(([name, port]) => `${name} ${port < 0 ? 'off' : port}`).join(', ');
    const modules = live.modules();
    return {
      exitCode: 0,
      lines: [
        `running: node ${live.nodeId}, domain ${servedDomain(ctx.config)}`,
        `version: ${VERSION}`,
        `uptime: ${duration(uptime)} (since ${new Date(live.startedAt).toISOString()})`,
        `sessions: ${stats.sessions} (${transports})`,
        `store: ${live.storeKind}`,
        `ports: ${ports}`,
        `modules: ${modules.join(', ')}`,
        `memory: rss ${mib(stats.memory.rss)} MiB, heap ${mib(stats.memory.heapUsed)} of ${mib(stats.memory.heapTotal)} MiB, external ${mib(stats.memory.external)} MiB`,
      ],
      data: {
        running: true,
        version: VERSION,
        nodeId: live.nodeId,
        domain: servedDomain(ctx.config),
        startedAt: new Date(live.startedAt).toISOString(),
        uptimeSeconds: uptime,
        sessions: stats.sessions,
        byTransport: { ...stats.byTransport },
        store: live.storeKind,
        ports: { ...live.ports },
        modules,
        memory: { ...stats.memory },
      },
    };
  },
};

export const reload: ServerCommand = {
  name: 'reload',
  runs: 'server',
  summary: 'Make the running server read its configuration again (as SIGHUP does).',
  usage: 'reload',
  details: [
    'The server reads its configuration file as at start (environment variables still win) and applies',
    'what can change while it runs: log_level, admins, [limits], the stanza size limits, the TLS certificate',
    '(new files at the same paths too) and the module keys that say so (README "Reloading"). Prints the keys',
    'applied and those that need a restart (the server keeps their old values). A file that does not load',
    'changes nothing: exit status 1 with the reason. Needs a running server.',
  ],
  args: [],
  options: [],
  async run(ctx) {
    const reloadNow = ctx.live.reload;
    if (reloadNow === undefined) throw new ServerError('RELOAD_UNAVAILABLE', 'this server cannot reload its configuration');
    const report = await reloadNow();
    return {
      exitCode: 0,
      lines: reportLines(report),
      data: { applied: report.applied, needsRestart: report.needsRestart, ...(report.certificate === undefined ? {} : { certificate: report.certificate }) },
    };
  },
};

const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);
