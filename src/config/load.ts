// Loads the configuration once at start-up: defaults, then the TOML file, then RATATOSK_*
// environment variables, then programmatic overrides (tests). Every mistake is a ServerError
// whose message names the key or variable, what was expected and what was found.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { ServerError } from '../errors.js';
import { issuePath, type ModuleConfigSpec, type ModuleEnvVar } from '../modules/config.js';
import { checkRelations, fileSchema, knownKeys, toConfig, type RelationIssue } from './schema.js';
import type { Config } from './types.js';

export type DeepPartial<T> = T extends readonly (infer U)[]
  ? U[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

export interface LoadConfigOptions {
  /** TOML file to read. Defaults to RATATOSK_CONFIG, then ./ratatosk.toml if it exists; `false` reads no file. */
  file?: string | false;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** camelCase values applied last and validated like the rest; a key set to undefined falls back to its default. Module tables by their section name. */
  overrides?: DeepPartial<Config> & { readonly [section: string]: unknown };
  /** The modules' own tables ([muc], ...), validated with the rest; any other top-level table is an unknown key. */
  modules?: readonly ModuleConfigSpec<unknown>[];
  /** Directory for relative paths and the ./ratatosk.toml lookup; defaults to process.cwd(). */
  cwd?: string;
}

type EnvKind = ModuleEnvVar['kind'];

/** Every variable the core reads, and the file key it overrides (the modules declare their own). */
const ENV_VARS: Readonly<Record<string, ModuleEnvVar>> = {
  RATATOSK_DOMAIN: { path: ['domain'], kind: 'string' },
  RATATOSK_DATA_DIR: { path: ['data_dir'], kind: 'string' },
  RATATOSK_NODE_ID: { path: ['node_id'], kind: 'string' },
  RATATOSK_PUBLIC_HOST: { path: ['public_host'], kind: 'string' },
  RATATOSK_LOG_LEVEL: { path: ['log_level'], kind: 'string' },
  RATATOSK_ADMINS: { path: ['admins'], kind: 'list' },
  RATATOSK_C2S_HOST: { path: ['c2s', 'host'], kind: 'string' },
  RATATOSK_C2S_PORT: { path: ['c2s', 'port'], kind: 'integer' },
  RATATOSK_C2S_TLS_PORT: { path: ['c2s', 'tls_port'], kind: 'integer' },
  RATATOSK_REQUIRE_TLS: { path: ['c2s', 'require_tls'], kind: 'boolean' },
  RATATOSK_SASL2: { path: ['c2s', 'sasl2'], kind: 'boolean' },
  RATATOSK_HTTP_HOST: { path: ['http', 'host'], kind: 'string' },
  RATATOSK_HTTP_PORT: { path: ['http', 'port'], kind: 'integer' },
  RATATOSK_TRUSTED_PROXIES: { path: ['http', 'trusted_proxies'], kind: 'list' },
  RATATOSK_HTTP_PROXY_PROTOCOL_FROM: { path: ['http', 'proxy_protocol_from'], kind: 'list' },
  RATATOSK_C2S_PROXY_PROTOCOL_FROM: { path: ['c2s', 'proxy_protocol_from'], kind: 'list' },
  RATATOSK_PUBLIC_WEBSOCKET_URL: { path: ['http', 'public_websocket_url'], kind: 'string' },
  RATATOSK_PUBLIC_BOSH_URL: { path: ['http', 'public_bosh_url'], kind: 'string' },
  RATATOSK_ADMIN_PORT: { path: ['admin', 'port'], kind: 'integer' },
  RATATOSK_TLS_CERT: { path: ['tls', 'cert'], kind: 'string' },
  RATATOSK_TLS_KEY: { path: ['tls', 'key'], kind: 'string' },
  RATATOSK_DATABASE_URL: { path: ['database', 'url'], kind: 'string' },
  RATATOSK_DATABASE_STARTUP_RETRY_SECONDS: { path: ['database', 'startup_retry_seconds'], kind: 'integer' },
  RATATOSK_REDIS_URL: { path: ['redis', 'url'], kind: 'string' },
  RATATOSK_REDIS_SENTINELS: { path: ['redis', 'sentinels'], kind: 'list' },
  RATATOSK_REDIS_SENTINEL_NAME: { path: ['redis', 'sentinel_name'], kind: 'string' },
  RATATOSK_REDIS_CLUSTER: { path: ['redis', 'cluster'], kind: 'list' },
  RATATOSK_REDIS_FAILOVER_WAIT_SECONDS: { path: ['redis', 'failover_wait_seconds'], kind: 'integer' },
  RATATOSK_AUTH_FAILURES_BEFORE_DELAY: { path: ['auth', 'failures_before_delay'], kind: 'integer' },
  RATATOSK_AUTH_MAX_FAILURE_DELAY_MS: { path: ['auth', 'max_failure_delay_ms'], kind: 'integer' },
  RATATOSK_AUTH_LOCKOUT_FAILURES: { path: ['auth', 'lockout_failures'], kind: 'integer' },
  RATATOSK_AUTH_LOCKOUT_SECONDS: { path: ['auth', 'lockout_seconds'], kind: 'integer' },
  RATATOSK_MAX_CONNECTIONS_PER_ADDRESS: { path: ['limits', 'max_connections_per_address'], kind: 'integer' },
  RATATOSK_MAX_PRE_AUTH_PER_ADDRESS: { path: ['limits', 'max_pre_auth_per_address'], kind: 'integer' },
  RATATOSK_METRICS_ALLOW: { path: ['metrics', 'allow'], kind: 'list' },
  RATATOSK_METRICS_EVENT_LOOP_SAMPLE_MS: { path: ['metrics', 'event_loop_sample_ms'], kind: 'integer' },
  RATATOSK_MEMORY_FAVOUR_WHEN_IDLE: { path: ['memory', 'favour_when_idle'], kind: 'boolean' },
};

/** Read by loadConfig itself rather than mapped to a key. */
const CONFIG_VAR = 'RATATOSK_CONFIG';
const DEFAULT_FILE = 'ratatosk.toml';
const TRUE_WORDS = new Set(['true', '1', 'yes']);
const FALSE_WORDS = new Set(['false', '0', 'no']);

type Table = Record<string, unknown>;

function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = resolveFile(options.file, env, cwd);
  const fromEnv = options.file === undefined && Boolean(env[CONFIG_VAR]);

  const raw: Table = file === undefined ? {} : readToml(file, fromEnv ? ` (from ${CONFIG_VAR})` : '');
  /** Dotted key path → where its value came from, for messages. */
  const modules = options.modules ?? [];
  const sources = new Map<string, string>();
  applyEnv(raw, env, sources, modules);
  if (options.overrides) applyOverrides(raw, options.overrides, [], sources);

  // The core's keys, then each module's table under its section (and its other top-level keys), reported together.
  const owned = (m: ModuleConfigSpec<unknown>): string[] => [m.section, ...Object.keys(m.topLevel)];
  const core: Table = { ...raw };
  for (const m of modules) for (const key of owned(m)) delete core[key];
  const hints = (table: string): readonly string[] =>
    table === '' ? [...knownKeys(''), ...modules.flatMap(owned)] : (modules.find((m) => m.section === table)?.keys ?? knownKeys(table));
  const result = fileSchema.safeParse(core);
  const issues = result.success ? [] : [...result.error.issues];
  for (const m of modules) {
    const checked = m.schema.safeParse(raw[m.section] ?? {});
    if (!checked.success) issues.push(...checked.error.issues.map((i) => ({ ...i, path: [m.section, ...i.path] })));
    for (const [key, schema] of Object.entries(m.topLevel)) {
      const list = schema.safeParse(raw[key]);
      if (!list.success) issues.push(...list.error.issues.map((i) => ({ ...i, path: [key, ...i.path] })));
    }
  }
  if (!result.success || issues.length > 0) throw toServerError(issues, raw, sources, file, hints);
  const relations: RelationIssue[] = checkRelations(result.data);
  const sections: Record<string, unknown> = {};
  for (const m of modules) for (const key of owned(m)) if (raw[key] !== undefined) sections[key] = raw[key];
  const config = modules.length === 0 ? toConfig(result.data) : { ...toConfig(result.data), sections };
  // Every domain is served by one party: the server, or one module (a component, the MUC service...).
  const served = new Map<string, string>([[config.domain, 'domain']]);
  for (const m of modules) {
    const parsed = m.parse(raw[m.section], config);
    if (!parsed.ok) continue;
    const relation = (i: Parameters<typeof issuePath>[1], message: string): RelationIssue => ({ path: [i.section ?? m.section, ...i.path.map(String)], at: issuePath(m, i), message });
    relations.push(...m.check(parsed.settings, config).map((i) => relation(i, i.message)));
    for (const d of m.domains(parsed.settings)) {
      const at = issuePath(m, d);
      const first = served.get(d.domain);
      if (first === undefined) served.set(d.domain, at);
      else relations.push(relation(d, `must differ from ${first === 'domain' ? "the server's domain" : first} (${d.domain}): one domain, one service`));
    }
  }
  if (relations.length > 0) {
    throw new ServerError('CONFIG_INVALID', relations.map((r) => formatRelation(r, sources, file)).join('; '));
  }
  return config;
}

function resolveFile(option: string | false | undefined, env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  if (option === false) return undefined;
  const named = option ?? (env[CONFIG_VAR] || undefined);
  if (named !== undefined) return resolve(cwd, named);
  const local = resolve(cwd, DEFAULT_FILE);
  return existsSync(local) ? local : undefined;
}

const FS_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
};

function readToml(file: string, origin: string): Table {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : undefined;
    const reason = code === undefined ? String(err) : `${FS_REASONS[code] ?? 'error'} (${code})`;
    throw new ServerError('CONFIG_FILE_UNREADABLE', `cannot read configuration file ${file}${origin}: ${reason}`);
  }
  try {
    return parseToml(text);
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.replace(/^Invalid TOML document: /, '').split('\n')[0] ?? err.message;
      throw new ServerError('CONFIG_PARSE', `${file}:${err.line}:${err.column}: ${reason}\n${err.codeblock.trimEnd()}`);
    }
    throw new ServerError('CONFIG_PARSE', `${file}: ${String(err)}`);
  }
}

function setAt(root: Table, path: readonly string[], value: unknown): void {
  let table = root;
  for (const key of path.slice(0, -1)) {
    const next = table[key];
    if (isTable(next)) {
      table = next;
    } else if (next === undefined) {
      const created: Table = {};
      table[key] = created;
      table = created;
    } else {
      // The file has a non-table here; leave the value alone so validation reports it.
      return;
    }
  }
  const last = path[path.length - 1];
  if (last !== undefined) table[last] = value;
}

function getAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function applyEnv(raw: Table, env: NodeJS.ProcessEnv, sources: Map<string, string>, modules: readonly ModuleConfigSpec<unknown>[]): void {
  const vars: Record<string, ModuleEnvVar> = { ...ENV_VARS };
  for (const m of modules) Object.assign(vars, m.env);
  const unknown = Object.keys(env).filter((name) => name.startsWith('RATATOSK_') && name !== CONFIG_VAR && !(name in vars));
  if (unknown.length > 0) {
    const described = unknown.map((name) => {
      const hint = suggest(name, [...Object.keys(vars), CONFIG_VAR]);
      return `unknown environment variable ${name}${hint ? ` (did you mean ${hint}?)` : ''}`;
    });
    throw new ServerError('CONFIG_UNKNOWN_ENV', described.join('; '));
  }
  const problems: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    const spec = vars[name];
    if (!spec) continue;
    // An empty variable counts as unset, as `FOO=${BAR:-}` in compose files produces.
    if (value === undefined || value.trim() === '') continue;
    const converted = convertEnv(value.trim(), spec.kind);
    if (converted === undefined) {
      problems.push(`${spec.path.join('.')}: expected true, false, 1, 0, yes or no, got ${JSON.stringify(value)} (from ${name})`);
      continue;
    }
    setAt(raw, spec.path, converted);
    sources.set(spec.path.join('.'), `from ${name}`);
  }
  if (problems.length > 0) throw new ServerError('CONFIG_INVALID', problems.join('; '));
}

/** Turns an env string into the schema's type; a string that is not an integer stays a string, so validation names it. */
function convertEnv(value: string, kind: EnvKind): unknown {
  switch (kind) {
    case 'string':
      return value;
    case 'integer':
      return /^[+-]?\d+$/.test(value) ? Number(value) : value;
    case 'boolean': {
      const word = value.toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      return undefined;
    }
    case 'list':
      return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    default:
      return kind(value);
  }
}

const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function applyOverrides(raw: Table, overrides: object, path: string[], sources: Map<string, string>): void {
  for (const [key, value] of Object.entries(overrides)) {
    const keyPath = [...path, snake(key)];
    const existing = getAt(raw, keyPath);
    if (isTable(value) && (existing === undefined || isTable(existing))) {
      applyOverrides(raw, value, keyPath, sources);
      continue;
    }
    if (value === undefined) {
      const parent = getAt(raw, path);
      if (isTable(parent)) delete parent[snake(key)];
    } else {
      setAt(raw, keyPath, value);
    }
    sources.set(keyPath.join('.'), 'from overrides');
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value instanceof Date) return value.toISOString();
  if (isTable(value)) return 'a table';
  return JSON.stringify(value) ?? String(value);
}

/** Where the value at a path came from: the nearest env/override source, else the file if it holds the key. */
function sourceOf(path: readonly PropertyKey[], sources: Map<string, string>, file: string | undefined): string {
  const keys = path.filter((k): k is string => typeof k === 'string');
  for (let n = keys.length; n > 0; n--) {
    const found = sources.get(keys.slice(0, n).join('.'));
    if (found) return ` (${found})`;
  }
  return file !== undefined ? ` (in ${file})` : '';
}

function toServerError(
  issues: readonly z.core.$ZodIssue[],
  raw: Table,
  sources: Map<string, string>,
  file: string | undefined,
  hints: (table: string) => readonly string[] = knownKeys,
): ServerError {
  const unknown = issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ table: issue.path.map(String), key }))
      : [],
  );
  if (unknown.length > 0) {
    const described = unknown.map(({ table, key }) => {
      const full = [...table, key].join('.');
      const hint = suggest(key, hints(table.join('.')));
      const where = sources.has(full) || file === undefined ? 'overrides' : file;
      return `unknown key "${full}" in ${where}${hint ? ` (did you mean "${[...table, hint].join('.')}"?)` : ''}`;
    });
    return new ServerError('CONFIG_UNKNOWN_KEY', described.join('; '));
  }
  const described = issues.map((issue) => {
    const at = formatPath(issue.path);
    const got = describe(getAt(raw, issue.path));
    return `${at}: ${issue.message}, got ${got}${sourceOf(issue.path, sources, file)}`;
  });
  return new ServerError('CONFIG_INVALID', described.join('; '));
}

function formatRelation(issue: RelationIssue, sources: Map<string, string>, file: string | undefined): string {
  return `${issue.at ?? issue.path.join('.')}: ${issue.message}${sourceOf(issue.path, sources, file)}`;
}

/** The closest candidate within a small edit distance, for typo hints. */
function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 4)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
