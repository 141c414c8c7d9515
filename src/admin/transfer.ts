// `ratatosk export` and `ratatosk import`: accounts with their SCRAM credentials and rosters as
// JSON lines, one user a line, so users can move between the embedded store and PostgreSQL:
//   {"username":"alice","credentials":{"sha1":{...},"sha256":{...}},"createdAt":1700000000000,"roster":[...]}
// with the modules' data of the account under "modules" (by module name, as the module's
// ModuleStoresSpec.transfer gives it), then the modules' other data one record a line:
//   {"module":"muc","record":{...}}
// Import checks every line before it writes anything.
import { createReadStream } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { ServerError } from '../errors.js';
import { Jid } from '../jid.js';
import { parseStoredCredentials } from '../storage/records.js';
import type { NamedModuleStores, TransferValue } from '../modules/storage.js';
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
  /** The modules' data of the account, by module name; only modules that keep some. */
  modules?: Record<string, TransferValue>;
}

/** What the modules keep for one account, by module name. */
async function moduleDataOf(stores: Stores, modules: readonly NamedModuleStores[], username: string): Promise<Record<string, TransferValue> | undefined> {
  const data: Record<string, TransferValue> = {};
  for (const { name, stores: spec } of modules) {
    const exportAccount = spec.transfer?.exportAccount;
    if (exportAccount === undefined) continue;
    const value = await exportAccount(stores.module(name, spec), username);
    if (value !== undefined) data[name] = value;
  }
  return Object.keys(data).length === 0 ? undefined : data;
}

/** Every account with its roster and its modules' data, in the store's username order, a page at a time. */
export async function* exportUsers(stores: Stores, modules: readonly NamedModuleStores[] = []): AsyncGenerator<ExportedUser> {
  let after: string | undefined;
  for (;;) {
    const page = await stores.accounts.list(after === undefined ? { limit: PAGE } : { after, limit: PAGE });
    const users = await mapLimit(page, READ_CONCURRENCY, async (username) => {
      const [account, roster, data] = await Promise.all([stores.accounts.get(username), stores.roster.get(username), moduleDataOf(stores, modules, username)]);
      // Deleted between list and get: leave it out.
      if (account === undefined) return undefined;
      const user: ExportedUser = { username, credentials: account.credentials, createdAt: account.createdAt, roster: roster.items };
      if (data !== undefined) user.modules = data;
      return user;
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
  return JSON.stringify({ username: user.username, credentials: user.credentials, createdAt: user.createdAt, roster, ...(user.modules === undefined ? {} : { modules: user.modules }) });
}

/** The modules' records that belong to no account (a MUC service's rooms), as export lines. */
async function* moduleRecordLines(stores: Stores, modules: readonly NamedModuleStores[]): AsyncGenerator<{ module: string; line: string }> {
  for (const { name, stores: spec } of modules) {
    const exportRecords = spec.transfer?.exportRecords;
    if (exportRecords === undefined) continue;
    for await (const record of exportRecords(stores.module(name, spec))) yield { module: name, line: JSON.stringify({ module: name, record }) };
  }
}

/** "vcard 2, muc 1": how many accounts' data or records of each module were written. */
function moduleCounts(counts: ReadonlyMap<string, number>): string {
  return [...counts].map(([name, n]) => `${name} ${n}`).join(', ');
}

export const exportCommand: LocalCommand = {
  name: 'export',
  runs: 'local',
  summary: 'Write every account, roster and module data as JSON lines, for "ratatosk import".',
  usage: 'export [--output <file>]',
  details: [
    'One user a line: {"username", "credentials" (SCRAM salted keys, never passwords), "createdAt"',
    '(ms since 1970), "roster" (items with jid, name, subscription, ask, approved, groups), "modules"',
    '(the account\'s data, by the name of each module that keeps some)}, then one line per record of',
    'the data modules keep for no account (a MUC service\'s rooms): {"module": <name>, "record": ...}.',
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
    /** Accounts with data, or records, of each module. */
    const counts = new Map<string, number>();
    const collected: string[] = [];
    const temp = file === undefined ? undefined : `${file}.${process.pid}.tmp`;
    let handle: FileHandle | undefined;
    try {
      if (temp !== undefined) handle = await open(temp, 'w', 0o600);
      const out = handle;
      const sink = out !== undefined ? async (text: string): Promise<void> => void (await out.write(text)) : ctx.write;
      let buffer = '';
      const emit = async (line: string): Promise<void> => {
        if (sink === undefined) {
          collected.push(line);
          return;
        }
        buffer += `${line}\n`;
        if (buffer.length >= CHUNK) {
          await sink(buffer);
          buffer = '';
        }
      };
      const modules = ctx.modules ?? [];
      for await (const user of exportUsers(ctx.stores, modules)) {
        users++;
        items += user.roster.length;
        for (const name of Object.keys(user.modules ?? {})) counts.set(name, (counts.get(name) ?? 0) + 1);
        await emit(exportLine(user));
      }
      for await (const { module, line } of moduleRecordLines(ctx.stores, modules)) {
        counts.set(module, (counts.get(module) ?? 0) + 1);
        await emit(line);
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
    const withModules = counts.size === 0 ? '' : ` and module data (${moduleCounts(counts)})`;
    const summary = `exported ${users} users with ${items} roster items${withModules}${file === undefined ? '' : ` to ${file}`}`;
    const data = { users, rosterItems: items, modules: Object.fromEntries(counts), ...(file === undefined ? {} : { file }) };
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
const USER_KEYS = new Set(['username', 'credentials', 'createdAt', 'roster', 'modules']);
const RECORD_KEYS = new Set(['module', 'record']);
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

/** A module's data read from an export line, checked by the module. */
interface ModuleData {
  readonly module: NamedModuleStores;
  /** A value JSON.parse made. */
  readonly data: TransferValue;
}

/** One line of an export: an account (with its modules' data), or a module's record. */
export type ImportLine = { kind: 'user'; user: BulkUser; modules: ModuleData[] } | ({ kind: 'record' } & ModuleData);

/** A module's record line: {"module": <name>, "record": <data>}. */
function parseRecordLine(value: Record<string, unknown>, modules: readonly NamedModuleStores[]): ImportLine | string {
  const unknown = Object.keys(value).filter((k) => !RECORD_KEYS.has(k));
  if (unknown.length > 0) return `unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}`;
  const module = modules.find((m) => m.name === value.module);
  const transfer = module?.stores.transfer;
  if (module === undefined || transfer?.importRecord === undefined || transfer.checkRecord === undefined) {
    return `module: ${JSON.stringify(value.module)} is not a module of this server that imports records`;
  }
  const problem = transfer.checkRecord(value.record);
  if (problem !== undefined) return `record of module ${module.name}: ${problem}`;
  return { kind: 'record', module, data: value.record as TransferValue };
}

/** The "modules" field of an account's line: each module's data, checked by the module. */
function parseModulesField(value: unknown, modules: readonly NamedModuleStores[]): ModuleData[] | string {
  if (value === undefined) return [];
  if (!isRecord(value)) return 'modules: expected an object of module name to its data';
  const found: ModuleData[] = [];
  for (const [name, data] of Object.entries(value)) {
    const module = modules.find((m) => m.name === name);
    const transfer = module?.stores.transfer;
    if (module === undefined || transfer?.importAccount === undefined || transfer.checkAccount === undefined) return `modules.${name}: not a module of this server that imports account data`;
    const problem = transfer.checkAccount(data);
    if (problem !== undefined) return `modules.${name}: ${problem}`;
    found.push({ module, data: data as TransferValue });
  }
  return found;
}

/** Validates one line of an export against the server's modules; a string says what is wrong. */
export function parseImportLine(text: string, modules: readonly NamedModuleStores[] = []): ImportLine | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return `not valid JSON (${err instanceof Error ? err.message : String(err)})`;
  }
  if (!isRecord(value)) return 'expected a JSON object with username, credentials, createdAt and roster';
  if ('module' in value) return parseRecordLine(value, modules);
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
  if (creds === undefined) return 'credentials: expected SCRAM credentials for one or more of sha1, sha256, sha512, each with salt, iterations, storedKey and serverKey';
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
  const moduleData = parseModulesField(value.modules, modules);
  if (typeof moduleData === 'string') return moduleData;
  return { kind: 'user', user: { username, credentials: creds, createdAt, roster: items }, modules: moduleData };
}

interface NumberedUser {
  line: number;
  user: BulkUser;
  modules: ModuleData[];
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
  summary: 'Create accounts with rosters and module data from "ratatosk export" JSON lines.',
  usage: 'import [--input <file>] [--skip-errors]',
  details: [
    'Every line is checked first; each bad one is reported as "line N: <what is wrong>", and a file',
    'with any bad line imports nothing unless --skip-errors is given. Users that already exist are',
    'reported and left as they are, with their module data; so are rooms that exist. Blank lines',
    'are ignored.',
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
    const modules = ctx.modules ?? [];
    for await (const { line, text } of numbered(source)) {
      const parsed = parseImportLine(text, modules);
      if (typeof parsed === 'string') {
        errors.push(`line ${line}: ${parsed}`);
      } else if (parsed.kind === 'record') {
        good++;
      } else if (firstLine.has(parsed.user.username)) {
        errors.push(`line ${line}: user ${parsed.user.username} already appears on line ${firstLine.get(parsed.user.username)}`);
      } else {
        firstLine.set(parsed.user.username, line);
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
    /** Accounts whose data, or records, each module imported. */
    const moduleData = new Map<string, number>();
    let batch: NumberedUser[] = [];
    const flush = async (): Promise<void> => {
      const present = await mapLimit(batch, READ_CONCURRENCY, (u) => ctx.stores.accounts.exists(u.user.username));
      const fresh: NumberedUser[] = [];
      for (const [i, u] of batch.entries()) {
        if (present[i] === true) {
          existing++;
          ctx.notice(`line ${u.line}: user ${u.user.username} already exists; skipped`);
        } else {
          fresh.push(u);
        }
      }
      const created = fresh.length === 0 ? 0 : await ctx.stores.bulk.load(fresh.map((u) => u.user), { onExisting: 'skip' });
      imported += created;
      // Created by someone else between the check and the write.
      existing += fresh.length - created;
      // The modules' data goes with the accounts this import created, after them (it references them).
      if (created === fresh.length) {
        for (const u of fresh) {
          for (const { module, data } of u.modules) {
            await module.stores.transfer?.importAccount?.(ctx.stores.module(module.name, module.stores), u.user.username, data);
            moduleData.set(module.name, (moduleData.get(module.name) ?? 0) + 1);
          }
        }
      } else if (fresh.some((u) => u.modules.length > 0)) {
        ctx.notice(`the modules' data of ${fresh.length} users was not imported: some of them were created meanwhile by someone else`);
      }
      batch = [];
    };
    const records: ModuleData[] = [];
    for await (const { line, text } of numbered(source)) {
      const parsed = parseImportLine(text, modules);
      if (typeof parsed === 'string') continue;
      if (parsed.kind === 'record') {
        records.push(parsed);
        continue;
      }
      if (firstLine.get(parsed.user.username) !== line) continue;
      batch.push({ line, user: parsed.user, modules: parsed.modules });
      if (batch.length >= PAGE) await flush();
    }
    if (batch.length > 0) await flush();
    // Pass 3: the modules' records that belong to no account (rooms); those the store has are left as they are.
    let recordsExisting = 0;
    for (const { module, data } of records) {
      const written = (await module.stores.transfer?.importRecord?.(ctx.stores.module(module.name, module.stores), data)) === true;
      if (written) moduleData.set(module.name, (moduleData.get(module.name) ?? 0) + 1);
      else recordsExisting++;
    }
    const seconds = ((performance.now() - began) / 1000).toFixed(1);
    const parts = [`imported ${imported} users`];
    if (moduleData.size > 0) parts.push(`module data (${moduleCounts(moduleData)})`);
    if (existing > 0) parts.push(`${existing} existed and were skipped`);
    if (recordsExisting > 0) parts.push(`${recordsExisting} module records existed and were left as they are`);
    if (errors.length > 0) parts.push(`${errors.length} bad lines skipped`);
    return {
      exitCode: 0,
      lines: [`${parts.join(', ')} in ${seconds} s`],
      data: { imported, existing, errors: errors.length, modules: Object.fromEntries(moduleData), seconds: Number(seconds) },
    };
  },
};
