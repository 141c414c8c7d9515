// Commands about the login throttle (src/auth/throttle.ts): list the counters and locks, and clear
// them. They run inside the server, through the admin API; in a cluster on Redis they see and clear
// the cluster's counters (and this node's own, kept while Redis was unreachable).
import { isIP } from 'node:net';
import type { LoginThrottle, ThrottleEntry, UnlockTarget } from '../auth/throttle.js';
import { ServerError } from '../errors.js';
import { flag, parseUserJid, servedDomain, stringOption, UsageError, type JsonValue, type LiveContext, type ServerCommand } from './command.js';

function throttleOf(ctx: LiveContext): LoginThrottle {
  const throttle = ctx.live.loginThrottle;
  if (throttle === undefined) throw new ServerError('NO_LOGIN_THROTTLE', 'the running server does not expose its login throttle');
  return throttle;
}

const iso = (ms: number | undefined): string => (ms === undefined ? '-' : new Date(ms).toISOString());

function state(e: ThrottleEntry): 'locked' | 'delayed' | 'counting' {
  if (e.lockedUntil !== undefined) return 'locked';
  if (e.nextAttemptAt !== undefined) return 'delayed';
  return 'counting';
}

/** When the entry's state ends: the lock, the delay, or the counter itself. */
function until(e: ThrottleEntry): number {
  return e.lockedUntil ?? e.nextAttemptAt ?? e.expiresAt;
}

const ORDER = { locked: 0, delayed: 1, counting: 2 };

export const authLocks: ServerCommand = {
  name: 'auth locks',
  runs: 'server',
  summary: 'List the login throttle\'s locked accounts and counted failures.',
  usage: 'auth locks',
  details: [
    'One counter a line, tab-separated: account (user@domain, or - for an address\'s own counter),',
    'client address (or - for an account\'s counter over all addresses), failures counted, state',
    '(locked: the account refuses logins from addresses that have not logged in to it recently;',
    'delayed: the next attempt waits; counting), until when (UTC), and where the counter lives',
    '(cluster: Redis; node: this node alone). Locked entries first. Needs a running server.',
  ],
  args: [],
  options: [],
  async run(ctx) {
    const domain = servedDomain(ctx.config);
    const entries = (await throttleOf(ctx).list()).sort((x, y) => ORDER[state(x)] - ORDER[state(y)] || y.failures - x.failures);
    const rows = entries.map((e) => ({
      account: e.account === undefined ? '-' : `${e.account}@${domain}`,
      address: e.address ?? '-',
      failures: e.failures,
      state: state(e),
      until: iso(until(e)),
      scope: e.scope,
    }));
    const lines = rows.map((r) => [r.account, r.address, String(r.failures), r.state, r.until, r.scope].join('\t'));
    return { exitCode: 0, lines, data: { entries: rows satisfies JsonValue } };
  },
};

export const authUnlock: ServerCommand = {
  name: 'auth unlock',
  runs: 'server',
  summary: 'Clear the login throttle\'s failures and lock of an account, of a client address, or all.',
  usage: 'auth unlock <jid> | --address <ip> | --all',
  details: [
    'For an account: its lock and its failures from every address. For an address: its own delay and',
    'its failures on every account (an account it helped lock stays locked until unlocked by JID).',
    'Addresses that logged in to an account recently keep that exemption. Needs a running server.',
  ],
  args: [{ name: 'jid', required: false, summary: 'user@domain, or just user for the configured domain' }],
  options: [
    { name: 'address', takesValue: true, valueName: 'ip', summary: 'A client IP address, or an IPv6 /64 as "auth locks" shows it' },
    { name: 'all', takesValue: false, summary: 'Every counter and lock' },
  ],
  async run(ctx, input) {
    const jid = input.args.jid;
    const address = stringOption(input, 'address');
    const all = flag(input, 'all');
    if ([jid !== undefined, address !== undefined, all].filter(Boolean).length !== 1) {
      throw new UsageError('give exactly one of <jid>, --address <ip> or --all for "auth unlock"', this);
    }
    let target: UnlockTarget;
    let what: string;
    if (jid !== undefined) {
      const user = parseUserJid(jid, ctx.config.domain);
      target = { account: user.username };
      what = user.jid;
    } else if (address !== undefined) {
      // An IPv6 client counts by its /64, which `auth locks` shows as 2001:db8:0:1::/64.
      const valid = isIP(address) !== 0 || (address.endsWith('::/64') && isIP(address.slice(0, -3)) === 6);
      if (!valid) throw new UsageError(`option "--address" for "auth unlock" must be an IP address, got "${address}"`, this);
      target = { address };
      what = address;
    } else {
      target = { all: true };
      what = 'all';
    }
    const cleared = await throttleOf(ctx).unlock(target);
    return { exitCode: 0, lines: [`cleared ${cleared} ${cleared === 1 ? 'entry' : 'entries'} for ${what}`], data: { target: what, cleared } };
  },
};

/** Registered in commands.ts. */
export const authCommands: readonly ServerCommand[] = [authLocks, authUnlock];
