// The administration commands, as a registry shared by the `ratatosk` CLI and (later) the local
// admin HTTP API. A command never writes to a stream: it returns a result with text lines for a
// terminal and data for an API, and throws a ServerError (a UsageError for a malformed call)
// whose message the operator can act on.
import { DEFAULT_ITERATIONS, deriveCredentials, normalisePassword, verifyPassword } from '../auth/credentials.js';
import type { Config } from '../config/index.js';
import { ServerError } from '../errors.js';
import { Jid, JidError } from '../jid.js';
import type { Stores } from '../storage/types.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface OptionSpec {
  /** Without dashes: 'password' is given as --password. */
  readonly name: string;
  readonly takesValue: boolean;
  /** Placeholder shown in help for an option that takes a value. */
  readonly valueName?: string;
  readonly required?: boolean;
  readonly summary: string;
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
}

/** A call after parsing: positional arguments by name, options by name (true for a flag). */
export interface CommandInput {
  readonly args: Readonly<Record<string, string>>;
  readonly options: Readonly<Record<string, string | true>>;
}

export interface CommandContext {
  readonly config: Config;
  readonly stores: Stores;
  /** Reads one line of secret input (the CLI's standard input); absent where there is none. */
  readonly readSecret?: () => Promise<string>;
  /** A remark for the operator beside the result (the CLI writes it to stderr). */
  readonly notice: (line: string) => void;
}

export interface CommandResult {
  /** 0: done, or the answer is yes. 1: the command ran and the answer is no (a wrong password). */
  readonly exitCode: 0 | 1;
  /** The result for a terminal, one line each. */
  readonly lines: readonly string[];
  /** The same result as data, for the HTTP API. */
  readonly data?: JsonValue;
}

export interface Command extends CommandSpec {
  run(ctx: CommandContext, input: CommandInput): Promise<CommandResult>;
}

/** A malformed call: unknown option, missing argument and the like (CLI exit status 2). */
export class UsageError extends ServerError {
  constructor(message: string, readonly command?: CommandSpec) {
    super('USAGE', message);
    this.name = 'UsageError';
  }
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

// ---- JIDs and passwords ------------------------------------------------------------------------

export interface UserAddress {
  /** The normalised localpart: the account's key in the store. */
  readonly username: string;
  /** username@domain, for messages. */
  readonly jid: string;
}

/** Reads `user@domain`, or a bare localpart meaning the served domain. The domain must be the one served. */
export function parseUserJid(input: string, servedDomain: string): UserAddress {
  const served = Jid.normaliseDomain(servedDomain);
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

/** Checks a password is usable (non-empty after SASLprep, no prohibited characters). */
export function checkPassword(password: string): void {
  if (password === '') throw new ServerError('PASSWORD_EMPTY', 'the password is empty');
  let prepared: string;
  try {
    prepared = normalisePassword(password);
  } catch (err) {
    throw new ServerError('PASSWORD_INVALID', `the password cannot be used: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (prepared === '') throw new ServerError('PASSWORD_EMPTY', 'the password is empty after SASLprep normalisation');
}

const passwordOptions: readonly OptionSpec[] = [
  { name: 'password', takesValue: true, valueName: 'password', summary: 'The password (visible to other local users in the process list)' },
  { name: 'password-stdin', takesValue: false, summary: 'Read the password from the first line of standard input' },
];

async function passwordFrom(spec: CommandSpec, ctx: CommandContext, input: CommandInput): Promise<string> {
  const direct = input.options.password;
  const fromStdin = input.options['password-stdin'] !== undefined;
  if (direct !== undefined && fromStdin) throw new UsageError(`give either --password or --password-stdin for "${spec.name}", not both`, spec);
  let password: string;
  if (typeof direct === 'string') {
    password = direct;
  } else if (fromStdin) {
    if (ctx.readSecret === undefined) throw new UsageError('--password-stdin is only available from the command line', spec);
    password = await ctx.readSecret();
  } else {
    throw new UsageError(`missing password for "${spec.name}": give --password <password> or --password-stdin`, spec);
  }
  checkPassword(password);
  return password;
}

function iterations(config: Config): number {
  return config.auth.scramIterations > 0 ? config.auth.scramIterations : DEFAULT_ITERATIONS;
}

function required(input: CommandInput, name: string): string {
  const value = input.args[name];
  if (value === undefined) throw new UsageError(`missing <${name}>`);
  return value;
}

// ---- the commands ------------------------------------------------------------------------------

const jidArg: ArgumentSpec = { name: 'jid', required: true, summary: 'user@domain, or just user for the configured domain' };

const userAdd: Command = {
  name: 'user add',
  summary: 'Create an account.',
  usage: 'user add <jid> [--password <password> | --password-stdin]',
  args: [jidArg],
  options: passwordOptions,
  async run(ctx, input) {
    const user = parseUserJid(required(input, 'jid'), ctx.config.domain);
    const password = await passwordFrom(this, ctx, input);
    const credentials = await deriveCredentials(password, iterations(ctx.config));
    if (!(await ctx.stores.accounts.create(user.username, credentials))) {
      throw new ServerError('USER_EXISTS', `user ${user.jid} already exists (use "user passwd" to change the password)`);
    }
    return { exitCode: 0, lines: [`created ${user.jid}`], data: { jid: user.jid } };
  },
};

const userDel: Command = {
  name: 'user del',
  summary: 'Delete an account and everything it owns.',
  usage: 'user del <jid>',
  args: [jidArg],
  options: [],
  async run(ctx, input) {
    const user = parseUserJid(required(input, 'jid'), ctx.config.domain);
    if (!(await ctx.stores.accounts.delete(user.username))) throw new ServerError('USER_NOT_FOUND', `no such user: ${user.jid}`);
    return { exitCode: 0, lines: [`deleted ${user.jid}`], data: { jid: user.jid } };
  },
};

const userPasswd: Command = {
  name: 'user passwd',
  summary: "Set an account's password.",
  usage: 'user passwd <jid> [--password <password> | --password-stdin]',
  args: [jidArg],
  options: passwordOptions,
  async run(ctx, input) {
    const user = parseUserJid(required(input, 'jid'), ctx.config.domain);
    // Fail on an unknown user before asking for a password on stdin.
    if (!(await ctx.stores.accounts.exists(user.username))) throw new ServerError('USER_NOT_FOUND', `no such user: ${user.jid}`);
    const password = await passwordFrom(this, ctx, input);
    const credentials = await deriveCredentials(password, iterations(ctx.config));
    if (!(await ctx.stores.accounts.setCredentials(user.username, credentials))) {
      throw new ServerError('USER_NOT_FOUND', `no such user: ${user.jid}`);
    }
    return { exitCode: 0, lines: [`password changed for ${user.jid}`], data: { jid: user.jid } };
  },
};

const LIST_PAGE = 1000;

const userList: Command = {
  name: 'user list',
  summary: 'List the accounts, one JID a line, in lexical order.',
  usage: 'user list [--domain <domain>]',
  args: [],
  options: [{ name: 'domain', takesValue: true, valueName: 'domain', summary: 'Only accounts of this domain (must be the configured domain)' }],
  async run(ctx, input) {
    const served = Jid.normaliseDomain(ctx.config.domain);
    const asked = input.options.domain;
    if (typeof asked === 'string') {
      let domain: string;
      try {
        domain = Jid.normaliseDomain(asked);
      } catch (err) {
        if (err instanceof JidError) throw new ServerError('INVALID_DOMAIN', `invalid domain "${asked}": ${err.message}`);
        throw err;
      }
      if (domain !== served) throw new ServerError('WRONG_DOMAIN', `this server serves ${served}, not ${domain} (set by domain / RATATOSK_DOMAIN)`);
    }
    const jids: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await ctx.stores.accounts.list(after === undefined ? { limit: LIST_PAGE } : { after, limit: LIST_PAGE });
      for (const username of page) jids.push(`${username}@${served}`);
      if (page.length < LIST_PAGE) break;
      after = page[page.length - 1];
    }
    return { exitCode: 0, lines: jids, data: { users: jids } };
  },
};

const userCheck: Command = {
  name: 'user check',
  summary: 'Check a password: exit status 0 if it is right, 1 if not.',
  usage: 'user check <jid> [--password <password> | --password-stdin]',
  args: [jidArg],
  options: passwordOptions,
  async run(ctx, input) {
    const user = parseUserJid(required(input, 'jid'), ctx.config.domain);
    const password = await passwordFrom(this, ctx, input);
    const account = await ctx.stores.accounts.get(user.username);
    if (account === undefined) throw new ServerError('USER_NOT_FOUND', `no such user: ${user.jid}`);
    const ok = await verifyPassword(account.credentials.sha256, 'sha256', password);
    return ok
      ? { exitCode: 0, lines: [`password is correct for ${user.jid}`], data: { jid: user.jid, correct: true } }
      : { exitCode: 1, lines: [`password is wrong for ${user.jid}`], data: { jid: user.jid, correct: false } };
  },
};

/** Every registered command, by name, in help order. */
export const commands: ReadonlyMap<string, Command> = new Map([userAdd, userDel, userPasswd, userList, userCheck].map((c) => [c.name, c]));

/** Checks the call against the command's spec, then runs it. */
export async function runCommand(command: Command, ctx: CommandContext, input: CommandInput): Promise<CommandResult> {
  checkInput(command, input);
  return command.run(ctx, input);
}
