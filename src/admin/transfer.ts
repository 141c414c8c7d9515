// `ratatosk export` and `ratatosk import`: accounts with their SCRAM credentials and rosters as
// JSON lines, one user a line, so users can move between the embedded store and PostgreSQL:
//   {"username":"alice","credentials":{"sha1":{...},"sha256":{...}},"createdAt":1700000000000,"roster":[...]}
// Import checks every line before it writes anything.
import { createReadStream } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { ServerError } from '../errors.js';
import { Jid } from '../jid.js';
import { parseStoredCredentials } from '../storage/records.js';
import type { BulkUser, RosterItem, Stores, SubscriptionState } from '../storage/types.js';
import { flag, stringOption, type CommandContext, type CommandResult, type LocalCommand } from './command.js';
import { mapLimit } from './map-limit.js';

const PAGE = 1000;
const READ_CONCURRENCY = 16;
/** Bad lines listed before the rest are only counted. */
const MAX_REPORTED = 100;
/** Output is written in chunks of about this many characters. */
const CHUNK = 1 << 20;

export interface ExportedUser {
  username: string;
  credentials: BulkUser['credentials'];
  createdAt: number;
  roster: RosterItem[];
}

/** Every account with its roster, in the store's username order, a page at a time. */
export async function* exportUsers(stores: Stores): AsyncGenerator<ExportedUser> {
  let after: string | undefined;
  for (;;) {
    const page = await stores.accounts.list(after === undefined ? { limit: PAGE } : { after, limit: PAGE });
    const users = await mapLimit(page, READ_CONCURRENCY, async (username) => {
      const [account, roster] = await Promise.all([stores.accounts.get(username), stores.roster.get(username)]);
      // Deleted between list and get: leave it out.
      return account === undefined ? undefined : { username, credentials: account.credentials, createdAt: account.createdAt, roster: roster.items };
    });
    for (const user of users) if (user !== undefined) yield user;
    if (page.length < PAGE) return;
    after = page[page.length - 1];
  }
}

/** One export line: fixed key order, optional roster fields only when set. */
export function exportLine(user: ExportedUser): string {
  const roster = user.roster.map((item) => {
    const out: Record<string, unknown> = { jid: item.jid };
    if (item.name !== undefined) out.name = item.name;
    out.subscription = item.subscription;
    out.ask = item.ask;
    out.approved = item.approved;
    out.groups = item.groups;
    return out;
  });
  return JSON.stringify({ username: user.username, credentials: user.credentials, createdAt: user.createdAt, roster });
}

export const exportCommand: LocalCommand = {
  name: 'export',
  runs: 'local',
  summary: 'Write every account and roster as JSON lines, for "ratatosk import".',
  usage: 'export [--output <file>]',
  details: [
    'One user a line: {"username", "credentials" (SCRAM salted keys, never passwords), "createdAt"',
    '(ms since 1970), "roster" (items with jid, name, subscription, ask, approved, groups)}.',
    'Works on either store, so export from one and import into the other to move users.',
    'The file is created with mode 0600: the salted keys let anyone try passwords offline.',
  ],
  args: [],
  options: [{ name: 'output', takesValue: true, valueName: 'file', summary: 'Write here (replaced once complete) instead of standard output' }],
  async run(ctx, input) {
    const file = stringOption(input, 'output');
    if (file === '') throw new ServerError('INVALID_OUTPUT', '--output needs a file name');
    let users = 0;
    let items = 0;
    const collected: string[] = [];
    const temp = file === undefined ? undefined : `${file}.${process.pid}.tmp`;
    let handle: FileHandle | undefined;
    try {
      if (temp !== undefined) handle = await open(temp, 'w', 0o600);
      const out = handle;
      const sink = out !== undefined ? async (text: string): Promise<void> => void (await out.write(text)) : ctx.write;
      let buffer = '';
      for await (const user of exportUsers(ctx.stores)) {
        users++;
        items += user.roster.length;
        const line = exportLine(user);
        if (sink === undefined) {
          collected.push(line);
          continue;
        }
        buffer += `${line}\n`;
        if (buffer.length >= CHUNK) {
          await sink(buffer);
          buffer = '';
        }
      }
      if (sink !== undefined && buffer !== '') await sink(buffer);
      if (handle !== undefined) {
        await handle.sync();
        await handle.close();
        handle = undefined;
      }
      if (temp !== undefined && file !== undefined) await rename(temp, file);
    } catch (err) {
      await handle?.close().catch(() => undefined);
      if (temp !== undefined) await rm(temp, { force: true });
      if (err instanceof ServerError) throw err;
      const code = err instanceof Error && 'code' in err ? ` (${String(err.code)})` : '';
      if (file !== undefined && code !== '') throw new ServerError('EXPORT_FAILED', `cannot write ${file}${code}: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
    const summary = `exported ${users} users with ${items} roster items${file === undefined ? '' : ` to ${file}`}`;
    const data = { users, rosterItems: items, ...(file === undefined ? {} : { file }) };
    if (file === undefined && ctx.write !== undefined) {
      // Standard output carries the data; the summary goes beside it.
      ctx.notice(summary);
      return { exitCode: 0, lines: [], data };
    }
    return { exitCode: 0, lines: file === undefined ? collected : [summary], data };
  },
};

// ---- import -------------------------------------------------------------------------------------

const SUBSCRIPTIONS: ReadonlySet<string> = new Set<SubscriptionState>(['none', 'to', 'from', 'both']);
const USER_KEYS = new Set(['username', 'credentials', 'createdAt', 'roster']);
const ITEM_KEYS = new Set(['jid', 'name', 'subscription', 'ask', 'approved', 'groups']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseRosterItem(value: unknown, at: string): RosterItem | string {
  if (!isRecord(value)) return `${at}: expected an object`;
  const unknown = Object.keys(value).filter((k) => !ITEM_KEYS.has(k));
  if (unknown.length > 0) return `${at}: unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}`;
  const { jid, name, subscription, ask, approved, groups } = value;
  if (typeof jid !== 'string') return `${at}.jid: expected a bare JID`;
  const parsed = Jid.tryParse(jid);
  if (parsed === undefined || !parsed.isBare) return `${at}.jid: "${jid}" is not a valid bare JID`;
  if (name !== undefined && typeof name !== 'string') return `${at}.name: expected a string`;
  if (typeof subscription !== 'string' || !SUBSCRIPTIONS.has(subscription)) return `${at}.subscription: expected none, to, from or both`;
  if (typeof ask !== 'boolean') return `${at}.ask: expected true or false`;
  if (typeof approved !== 'boolean') return `${at}.approved: expected true or false`;
  if (!Array.isArray(groups) || !groups.every((g): g is string => typeof g === 'string')) return `${at}.groups: expected a list of strings`;
  const item: RosterItem = { jid: parsed.toString(), subscription: subscription as SubscriptionState, ask, approved, groups: [...new Set(groups)] };
  if (name !== undefined) item.name = name;
  return item;
}

/** Validates one line of an export; a string says what is wrong. */
export function parseImportLine(text: string): BulkUser | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return `not valid JSON (${err instanceof Error ? err.message : String(err)})`;
  }
  if (!isRecord(value)) return 'expected a JSON object with username, credentials, createdAt and roster';
  const unknown = Object.keys(value).filter((k) => !USER_KEYS.has(k));
  if (unknown.length > 0) return `unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}`;
  const { username, credentials, createdAt, roster } = value;
  if (typeof username !== 'string' || username === '') return 'username: expected a non-empty string';
  let normalised: string | undefined;
  try {
    normalised = Jid.normaliseLocal(username);
  } catch (err) {
    return `username: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (normalised !== username) return `username: "${username}" is not normalised (expected "${normalised}")`;
  const creds = parseStoredCredentials(credentials);
  if (creds === undefined) return 'credentials: expected sha1 and sha256 SCRAM credentials, each with salt, iterations, storedKey and serverKey';
  if (typeof createdAt !== 'number' || !Number.isFinite(createdAt) || createdAt < 0) return 'createdAt: expected milliseconds since 1970';
  const items: RosterItem[] = [];
  if (roster !== undefined) {
    if (!Array.isArray(roster)) return 'roster: expected a list of items';
    const seen = new Set<string>();
    for (const [i, raw] of roster.entries()) {
      const item = parseRosterItem(raw, `roster[${i}]`);
      if (typeof item === 'string') return item;
      if (seen.has(item.jid)) return `roster[${i}].jid: ${item.jid} appears twice`;
      seen.add(item.jid);
      items.push(item);
    }
  }
  return { username, credentials: creds, createdAt, roster: items };
}

interface NumberedUser {
  line: number;
  user: BulkUser;
}

/** Reads the input's lines: a file may be read twice; standard input is kept in memory. */
async function lineSource(ctx: CommandContext, file: string | undefined): Promise<() => AsyncIterable<string>> {
  if (file !== undefined) {
    // Open once now so a missing file is reported before anything else.
    const handle = await open(file, 'r').catch((err: unknown) => {
      const code = err instanceof Error && 'code' in err ? String(err.code) : 'error';
      throw new ServerError('INPUT_UNREADABLE', `cannot read ${file} (${code})`);
    });
    await handle.close();
    return () => createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  }
  if (ctx.inputLines === undefined) throw new ServerError('INPUT_UNAVAILABLE', 'import needs --input <file> here: there is no standard input');
  const lines: string[] = [];
  for await (const line of ctx.inputLines()) lines.push(line);
  return async function* () {
    yield* lines;
  };
}

/** Walks the lines, skipping blank ones, numbering from 1. */
async function* numbered(source: () => AsyncIterable<string>): AsyncGenerator<{ line: number; text: string }> {
  let line = 0;
  for await (const text of source()) {
    line++;
    if (text.trim() !== '') yield { line, text };
  }
}

export const importCommand: LocalCommand = {
  name: 'import',
  runs: 'local',
  summary: 'Create accounts with rosters from "ratatosk export" JSON lines.',
  usage: 'import [--input <file>] [--skip-errors]',
  details: [
    'Every line is checked first; each bad one is reported as "line N: <what is wrong>", and a file',
    'with any bad line imports nothing unless --skip-errors is given. Users that already exist are',
    'reported and left as they are. Blank lines are ignored.',
  ],
  args: [],
  options: [
    { name: 'input', takesValue: true, valueName: 'file', summary: 'Read this file instead of standard input' },
    { name: 'skip-errors', takesValue: false, summary: 'Import the good lines of a file that has bad ones' },
  ],
  async run(ctx, input): Promise<CommandResult> {
    const file = stringOption(input, 'input');
    if (file === '') throw new ServerError('INVALID_INPUT', '--input needs a file name');
    const skipErrors = flag(input, 'skip-errors');
    const source = await lineSource(ctx, file);
    const began = performance.now();

    // Pass 1: check everything; remember only usernames, to catch duplicates.
    const errors: string[] = [];
    const firstLine = new Map<string, number>();
    let good = 0;
    for await (const { line, text } of numbered(source)) {
      const user = parseImportLine(text);
      if (typeof user === 'string') {
        errors.push(`line ${line}: ${user}`);
      } else if (firstLine.has(user.username)) {
        errors.push(`line ${line}: user ${user.username} already appears on line ${firstLine.get(user.username)}`);
      } else {
        firstLine.set(user.username, line);
        good++;
      }
    }
    const reported = errors.slice(0, MAX_REPORTED);
    if (errors.length > MAX_REPORTED) reported.push(`... and ${errors.length - MAX_REPORTED} more bad lines`);
    if (errors.length > 0 && !skipErrors) {
      return {
        exitCode: 1,
        lines: [...reported, `nothing imported: ${errors.length} bad line${errors.length === 1 ? '' : 's'} (fix them, or give --skip-errors to import the ${good} good ones)`],
        data: { imported: 0, errors: errors.length, messages: reported },
      };
    }
    for (const message of reported) ctx.notice(`${message} (skipped)`);

    // Pass 2: write in batches, leaving existing users alone.
    let imported = 0;
    let existing = 0;
    let batch: NumberedUser[] = [];
    const flush = async (): Promise<void> => {
      const present = await mapLimit(batch, READ_CONCURRENCY, (u) => ctx.stores.accounts.exists(u.user.username));
      const fresh: BulkUser[] = [];
      for (const [i, u] of batch.entries()) {
        if (present[i] === true) {
          existing++;
          ctx.notice(`line ${u.line}: user ${u.user.username} already exists; skipped`);
        } else {
          fresh.push(u.user);
        }
      }
      const created = fresh.length === 0 ? 0 : await ctx.stores.bulk.load(fresh, { onExisting: 'skip' });
      imported += created;
      // Created by someone else between the check and the write.
      existing += fresh.length - created;
      batch = [];
    };
    for await (const { line, text } of numbered(source)) {
      const user = parseImportLine(text);
      if (typeof user === 'string' || firstLine.get(user.username) !== line) continue;
      batch.push({ line, user });
      if (batch.length >= PAGE) await flush();
    }
    if (batch.length > 0) await flush();
    const seconds = ((performance.now() - began) / 1000).toFixed(1);
    const parts = [`imported ${imported} users`];
    if (existing > 0) parts.push(`${existing} existed and were skipped`);
    if (errors.length > 0) parts.push(`${errors.length} bad lines skipped`);
    return {
      exitCode: 0,
      lines: [`${parts.join(', ')} in ${seconds} s`],
      data: { imported, existing, errors: errors.length, seconds: Number(seconds) },
    };
  },
};
