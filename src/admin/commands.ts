// The administration commands, as one registry shared by the `ratatosk` CLI and the local admin
// HTTP API (see command.ts for what a command is). The user commands live here; the others in
// files of their own, by concern.
import { deriveCredentials, SCRAM_HASHES, strongestHash, verifyPassword, type ScramHash } from '../auth/credentials.js';
import { ServerError } from '../errors.js';
import { Jid } from '../jid.js';
import { userAddMany } from './add-many.js';
import { authCommands } from './auth-commands.js';
import {
  checkInput,
  checkPassword,
  iterations,
  notRunningError,
  parseDomain,
  parseUserJid,
  requiredArg,
  UsageError,
  type ArgumentSpec,
  type BaseContext,
  type Command,
  type CommandContext,
  type CommandInput,
  type CommandResult,
  type CommandSpec,
  type OptionSpec,
  type StoreCommand,
} from './command.js';
import { certMakeCommand } from './cert-command.js';
import { migrateCommand } from './migrate-command.js';
import { reload, sessionKick, sessionList, status } from './server-commands.js';
import { exportCommand, importCommand } from './transfer.js';

export * from './command.js';

const passwordOptions: readonly OptionSpec[] = [
  { name: 'password', takesValue: true, valueName: 'password', summary: 'The password (visible to other local users in the process list)' },
  { name: 'password-stdin', takesValue: false, readsStdin: true, summary: 'Read the password from the first line of standard input' },
];

async function passwordFrom(spec: CommandSpec, ctx: BaseContext, input: CommandInput): Promise<string> {
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

// ---- the commands ------------------------------------------------------------------------------

const jidArg: ArgumentSpec = { name: 'jid', required: true, summary: 'user@domain, or just user for the configured domain' };

const userAdd: StoreCommand = {
  runs: 'anywhere',
  name: 'user add',
  summary: 'Create an account.',
  usage: 'user add <jid> [--password <password> | --password-stdin]',
  args: [jidArg],
  options: passwordOptions,
  async run(ctx, input) {
    const user = parseUserJid(requiredArg(input, 'jid', this), ctx.config.domain);
    const password = await passwordFrom(this, ctx, input);
    const credentials = await deriveCredentials(password, iterations(ctx.config), ctx.config.auth.scramHashes);
    if (!(await ctx.stores.accounts.create(user.username, credentials))) {
      throw new ServerError('USER_EXISTS', `user ${user.jid} already exists (use "user passwd" to change the password)`);
    }
    return { exitCode: 0, lines: [`created ${user.jid}`], data: { jid: user.jid } };
  },
};

const userDel: StoreCommand = {
  runs: 'anywhere',
  name: 'user del',
  summary: 'Delete an account and everything it owns.',
  usage: 'user del <jid>',
  details: ["With a server running, the account's sessions end (on every node of a cluster) with <not-authorized/>."],
  args: [jidArg],
  options: [],
  async run(ctx, input) {
    const user = parseUserJid(requiredArg(input, 'jid', this), ctx.config.domain);
    if (!(await ctx.stores.accounts.delete(user.username))) throw new ServerError('USER_NOT_FOUND', `no such user: ${user.jid}`);
    await ctx.live?.accountDeleted?.(user.username);
    return { exitCode: 0, lines: [`deleted ${user.jid}`], data: { jid: user.jid } };
  },
};

const userPasswd: StoreCommand = {
  runs: 'anywhere',
  name: 'user passwd',
  summary: "Set an account's password.",
  usage: 'user passwd <jid> [--password <password> | --password-stdin]',
  args: [jidArg],
  options: passwordOptions,
  async run(ctx, input) {
    const user = parseUserJid(requiredArg(input, 'jid', this), ctx.config.domain);
    // Fail on an unknown user before asking for a password on stdin.
    if (!(await ctx.stores.accounts.exists(user.username))) throw new ServerError('USER_NOT_FOUND', `no such user: ${user.jid}`);
    const password = await passwordFrom(this, ctx, input);
    const credentials = await deriveCredentials(password, iterations(ctx.config), ctx.config.auth.scramHashes);
    if (!(await ctx.stores.accounts.setCredentials(user.username, credentials))) {
      throw new ServerError('USER_NOT_FOUND', `no such user: ${user.jid}`);
    }
    return { exitCode: 0, lines: [`password changed for ${user.jid}`], data: { jid: user.jid } };
  },
};

const LIST_PAGE = 1000;

const userList: StoreCommand = {
  runs: 'anywhere',
  name: 'user list',
  summary: 'List the accounts, one JID a line, in lexical order.',
  usage: 'user list [--domain <domain>]',
  args: [],
  options: [{ name: 'domain', takesValue: true, valueName: 'domain', summary: 'Only accounts of this domain (must be the configured domain)' }],
  async run(ctx, input) {
    const served = Jid.normaliseDomain(ctx.config.domain);
    const asked = input.options.domain;
    if (typeof asked === 'string') {
      const domain = parseDomain(asked, '--domain');
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

const userCheck: StoreCommand = {
  runs: 'anywhere',
  name: 'user check',
  summary: 'Check a password: exit status 0 if it is right, 1 if not.',
  usage: 'user check <jid> [--password <password> | --password-stdin]',
  args: [jidArg],
  options: passwordOptions,
  async run(ctx, input) {
    const user = parseUserJid(requiredArg(input, 'jid', this), ctx.config.domain);
    const password = await passwordFrom(this, ctx, input);
    const account = await ctx.stores.accounts.get(user.username);
    if (account === undefined) throw new ServerError('USER_NOT_FOUND', `no such user: ${user.jid}`);
    const hash = strongestHash(account.credentials);
    const credential = hash && account.credentials[hash];
    const ok = hash !== undefined && credential !== undefined && (await verifyPassword(credential, hash, password));
    return ok
      ? { exitCode: 0, lines: [`password is correct for ${user.jid}`], data: { jid: user.jid, correct: true } }
      : { exitCode: 1, lines: [`password is wrong for ${user.jid}`], data: { jid: user.jid, correct: false } };
  },
};

const HASH_PAGE = 500;
const HASH_LABEL: Record<ScramHash, string> = { sha1: 'SCRAM-SHA-1', sha256: 'SCRAM-SHA-256', sha512: 'SCRAM-SHA-512' };

/**
 * How many accounts lack keys for each SCRAM hash, or have them with another iteration count than
 * [auth] scram_iterations: those a PLAIN login would upgrade (src/auth/credential-source.ts).
 */
const userHashes: StoreCommand = {
  runs: 'anywhere',
  name: 'user hashes',
  summary: 'Count the accounts that lack SCRAM keys for a hash, or have them with an old iteration count.',
  usage: 'user hashes',
  args: [],
  options: [],
  async run(ctx) {
    const rounds = iterations(ctx.config);
    const counts = Object.fromEntries(SCRAM_HASHES.map((h) => [h, { missing: 0, otherIterations: 0 }])) as Record<ScramHash, { missing: number; otherIterations: number }>;
    let accounts = 0;
    let after: string | undefined;
    for (;;) {
      const page = await ctx.stores.accounts.list(after === undefined ? { limit: HASH_PAGE } : { after, limit: HASH_PAGE });
      const found = await Promise.all(page.map((username) => ctx.stores.accounts.get(username)));
      for (const account of found) {
        if (!account) continue; // deleted meanwhile
        accounts++;
        for (const hash of SCRAM_HASHES) {
          const credential = account.credentials[hash];
          if (!credential) counts[hash].missing++;
          else if (credential.iterations !== rounds) counts[hash].otherIterations++;
        }
      }
      if (page.length < HASH_PAGE) break;
      after = page[page.length - 1];
    }
    const offered = new Set(ctx.config.auth.scramHashes);
    const lines = [
      `${accounts} accounts; scram_iterations ${rounds}`,
      ...SCRAM_HASHES.map((h) => `${HASH_LABEL[h]}${offered.has(h) ? '' : ' (not offered)'}: missing in ${counts[h].missing}, other iteration count in ${counts[h].otherIterations}`),
    ];
    return { exitCode: 0, lines, data: { accounts, iterations: rounds, offered: [...offered], hashes: counts } };
  },
};

/** The core's commands, by name, in help order. */
export const commands: ReadonlyMap<string, Command> = new Map(
  ([
    userAdd,
    userAddMany,
    userDel,
    userPasswd,
    userList,
    userCheck,
    userHashes,
    sessionList,
    sessionKick,
    status,
    reload,
    ...authCommands,
    migrateCommand,
    certMakeCommand,
    exportCommand,
    importCommand,
  ] satisfies Command[]).map((c): [string, Command] => [c.name, c]),
);

/** The core's commands and the modules' (ModuleDefinition.commands, collected by src/main.ts), in help order. */
export function commandRegistry(moduleCommands: readonly Command[]): ReadonlyMap<string, Command> {
  const all = new Map(commands);
  for (const command of moduleCommands) {
    if (all.has(command.name)) throw new ServerError('COMMAND_CLASH', `two administration commands are named "${command.name}"`);
    all.set(command.name, command);
  }
  return all;
}

/**
 * Checks the call against the command's spec, then runs it with what its kind needs. A server
 * command without `ctx.live` answers with its `whenStopped` result, or fails with NOT_RUNNING.
 */
export async function runCommand(command: Command, ctx: CommandContext, input: CommandInput): Promise<CommandResult> {
  checkInput(command, input);
  switch (command.runs) {
    case 'anywhere':
    case 'local':
    case 'config':
      return command.run(ctx, input);
    case 'server': {
      const live = ctx.live;
      if (live === undefined) {
        if (command.whenStopped !== undefined) return command.whenStopped(ctx);
        throw notRunningError(ctx.config.dataDir);
      }
      return command.run({ ...ctx, live }, input);
    }
  }
}
