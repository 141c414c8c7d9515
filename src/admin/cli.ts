// The `ratatosk` command line: strict argv parsing against the command registry, configuration,
// and rendering of results. When a server announces itself in <dataDir>/admin.json the command
// goes through its admin API (see http-api.ts); otherwise it runs here on the stores directly.
// Exit status: 0 success, 1 failure (or "no" from a check), 2 a malformed command line,
// 3 no server running (status).
import { EventEmitter, once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { loadConfig, type Config } from '../config/index.js';
import { ServerError } from '../errors.js';
import type { ModuleConfigSpec } from '../modules/config.js';
import type { NamedModuleStores } from '../modules/storage.js';
import { tuneHeapForServer } from '../runtime/heap.js';
import { openStores } from '../storage/index.js';
import { VERSION } from '../version.js';
import { StoreUnavailableError } from '../storage/types.js';
import { findServer, removeStale, sendCommand } from './api-client.js';
import {
  checkInput,
  commandHelp,
  commandRegistry,
  notRunningError,
  runCommand,
  UsageError,
  type BaseContext,
  type Command,
  type CommandInput,
  type CommandSpec,
  type OptionSpec,
} from './commands.js';

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  env: NodeJS.ProcessEnv;
  /** Where `serve` listens for SIGINT/SIGTERM (stop) and SIGHUP (reload); defaults to `process` (tests pass an emitter). */
  signals?: EventEmitter;
  /** The modules' configuration tables, stores and commands; defaults to those of src/main.ts (the built-in modules). */
  modules?: CliModules;
  /** Starts the server for `serve`; defaults to `startServer` from main.ts (tests pass a fake). */
  startServer?: StartServer;
}

/** `loadConfig` reads the configuration again as `serve` read it, for a reload (SIGHUP, `ratatosk reload`). */
export type StartServer = (config: Config, options: { loadConfig: () => Config; idleMemory?: boolean }) => Promise<{ stop(): Promise<void>; reload?(): Promise<unknown> }>;

/** What the CLI needs of the modules; only the composition root knows them. */
export interface CliModules {
  readonly configs: readonly ModuleConfigSpec<unknown>[];
  readonly stores: readonly NamedModuleStores[];
  readonly commands: readonly Command[];
}

/** The modules' parts, the commands they add to the core's, and every command the CLI knows. */
interface Registry {
  readonly modules: CliModules;
  readonly commands: ReadonlyMap<string, Command>;
  /** `serve` (CLI only) and the shared registry. */
  readonly specs: ReadonlyMap<string, CommandSpec>;
}

async function registryFor(io: CliIo): Promise<Registry> {
  const modules = io.modules ?? (await import('../main.js')).MODULE_PARTS;
  const all = commandRegistry(modules.commands);
  return { modules, commands: all, specs: new Map<string, CommandSpec>([[serveSpec.name, serveSpec], ...all]) };
}

const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { name: 'config', takesValue: true, valueName: 'file', summary: 'TOML configuration file (default: RATATOSK_CONFIG, then ./ratatosk.toml)' },
  { name: 'help', takesValue: false, summary: 'Show help; after a command, that command’s help' },
  { name: 'version', takesValue: false, summary: 'Print the version (also -V)' },
];

const serveSpec: CommandSpec = {
  name: 'serve',
  summary: 'Run the server until SIGINT or SIGTERM; SIGHUP reloads the configuration.',
  usage: 'serve',
  args: [],
  options: [],
};

/** Longest password or line accepted on standard input. */
const MAX_STDIN_LINE = 64 * 1024;

/** A command's name and arguments, without its options: the general help's first column. */
function synopsis(spec: CommandSpec): string {
  return spec.usage.split(/ \[| --/)[0] ?? spec.name;
}

function generalHelp(cliCommands: ReadonlyMap<string, CommandSpec>): string {
  const width = Math.max(...[...cliCommands.values()].map((c) => synopsis(c).length)) + 4;
  const lines = ['Usage: ratatosk [--config <file>] <command> [options]', '', 'Commands:'];
  for (const c of cliCommands.values()) lines.push(`  ${synopsis(c).padEnd(width)}${c.summary}`);
  lines.push('', 'Global options:');
  for (const o of GLOBAL_OPTIONS) lines.push(`  ${(o.takesValue ? `--${o.name} <${o.valueName ?? 'value'}>` : `--${o.name}`).padEnd(width)}${o.summary}`);
  lines.push(
    '',
    'While a server runs for the data directory (it announces itself in <data_dir>/admin.json), commands',
    'go through its local admin API; otherwise they work on the store directly.',
    'Run `ratatosk <command> --help` for a command’s options.',
  );
  return lines.join('\n');
}

interface GlobalOptions {
  config?: string;
  help: boolean;
  version: boolean;
}

/** Splits `--name=value` and `--name`; undefined for a token that is not an option. */
function optionToken(token: string): { name: string; value?: string } | undefined {
  if (!token.startsWith('-') || token === '-' || token === '--') return undefined;
  if (token === '-h') return { name: 'help' };
  if (token === '-V') return { name: 'version' };
  if (!token.startsWith('--')) return { name: token.slice(1) }; // reported as unknown
  const eq = token.indexOf('=');
  return eq === -1 ? { name: token.slice(2) } : { name: token.slice(2, eq), value: token.slice(eq + 1) };
}

function setGlobal(globals: GlobalOptions, name: string, value: string | true, where: string, spec?: CommandSpec): void {
  if (name === 'help' || name === 'version') {
    if (value !== true) throw new UsageError(`option "--${name}" takes no value`, spec);
    globals[name] = true;
    return;
  }
  if (value === true) throw new UsageError(`option "--config"${where} needs a value`, spec);
  if (globals.config !== undefined) throw new UsageError(`option "--config" given twice`, spec);
  globals.config = value;
}

interface ParsedCommandLine {
  globals: GlobalOptions;
  spec?: CommandSpec;
  input: CommandInput;
}

/** Parses argv strictly: globals, the command words, then the command's arguments and options. */
function parseCommandLine(argv: readonly string[], cliCommands: ReadonlyMap<string, CommandSpec>): ParsedCommandLine {
  const globals: GlobalOptions = { help: false, version: false };
  let i = 0;
  // Global options before the command.
  for (; i < argv.length; i++) {
    const token = argv[i] ?? '';
    const opt = optionToken(token);
    if (opt === undefined) break;
    if (!GLOBAL_OPTIONS.some((g) => g.name === opt.name)) throw new UsageError(`unknown option "${token.split('=')[0] ?? token}"`);
    const global = GLOBAL_OPTIONS.find((g) => g.name === opt.name);
    let value: string | true = opt.value ?? true;
    if (global?.takesValue && opt.value === undefined) {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`option "--${opt.name}" needs a value`);
      value = next;
      i++;
    }
    setGlobal(globals, opt.name, value, '');
  }
  const rest = argv.slice(i);
  if (rest.length === 0 || rest[0] === '--') return { globals, input: { args: {}, options: {} } };

  // `help <command...>` is `<command...> --help`.
  if (rest[0] === 'help') {
    globals.help = true;
    rest.shift();
    if (rest.length === 0) return { globals, input: { args: {}, options: {} } };
  }

  const twoWords = rest.length >= 2 ? `${rest[0]} ${rest[1]}` : undefined;
  // Three words for a group of a command's own (`user tokens revoke`).
  const threeWords = rest.length >= 3 ? `${rest[0]} ${rest[1]} ${rest[2]}` : undefined;
  let spec: CommandSpec | undefined;
  let consumed = 0;
  if (threeWords !== undefined && cliCommands.has(threeWords)) {
    spec = cliCommands.get(threeWords);
    consumed = 3;
  } else if (twoWords !== undefined && cliCommands.has(twoWords)) {
    spec = cliCommands.get(twoWords);
    consumed = 2;
  } else if (rest[0] !== undefined && cliCommands.has(rest[0])) {
    spec = cliCommands.get(rest[0]);
    consumed = 1;
  }
  if (spec === undefined) {
    const words = rest.slice(0, 2).filter((w) => !w.startsWith('-')).join(' ');
    throw new UnknownCommandError(words);
  }
  return { globals, spec, input: parseCommandArgs(spec, rest.slice(consumed), globals) };
}

function parseCommandArgs(spec: CommandSpec, tokens: readonly string[], globals: GlobalOptions): CommandInput {
  const args: Record<string, string> = {};
  const options: Record<string, string | true> = {};
  const positionals: string[] = [];
  let onlyPositionals = false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    if (!onlyPositionals && token === '--') {
      onlyPositionals = true;
      continue;
    }
    const opt = onlyPositionals ? undefined : optionToken(token);
    if (opt === undefined) {
      positionals.push(token);
      continue;
    }
    const option = spec.options.find((o) => o.name === opt.name);
    const global = GLOBAL_OPTIONS.find((g) => g.name === opt.name);
    const known = option ?? global;
    if (known === undefined) throw new UsageError(`unknown option "${token.split('=')[0] ?? token}" for "${spec.name}"`, spec);
    let value: string | true = opt.value ?? true;
    if (known.takesValue && opt.value === undefined) {
      const next = tokens[i + 1];
      if (next === undefined) throw new UsageError(`option "--${opt.name}" for "${spec.name}" needs a value`, spec);
      value = next;
      i++;
    }
    if (!known.takesValue && opt.value !== undefined) throw new UsageError(`option "--${opt.name}" for "${spec.name}" takes no value`, spec);
    if (option === undefined) {
      setGlobal(globals, opt.name, value, ` for "${spec.name}"`, spec);
      continue;
    }
    if (options[opt.name] !== undefined) throw new UsageError(`option "--${opt.name}" given twice for "${spec.name}"`, spec);
    options[opt.name] = value;
  }
  for (const [index, value] of positionals.entries()) {
    const arg = spec.args[index];
    if (arg === undefined) throw new UsageError(`unexpected argument "${value}" for "${spec.name}"`, spec);
    args[arg.name] = value;
  }
  return { args, options };
}

class UnknownCommandError extends Error {
  constructor(readonly words: string) {
    super(`unknown command "${words}"`);
    this.name = 'UnknownCommandError';
  }
}

/** The first line of `stream`, without its line ending; the rest is left unread. */
export function readFirstLine(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const decoder = new StringDecoder('utf8');
    let buffered = '';
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.pause();
    };
    const finish = (line: string): void => {
      cleanup();
      resolve(line.endsWith('\r') ? line.slice(0, -1) : line);
    };
    const onData = (chunk: Buffer | string): void => {
      buffered += typeof chunk === 'string' ? chunk : decoder.write(chunk);
      const nl = buffered.indexOf('\n');
      if (nl !== -1) finish(buffered.slice(0, nl));
      else if (buffered.length > MAX_STDIN_LINE) {
        cleanup();
        reject(new ServerError('STDIN_TOO_LONG', `the first line of standard input is longer than ${MAX_STDIN_LINE} characters`));
      }
    };
    const onEnd = (): void => finish(buffered + decoder.end());
    const onError = (err: Error): void => {
      cleanup();
      reject(new ServerError('STDIN_UNREADABLE', `cannot read standard input: ${err.message}`));
    };
    if (stream.readableEnded) {
      resolve('');
      return;
    }
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.resume();
  });
}

function write(stream: Writable, text: string): void {
  if (text !== '') stream.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Resolves with the first SIGINT or SIGTERM; a second one meets Node's default handler again. */
function nextShutdownSignal(signals: EventEmitter): Promise<string> {
  return new Promise((resolve) => {
    const on = (signal: string) => (): void => {
      signals.off('SIGINT', onInt);
      signals.off('SIGTERM', onTerm);
      resolve(signal);
    };
    const onInt = on('SIGINT');
    const onTerm = on('SIGTERM');
    signals.on('SIGINT', onInt);
    signals.on('SIGTERM', onTerm);
  });
}

async function serve(config: Config, loadAgain: () => Config, io: CliIo): Promise<number> {
  const signals = io.signals ?? process;
  // Listen before starting, so a signal during start-up still stops the server once it is up.
  const shutdown = nextShutdownSignal(signals);
  // SIGHUP would end the process by default: it reloads instead (the server logs the outcome; a bad file
  // changes nothing). One that arrives during start-up finds the configuration just read.
  let server: Awaited<ReturnType<StartServer>> | undefined;
  const onHangUp = (): void => void server?.reload?.().catch(() => undefined);
  signals.on('SIGHUP', onHangUp);
  try {
    const start = io.startServer ?? (await import('../main.js')).startServer;
    tuneHeapForServer();
    // The process is this server's alone, so it may switch V8 between memory and speed (src/runtime/idle-memory.ts).
    server = await start(config, { loadConfig: loadAgain, idleMemory: true });
    await shutdown;
    await server.stop();
    return 0;
  } finally {
    signals.off('SIGHUP', onHangUp);
  }
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let registry: Registry | undefined;
  try {
    registry = await registryFor(io);
    return await run(argv, io, registry);
  } catch (err) {
    const help = (): string => (registry === undefined ? '' : generalHelp(registry.specs));
    if (err instanceof UnknownCommandError) {
      write(io.stderr, `ratatosk: ${err.message}\n\n${help()}`);
      return 2;
    }
    if (err instanceof UsageError) {
      write(io.stderr, `ratatosk: ${err.message}\n\n${err.command ? commandHelp(err.command) : help()}`);
      return 2;
    }
    if (err instanceof ServerError || err instanceof StoreUnavailableError) {
      write(io.stderr, `ratatosk: ${err.message}`);
      return 1;
    }
    write(io.stderr, err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : `ratatosk: ${String(err)}`);
    return 1;
  }
}

/** Writes text to a stream, waiting while its buffer is full. */
async function writeAll(stream: Writable, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

/** Lines of a stream without their endings. */
function readLines(stream: Readable): AsyncIterable<string> {
  return createInterface({ input: stream, crlfDelay: Infinity });
}

function render(io: CliIo, result: { exitCode: number; lines: readonly string[] }): number {
  // "No" and failures go to stderr; answers (including status's "not running") to stdout.
  write(result.exitCode === 1 ? io.stderr : io.stdout, result.lines.join('\n'));
  return result.exitCode;
}

/**
 * Runs a command through the admin API of the server announced in the data directory.
 * Undefined when no server answers (a stale announcement is removed): run it locally.
 */
async function runRemote(command: Command, input: CommandInput, argsInOrder: readonly string[], config: Config, io: CliIo): Promise<number | undefined> {
  const notice = (line: string): void => write(io.stderr, line);
  const found = await findServer(config.dataDir, notice);
  if (found === undefined) return undefined;
  const readsStdin = command.options.some((o) => o.readsStdin === true && input.options[o.name] !== undefined);
  const stdin = readsStdin ? await readFirstLine(io.stdin) : undefined;
  const outcome = await sendCommand(found, { command: command.name, args: argsInOrder, options: input.options, ...(stdin === undefined ? {} : { stdin }) });
  if (outcome.kind === 'refused') {
    notice(`ratatosk: removed stale ${found.file}: nothing answers at ${found.endpoint.url}`);
    await removeStale(found);
    return undefined;
  }
  const { response } = outcome;
  for (const line of response.notices) notice(line);
  if (response.error !== undefined) {
    if (response.exitCode === 2) throw new UsageError(response.error.message, command);
    write(io.stderr, `ratatosk: ${response.error.message}`);
    return response.exitCode === 0 ? 1 : response.exitCode;
  }
  return render(io, response);
}

/** The configuration; for `reload`, a file that does not load is also said to change nothing on the server. */
function loadOrExplain(options: Parameters<typeof loadConfig>[0], spec: CommandSpec): Config {
  try {
    return loadConfig(options);
  } catch (err) {
    if (spec.name !== 'reload' || !(err instanceof ServerError)) throw err;
    throw new ServerError(err.code, `configuration not reloaded (a running server keeps its settings): ${err.message}`);
  }
}

async function run(argv: readonly string[], io: CliIo, registry: Registry): Promise<number> {
  const { globals, spec, input } = parseCommandLine(argv, registry.specs);
  if (globals.version) {
    write(io.stdout, `ratatosk ${VERSION}`);
    return 0;
  }
  if (spec === undefined) {
    if (globals.help) {
      write(io.stdout, generalHelp(registry.specs));
      return 0;
    }
    write(io.stderr, `ratatosk: no command given\n\n${generalHelp(registry.specs)}`);
    return 2;
  }
  if (globals.help) {
    write(io.stdout, commandHelp(spec));
    return 0;
  }

  checkInput(spec, input); // before reading any configuration, so a malformed call costs nothing
  const command = registry.commands.get(spec.name);
  if (command === undefined && spec !== serveSpec) throw new UnknownCommandError(spec.name);
  // The modules' own tables ([muc], ...), stores and migrations are known to the composition root only.
  const modules = registry.modules.configs;
  const migrations = registry.modules.stores.flatMap((m) => (m.stores.migrations === undefined ? [] : [m.stores.migrations]));
  const configOptions = globals.config === undefined ? { env: io.env, modules } : { file: globals.config, env: io.env, modules };
  const config = loadOrExplain(configOptions, spec);
  if (command === undefined) return serve(config, () => loadConfig(configOptions), io);

  const base: BaseContext = {
    config,
    migrations,
    modules: registry.modules.stores,
    readSecret: () => readFirstLine(io.stdin),
    notice: (line) => write(io.stderr, line),
    write: (text) => writeAll(io.stdout, text),
    inputLines: () => readLines(io.stdin),
  };
  const argsInOrder = command.args.map((a) => input.args[a.name]).filter((v): v is string => v !== undefined);
  switch (command.runs) {
    case 'config':
      return render(io, await command.run(base, input));
    case 'server': {
      const remote = await runRemote(command, input, argsInOrder, config, io);
      if (remote !== undefined) return remote;
      if (command.whenStopped !== undefined) return render(io, command.whenStopped(base));
      throw notRunningError(resolve(config.dataDir));
    }
    case 'anywhere': {
      const remote = await runRemote(command, input, argsInOrder, config, io);
      if (remote !== undefined) return remote;
      break;
    }
    case 'local':
      break;
  }
  const stores = await openStores(config, { modules: registry.modules.stores });
  try {
    return render(io, await runCommand(command, { ...base, stores }, input));
  } finally {
    await stores.close();
  }
}
