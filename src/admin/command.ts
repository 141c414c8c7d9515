// What an administration command is: its spec (arguments, options, help), where it may run, and
// the context it runs in. The CLI parses argv against a spec, the admin HTTP API a JSON body; both
// then run the same command. A command never writes to a stream: it returns a result with text
// lines for a terminal and data for the API, and throws a ServerError (a UsageError for a
// malformed call) whose message the operator can act on.
import type { Config } from '../config/index.js';
import { ServerError } from '../errors.js';
import { Jid, JidError } from '../jid.js';
import { DEFAULT_ITERATIONS, passwordProblem } from '../auth/credentials.js';
import type { NamedModuleStores } from '../modules/storage.js';
import type { Stores } from '../storage/types.js';
import type { LiveServer } from './live.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface OptionSpec {
  /** Without dashes: 'password' is given as --password. */
  readonly name: string;
  readonly takesValue: boolean;
  /** Placeholder shown in help for an option that takes a value. */
  readonly valueName?: string;
  readonly required?: boolean;
  readonly summary: string;
  /**
   * The command reads the first line of standard input when this flag is given. Through the API
   * the CLI reads that line itself and sends it along as `stdin`.
   */
  readonly readsStdin?: boolean;
}

export interface ArgumentSpec {
  /** Shown in help as <name>. */
  readonly name: string;
  readonly required: boolean;
  readonly summary: string;
}

/** What a command accepts; the CLI parses argv against it, the HTTP API a request body. */
export interface CommandSpec {
  /** One or two words: 'serve', 'user add'. */
  readonly name: string;
  readonly summary: string;
  /** The synopsis after `ratatosk `, e.g. 'user add <jid> [--password <password> | --password-stdin]'. */
  readonly usage: string;
  readonly args: readonly ArgumentSpec[];
  readonly options: readonly OptionSpec[];
  /** Further paragraphs of help, one line each. */
  readonly details?: readonly string[];
}

/** A call after parsing: positional arguments by name, options by name (true for a flag). */
export interface CommandInput {
  readonly args: Readonly<Record<string, string>>;
  readonly options: Readonly<Record<string, string | true>>;
}

/** What every command gets. */
export interface BaseContext {
  readonly config: Config;
  /** The modules' PostgreSQL migration directories (applied with the core's by `migrate` and when stores open). */
  readonly migrations?: readonly string[];
  /** The modules' stores, for what `export` and `import` move of their data. */
  readonly modules?: readonly NamedModuleStores[];
  /** Reads one line of secret input (the CLI's standard input, or the API request's `stdin`); absent where there is none. */
  readonly readSecret?: () => Promise<string>;
  /** A remark for the operator beside the result (the CLI writes it to stderr). */
  readonly notice: (line: string) => void;
  /** Streams text to the CLI's standard output, waiting when it is full; absent through the API (use the result's lines). */
  readonly write?: (text: string) => Promise<void>;
  /** The lines of the CLI's standard input, without line endings; absent through the API. */
  readonly inputLines?: () => AsyncIterable<string>;
}

export interface CommandContext extends BaseContext {
  readonly stores: Stores;
  /** The running server, when the command runs inside it (through the admin API). */
  readonly live?: LiveServer;
}

export interface LiveContext extends CommandContext {
  readonly live: LiveServer;
}

/**
 * 0: done, or the answer is yes. 1: failed, or the answer is no (a wrong password).
 * 2: a malformed call. 3: the server is not running (`status`, as ejabberdctl's).
 */
export type ExitCode = 0 | 1 | 2 | 3;

export interface CommandResult {
  readonly exitCode: ExitCode;
  /** The result for a terminal, one line each. */
  readonly lines: readonly string[];
  /** The same result as data, for the HTTP API. */
  readonly data?: JsonValue;
}

/** Runs where the stores are: inside the server when one answers on the admin API, else in the CLI process. */
export interface StoreCommand extends CommandSpec {
  readonly runs: 'anywhere';
  run(ctx: CommandContext, input: CommandInput): Promise<CommandResult>;
}

/** Needs the running server: only through the admin API. */
export interface ServerCommand extends CommandSpec {
  readonly runs: 'server';
  run(ctx: LiveContext, input: CommandInput): Promise<CommandResult>;
  /** The answer when no server runs; absent: an error naming the data directory. */
  whenStopped?(ctx: BaseContext): CommandResult;
}

/** Always in the CLI process, on the stores directly: bulk work that should not cross the API or load the server. */
export interface LocalCommand extends CommandSpec {
  readonly runs: 'local';
  run(ctx: CommandContext, input: CommandInput): Promise<CommandResult>;
}

/** In the CLI process with the configuration only; opens what it needs itself (`migrate`). */
export interface ConfigCommand extends CommandSpec {
  readonly runs: 'config';
  run(ctx: BaseContext, input: CommandInput): Promise<CommandResult>;
}

export type Command = StoreCommand | ServerCommand | LocalCommand | ConfigCommand;

/** A malformed call: unknown option, missing argument and the like (CLI exit status 2, API status 400). */
export class UsageError extends ServerError {
  constructor(message: string, readonly command?: CommandSpec) {
    super('USAGE', message);
    this.name = 'UsageError';
  }
}

/** The error a server-only command meets when no server answers for the data directory. */
export function notRunningError(dataDir: string): ServerError {
  return new ServerError('NOT_RUNNING', `no running server found for data dir ${dataDir} (start one with "ratatosk serve", and keep admin.port enabled)`);
}

/** Checks a parsed call against the spec: unknown or missing options and arguments, values where flags belong. */
export function checkInput(spec: CommandSpec, input: CommandInput): void {
  for (const [name, value] of Object.entries(input.options)) {
    const option = spec.options.find((o) => o.name === name);
    if (option === undefined) throw new UsageError(`unknown option "--${name}" for "${spec.name}"`, spec);
    if (option.takesValue && value === true) throw new UsageError(`option "--${name}" for "${spec.name}" needs a value`, spec);
    if (!option.takesValue && value !== true) throw new UsageError(`option "--${name}" for "${spec.name}" takes no value`, spec);
  }
  for (const option of spec.options) {
    if (option.required && input.options[option.name] === undefined) {
      throw new UsageError(`missing required option "--${option.name}" for "${spec.name}"`, spec);
    }
  }
  for (const name of Object.keys(input.args)) {
    if (!spec.args.some((a) => a.name === name)) throw new UsageError(`unexpected argument <${name}> for "${spec.name}"`, spec);
  }
  for (const arg of spec.args) {
    if (arg.required && input.args[arg.name] === undefined) throw new UsageError(`missing <${arg.name}> for "${spec.name}"`, spec);
  }
}

/** The help text of one command. */
export function commandHelp(spec: CommandSpec): string {
  const lines = [`Usage: ratatosk ${spec.usage}`, '', spec.summary];
  if (spec.details !== undefined && spec.details.length > 0) lines.push('', ...spec.details);
  if (spec.args.length > 0) {
    lines.push('', 'Arguments:');
    for (const a of spec.args) lines.push(`  <${a.name}>`.padEnd(26) + a.summary);
  }
  if (spec.options.length > 0) {
    lines.push('', 'Options:');
    for (const o of spec.options) {
      const flag = o.takesValue ? `--${o.name} <${o.valueName ?? 'value'}>` : `--${o.name}`;
      lines.push(`  ${flag}`.padEnd(26) + o.summary);
    }
  }
  return lines.join('\n');
}

// ---- reading arguments -------------------------------------------------------------------------

export function requiredArg(input: CommandInput, name: string, spec?: CommandSpec): string {
  const value = input.args[name];
  if (value === undefined) throw new UsageError(`missing <${name}>`, spec);
  return value;
}

/** The value of an option that takes one, or undefined when it was not given. */
export function stringOption(input: CommandInput, name: string): string | undefined {
  const value = input.options[name];
  return typeof value === 'string' ? value : undefined;
}

export function flag(input: CommandInput, name: string): boolean {
  return input.options[name] !== undefined;
}

/** A whole number option within bounds; the message names the option and what it got. */
export function integerOption(
  spec: CommandSpec,
  input: CommandInput,
  name: string,
  bounds: { min: number; max: number; default?: number },
): number | undefined {
  const raw = stringOption(input, name);
  if (raw === undefined) return bounds.default;
  const value = /^[+]?\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < bounds.min || value > bounds.max) {
    throw new UsageError(`option "--${name}" for "${spec.name}" must be a whole number from ${bounds.min} to ${bounds.max}, got "${raw}"`, spec);
  }
  return value;
}

// ---- JIDs and passwords ------------------------------------------------------------------------

export interface UserAddress {
  /** The normalised localpart: the account's key in the store. */
  readonly username: string;
  /** username@domain, for messages. */
  readonly jid: string;
}

/** The served domain, normalised. */
export function servedDomain(config: Config): string {
  return Jid.normaliseDomain(config.domain);
}

/** Reads `user@domain`, or a bare localpart meaning the served domain. The domain must be the one served. */
export function parseUserJid(input: string, servedDomainName: string): UserAddress {
  const served = Jid.normaliseDomain(servedDomainName);
  if (input.trim() === '') throw new ServerError('INVALID_JID', 'the JID is empty; give user@' + served + ' or just user');
  if (input.includes('/')) {
    throw new ServerError('INVALID_JID', `invalid JID "${input}": an account's JID has no resourcepart; give user@${served}`);
  }
  let local: string;
  try {
    if (input.includes('@')) {
      const jid = Jid.parse(input);
      if (jid.domain !== served) {
        throw new ServerError('WRONG_DOMAIN', `"${input}" is not on this server: it serves ${served} (set by domain / RATATOSK_DOMAIN)`);
      }
      local = jid.local;
    } else {
      local = Jid.normaliseLocal(input);
    }
  } catch (err) {
    if (err instanceof JidError) throw new ServerError('INVALID_JID', err.message);
    throw err;
  }
  if (local === '') throw new ServerError('INVALID_JID', `invalid JID "${input}": empty localpart`);
  return { username: local, jid: `${local}@${served}` };
}

/** Parses any JID, turning a JidError into an operator message. */
export function parseJid(input: string): Jid {
  if (input.trim() === '') throw new ServerError('INVALID_JID', 'the JID is empty');
  try {
    return Jid.parse(input);
  } catch (err) {
    if (err instanceof JidError) throw new ServerError('INVALID_JID', err.message);
    throw err;
  }
}

/** Normalises a domain given on the command line; the message names the option. */
export function parseDomain(input: string, what: string): string {
  try {
    return Jid.normaliseDomain(input);
  } catch (err) {
    if (err instanceof JidError) throw new ServerError('INVALID_DOMAIN', `invalid ${what} "${input}": ${err.message}`);
    throw err;
  }
}

/** PBKDF2 iterations for new credentials. */
export function iterations(config: Config): number {
  return config.auth.scramIterations > 0 ? config.auth.scramIterations : DEFAULT_ITERATIONS;
}

/** Checks a password is usable (non-empty after SASLprep, no prohibited characters). */
export function checkPassword(password: string): void {
  const problem = passwordProblem(password);
  if (problem) throw new ServerError(problem.reason === 'empty' ? 'PASSWORD_EMPTY' : 'PASSWORD_INVALID', problem.text);
}
