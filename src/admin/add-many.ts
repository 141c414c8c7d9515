// `ratatosk user add-many`: numbered accounts with symmetric rosters for load tests (Tsung's
// user1..userN), written in large batches through the bulk loader. Hashing is the slow part: by
// default every user gets their own salts, derived a few at a time on libuv's thread pool while
// another batch is written; --same-salt derives one credential set for everyone.
import { deriveCredentials, type StoredCredentials } from '../auth/credentials.js';
import { ServerError } from '../errors.js';
import { Jid, JidError } from '../jid.js';
import type { BulkUser, RosterItem } from '../storage/types.js';
import {
  checkPassword,
  flag,
  integerOption,
  iterations,
  parseDomain,
  servedDomain,
  stringOption,
  UsageError,
  type CommandContext,
  type CommandInput,
  type LocalCommand,
} from './command.js';
import { mapLimit } from './map-limit.js';

/** Users per bulk-loader call (one transaction each). */
const BATCH = 5000;
/** Bulk-loader calls in flight. */
const LOAD_CONCURRENCY = 2;
/** Users whose credentials are derived at once (each is two PBKDF2 runs on the thread pool). */
const HASH_CONCURRENCY = 4;
const MAX_COUNT = 10_000_000;
const MAX_ROSTER = 10_000;
const PROGRESS_EVERY_MS = 2000;

/**
 * The contacts of every user, as offsets from the user's index in a ring of `count` users: the
 * ±1..±k/2 neighbours, and for an odd `rosterSize` also the user opposite (count/2 away). Offset
 * o and -o (and count/2 with itself) pair up, so a has b exactly when b has a.
 */
export function contactOffsets(count: number, rosterSize: number): number[] {
  if (rosterSize < 0 || rosterSize > count - 1) throw new RangeError(`a roster of ${rosterSize} needs more than ${rosterSize} users, got ${count}`);
  if (rosterSize % 2 === 1 && count % 2 === 1) throw new RangeError('an odd roster size needs an even number of users');
  const offsets: number[] = [];
  for (let o = 1; o <= Math.floor(rosterSize / 2); o++) offsets.push(o, -o);
  if (rosterSize % 2 === 1) offsets.push(count / 2);
  return offsets;
}

export interface AddManyPlan {
  /** The normalised prefix. */
  prefix: string;
  domain: string;
  count: number;
  start: number;
  rosterSize: number;
}

/** Username of the i-th user (0-based) of the plan. */
export function userAt(plan: AddManyPlan, index: number): string {
  return `${plan.prefix}${plan.start + index}`;
}

/** The roster of the i-th user: every contact with subscription both. */
export function rosterAt(plan: AddManyPlan, offsets: readonly number[], index: number): RosterItem[] {
  return offsets.map((o) => ({
    jid: `${userAt(plan, (((index + o) % plan.count) + plan.count) % plan.count)}@${plan.domain}`,
    subscription: 'both',
    ask: false,
    approved: false,
    groups: [],
  }));
}

function planFrom(spec: LocalCommand, ctx: CommandContext, input: CommandInput): AddManyPlan {
  const rawPrefix = stringOption(input, 'prefix') ?? '';
  if (rawPrefix === '') throw new UsageError(`option "--prefix" for "${spec.name}" must not be empty`, spec);
  let prefix: string;
  try {
    prefix = Jid.normaliseLocal(rawPrefix);
  } catch (err) {
    if (err instanceof JidError) throw new ServerError('INVALID_JID', `--prefix "${rawPrefix}" cannot start a JID localpart: ${err.message}`);
    throw err;
  }
  const served = servedDomain(ctx.config);
  const domain = parseDomain(stringOption(input, 'domain') ?? '', '--domain');
  if (domain !== served) throw new ServerError('WRONG_DOMAIN', `--domain ${domain} is not the domain this server serves: ${served} (set by domain / RATATOSK_DOMAIN)`);
  const count = integerOption(spec, input, 'count', { min: 1, max: MAX_COUNT }) ?? 0;
  const start = integerOption(spec, input, 'start', { min: 0, max: Number.MAX_SAFE_INTEGER - MAX_COUNT, default: 1 }) ?? 1;
  const rosterSize = integerOption(spec, input, 'roster-size', { min: 0, max: MAX_ROSTER, default: 0 }) ?? 0;
  if (rosterSize > count - 1) {
    throw new UsageError(`option "--roster-size" for "${spec.name}" must be below --count (${count}): each user's contacts are other users of the run`, spec);
  }
  if (rosterSize % 2 === 1 && count % 2 === 1) {
    throw new UsageError(`an odd --roster-size (${rosterSize}) needs an even --count, got ${count}: symmetric rosters of odd size pair every user with the one opposite`, spec);
  }
  const plan = { prefix, domain, count, start, rosterSize };
  const last = userAt(plan, count - 1);
  if (Buffer.byteLength(last) > 1023) throw new ServerError('INVALID_JID', `the last username (${last.slice(0, 40)}…) is longer than 1023 bytes`);
  return plan;
}

export const userAddMany: LocalCommand = {
  name: 'user add-many',
  runs: 'local',
  summary: 'Create numbered accounts with symmetric rosters, for load tests.',
  usage: 'user add-many --prefix <prefix> --count <n> --domain <domain> --password <password> [--roster-size <k>] [--start <s>] [--same-salt]',
  details: [
    'Creates <prefix><s> .. <prefix><s+n-1> (s is 1 unless --start says otherwise), all with the same',
    'password. Each user gets k contacts with subscription "both": the k/2 users before and after it',
    'in a ring of the n users (and, for odd k, the user opposite), so every roster is mirrored.',
    'Existing users are left as they are and counted as skipped. Progress goes to stderr.',
    'Runs in this process on the store directly, whether or not a server runs.',
    '',
    'By default every user gets its own salts, so PBKDF2 runs twice per user (slow at scale).',
    '--same-salt derives ONE credential set and gives it to every user: identical salts and keys,',
    'acceptable only for throw-away load-test accounts.',
  ],
  args: [],
  options: [
    { name: 'prefix', takesValue: true, valueName: 'prefix', required: true, summary: 'Username prefix, e.g. user (gives user1, user2, ...)' },
    { name: 'count', takesValue: true, valueName: 'n', required: true, summary: `How many users (1 to ${MAX_COUNT})` },
    { name: 'domain', takesValue: true, valueName: 'domain', required: true, summary: 'Must be the served domain (a guard against the wrong config)' },
    { name: 'password', takesValue: true, valueName: 'password', required: true, summary: 'The password of every user' },
    { name: 'roster-size', takesValue: true, valueName: 'k', summary: 'Contacts per user, below n (default 0)' },
    { name: 'start', takesValue: true, valueName: 's', summary: 'First number (default 1)' },
    { name: 'same-salt', takesValue: false, summary: 'Derive one SCRAM credential set for all users (load tests only)' },
  ],
  async run(ctx, input) {
    const plan = planFrom(this, ctx, input);
    const password = stringOption(input, 'password') ?? '';
    checkPassword(password);
    const rounds = iterations(ctx.config);
    const offsets = contactOffsets(plan.count, plan.rosterSize);
    const sameSalt = flag(input, 'same-salt');
    const began = performance.now();
    const seconds = (): string => ((performance.now() - began) / 1000).toFixed(1);

    const shared = sameSalt ? await deriveCredentials(password, rounds, ctx.config.auth.scramHashes) : undefined;
    const credentialsFor = (count: number): Promise<StoredCredentials[]> =>
      shared !== undefined
        ? Promise.resolve(new Array<StoredCredentials>(count).fill(shared))
        : mapLimit(Array.from({ length: count }), HASH_CONCURRENCY, () => deriveCredentials(password, rounds, ctx.config.auth.scramHashes));

    const batchAt = async (first: number): Promise<BulkUser[]> => {
      const size = Math.min(BATCH, plan.count - first);
      const credentials = await credentialsFor(size);
      const createdAt = Date.now();
      return credentials.map((c, i) => ({ username: userAt(plan, first + i), credentials: c, createdAt, roster: rosterAt(plan, offsets, first + i) }));
    };

    ctx.notice(`user add-many: ${plan.count} users ${userAt(plan, 0)}..${userAt(plan, plan.count - 1)}@${plan.domain}, ${plan.rosterSize} contacts each, ${sameSalt ? 'one shared credential set (--same-salt)' : `own salts (${rounds} PBKDF2 iterations)`}`);
    let created = 0;
    let done = 0;
    let lastReport = performance.now();
    // Two batches in flight: one is hashed or built while the other is written, and PostgreSQL
    // gets a second backend to work with. LMDB serialises the writes itself.
    const firsts = Array.from({ length: Math.ceil(plan.count / BATCH) }, (_, i) => i * BATCH);
    await mapLimit(firsts, LOAD_CONCURRENCY, async (first) => {
      const users = await batchAt(first);
      // Not `created += await …`: that reads `created` before the other batch's update.
      const written = await ctx.stores.bulk.load(users, { onExisting: 'skip' });
      created += written;
      done += users.length;
      if (performance.now() - lastReport >= PROGRESS_EVERY_MS && done < plan.count) {
        lastReport = performance.now();
        ctx.notice(`user add-many: ${done}/${plan.count} users written (${done - created} existed), ${seconds()} s`);
      }
    });
    const skipped = plan.count - created;
    const elapsed = seconds();
    return {
      exitCode: 0,
      lines: [`created ${created} users (${skipped} existed and were skipped) with ${plan.rosterSize} contacts each in ${elapsed} s`],
      data: { created, skipped, rosterSize: plan.rosterSize, seconds: Number(elapsed), first: `${userAt(plan, 0)}@${plan.domain}`, last: `${userAt(plan, plan.count - 1)}@${plan.domain}` },
    };
  },
};
