// The configuration file's shape: snake_case TOML keys mirroring `Config`, validated with zod.
// Every table is strict, so a misspelt key is reported instead of silently ignored. Each error
// message is the "expected …" half of an operator message; load.ts adds the key path, the value
// it got and where that value came from.
import { BlockList, isIP } from 'node:net';
import { hostname } from 'node:os';
import { z } from 'zod';
import { Jid } from '../jid.js';
import type { Config, LogLevel } from './types.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LogLevel[];

/** Largest setTimeout delay, in whole seconds; longer timers would fire at once. */
const MAX_SECONDS = Math.floor(0x7fffffff / 1000);
const MAX_BYTES = 64 * 1024 * 1024;

export const expect = (what: string) => ({ error: `expected ${what}` });

export function integer(min: number, max: number) {
  const e = expect(`an integer between ${min} and ${max}`);
  return z.int(e).min(min, e).max(max, e);
}

/** A listen port: 0 picks a free port (tests), -1 disables the listener. */
export const port = integer(-1, 65535);
export const seconds = integer(1, MAX_SECONDS);
const bytes = integer(1024, MAX_BYTES);
export const bool = z.boolean(expect('true or false'));
export const text = z.string(expect('a non-empty string')).min(1, expect('a non-empty string'));

/** A listen address: an IP literal or a host name, without brackets or port. */
export const host = z.string(expect('an IP address or host name')).refine(
  (s) => isIP(s) !== 0 || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(s),
  expect('an IP address or host name'),
);

/** The loopback ranges, the one list of them (also the trusted-proxy default and client-origin.ts's check). */
export const LOOPBACK_RANGES: readonly string[] = ['127.0.0.0/8', '::1'];

const loopbacks = new BlockList();
for (const range of LOOPBACK_RANGES) {
  const [address = '', bits] = range.split('/');
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  if (bits === undefined) loopbacks.addAddress(address, family);
  else loopbacks.addSubnet(address, Number(bits), family);
}

/** True for an IP literal in 127.0.0.0/8 or ::1 (host names do not count: they may resolve elsewhere). */
export function isLoopbackAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return loopbacks.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** A listen address that only this machine can reach. */
const loopbackHost = z
  .string(expect('a loopback address (127.0.0.0/8 or ::1)'))
  .refine(isLoopbackAddress, expect('a loopback address (127.0.0.0/8 or ::1)'));

function list<T extends z.ZodType>(item: T, what: string) {
  return z.array(item, expect(`a list of ${what}`)).default([]);
}

export const domain = z.string(expect('a domain name')).transform((s, ctx) => {
  try {
    const d = Jid.normaliseDomain(s);
    if (d.split('.').some((label) => label === '' || Buffer.byteLength(label) > 63)) throw new Error('empty or over-long label');
    return d;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected a domain name such as example.org' });
    return z.NEVER;
  }
});

const bareJid = z.string(expect('a bare JID (user@domain)')).transform((s, ctx) => {
  const jid = Jid.tryParse(s);
  if (!jid || jid.local === '' || !jid.isBare) {
    ctx.addIssue({ code: 'custom', message: 'expected a bare JID (user@domain)' });
    return z.NEVER;
  }
  return jid.toString();
});

const nodeId = z
  .string(expect('a node id'))
  .regex(/^[^\s\u0000-\u001f\u007f]{1,255}$/u, expect('a node id of 1 to 255 characters without spaces'));

/** An IP address or a CIDR block such as 10.0.0.0/8 or fd00::/8. */
const addressOrCidr = z.string(expect('an IP address or CIDR block')).refine((s) => {
  const [ip = '', prefix, extra] = s.split('/');
  const family = isIP(ip);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}, expect('an IP address or CIDR block'));

/** host:port, with an IPv6 host in brackets ([::1]:26379). */
const hostPort = z.string(expect('host:port')).refine((s) => {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(s);
  return m !== null && Number(m[2]) >= 1 && Number(m[2]) <= 65535 && (!m[1]?.startsWith('[') || isIP(m[1].slice(1, -1)) === 6);
}, expect('host:port'));

function url(protocols: readonly string[]) {
  const what = `a ${protocols.map((p) => `${p}//`).join(' or ')} URL`;
  return z.string(expect(what)).refine((s) => URL.canParse(s) && protocols.includes(new URL(s).protocol), expect(what));
}

function table<S extends z.ZodRawShape>(shape: S) {
  return z.strictObject(shape, expect('a table'));
}

export const C2S_DEFAULT_HOST = '::';

const c2sShape = {
  host: host.default(C2S_DEFAULT_HOST),
  port: port.default(5222),
  tls_port: port.default(5223),
  require_tls: bool.default(true),
  sasl2: bool.default(true),
  max_stanza_size: bytes.default(262144),
  pre_auth_max_stanza_size: bytes.default(10240),
  max_depth: integer(1, 10000).default(64),
  auth_timeout: seconds.default(30),
  ping_interval: seconds.default(300),
  ping_timeout: seconds.default(60),
  tcp_keepalive: seconds.default(60),
  /** Peers (load balancers) whose connections start with a PROXY protocol header, v1 or v2. */
  proxy_protocol_from: list(addressOrCidr, 'IP addresses or CIDR blocks'),
};

/** A browser origin (scheme://host[:port], no path) or "*" for any. */
const corsOrigin = z
  .string(expect('an origin such as "https://example.org", or "*"'))
  .refine((s) => s === '*' || /^https?:\/\/[^\s/?#]+$/.test(s), expect('an origin such as "https://example.org", or "*"'));

const httpShape = {
  host: host.default(C2S_DEFAULT_HOST),
  port: port.default(5280),
  /** Whose X-Forwarded-* / Forwarded headers are believed; loopback by default (a proxy beside the node). */
  trusted_proxies: z.array(addressOrCidr, expect('a list of IP addresses or CIDR blocks')).default([...LOOPBACK_RANGES]),
  proxy_protocol_from: list(addressOrCidr, 'IP addresses or CIDR blocks'),
  /** Defaults to c2s.max_stanza_size + 4096 (see toConfig). */
  max_websocket_frame: bytes.optional(),
  /** Defaults to c2s.max_stanza_size + 8192 (see toConfig). */
  max_bosh_body: bytes.optional(),
  bosh_inactivity: integer(1, 3600).default(60),
  cors_origins: z.array(corsOrigin, expect('a list of origins such as "https://example.org", or "*"')).default(['*']),
  /** What /.well-known/host-meta advertises behind a proxy; unset: derived from the request. */
  public_websocket_url: url(['ws:', 'wss:']).optional(),
  public_bosh_url: url(['http:', 'https:']).optional(),
};

export const ADMIN_DEFAULT_PORT = 5281;

const adminShape = {
  host: loopbackHost.default('127.0.0.1'),
  port: port.default(ADMIN_DEFAULT_PORT),
};

const tlsShape = { cert: text.optional(), key: text.optional() };
const databaseShape = {
  url: url(['postgres:', 'postgresql:']).optional(),
  startup_retry_seconds: integer(0, 3600).optional(),
};
const redisShape = {
  url: url(['redis:', 'rediss:']).optional(),
  sentinels: list(hostPort, 'host:port'),
  sentinel_name: text.optional(),
  cluster: list(hostPort, 'host:port'),
  failover_wait_seconds: integer(1, 300).optional(),
};
const SCRAM_HASH_NAMES = ['SHA-1', 'SHA-256', 'SHA-512'] as const;
const SCRAM_HASH_IDS = ['sha1', 'sha256', 'sha512'] as const;
/** "SHA-256" as operators write it (also "sha256", as the server names it internally). */
const scramHash = z.string(expect(`one of ${SCRAM_HASH_NAMES.join(', ')}`)).transform((s, ctx) => {
  const id = SCRAM_HASH_IDS.find((h) => h === s.toLowerCase().replace('-', ''));
  if (id === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected one of ${SCRAM_HASH_NAMES.join(', ')}, got "${s}"` });
    return z.NEVER;
  }
  return id;
});
const authShape = {
  scram_iterations: integer(1, 10_000_000).default(4096),
  /** The SCRAM hashes offered (RFC 5802, RFC 7677, SHA-512), and those a password change derives keys for. */
  scram_hashes: z.array(scramHash, expect('a list of SCRAM hashes'))
    .min(1, expect('at least one SCRAM hash'))
    .default([...SCRAM_HASH_IDS]),
  failures_before_delay: integer(0, 1_000_000).default(3),
  max_failure_delay_ms: integer(0, 3_600_000).default(5000),
  address_failures_before_delay: integer(0, 1_000_000).default(20),
  failure_window_seconds: seconds.default(900),
  lockout_failures: integer(0, 1_000_000).default(10),
  lockout_seconds: seconds.default(900),
  trusted_login_seconds: integer(0, MAX_SECONDS).default(604_800),
  max_tracked: integer(100, 100_000_000).default(100_000),
};

/** Per-session and per-address limits on client connections (src/stream/limits.ts). */
const limitsShape = {
  max_connections_per_address: integer(1, 1_000_000).default(100),
  max_pre_auth_per_address: integer(1, 1_000_000).default(20),
  read_rate_pre_auth: integer(100, MAX_BYTES).default(10240),
  read_burst_pre_auth: integer(1024, MAX_BYTES).default(32768),
  read_rate: integer(100, MAX_BYTES).default(102400),
  read_burst: integer(1024, MAX_BYTES).default(1048576),
  stanza_rate: integer(1, 1_000_000).default(100),
  stanza_burst: integer(1, 1_000_000).default(200),
  max_backlog_bytes: bytes.default(1048576),
  max_output_bytes: bytes.default(4194304),
};

/**
 * [metrics] event_loop_sample_ms: how often prom-client's loop-delay histogram (perf_hooks.monitorEventLoopDelay)
 * samples, ms. Its own default, 10 ms, is a timer that wakes the event loop 100 times a second however idle the
 * node is. On this project's test
 * machine each wake-up cost 50-80 µs of CPU: 5-8 ms a second, as much as an idle node with 1,000 sessions spent
 * on everything else, and 25 µs on each message at 200 messages a second (loadtest/RESULTS.md, "The loop-delay
 * sampler"). Each sample is the interval between two timer callbacks, so prom-client's nodejs_eventloop_lag_*
 * gauges read this interval plus the delay; ratatosk_event_loop_sample_seconds exports the interval so that a
 * dashboard can subtract it.
 */
export const DEFAULT_EVENT_LOOP_SAMPLE_MS = 100;

/** [metrics]: who may read /metrics on the HTTP port (the client address as client-origin.ts believes it), and the above. */
const metricsShape = {
  allow: z.array(addressOrCidr, expect('a list of IP addresses or CIDR blocks')).default([...LOOPBACK_RANGES]),
  event_loop_sample_ms: integer(1, 60_000).default(DEFAULT_EVENT_LOOP_SAMPLE_MS),
};

/** [memory]: how the process trades memory against speed (src/runtime/idle-memory.ts). */
const memoryShape = {
  favour_when_idle: bool.default(true),
};

const topShape = {
  domain: domain.default('localhost'),
  data_dir: text.default('./data'),
  node_id: nodeId.default(() => hostname()),
  public_host: host.optional(),
  log_level: z.enum(LOG_LEVELS, expect(`one of ${LOG_LEVELS.join(', ')}`)).default('info'),
  admins: list(bareJid, 'bare JIDs'),
  c2s: table(c2sShape).prefault({}),
  http: table(httpShape).prefault({}),
  admin: table(adminShape).prefault({}),
  tls: table(tlsShape).prefault({}),
  database: table(databaseShape).prefault({}),
  redis: table(redisShape).prefault({}),
  auth: table(authShape).prefault({}),
  limits: table(limitsShape).prefault({}),
  metrics: table(metricsShape).prefault({}),
  memory: table(memoryShape).prefault({}),
};

export const fileSchema = table(topShape);
export type FileConfig = z.output<typeof fileSchema>;

const TABLE_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(topShape),
  c2s: Object.keys(c2sShape),
  http: Object.keys(httpShape),
  admin: Object.keys(adminShape),
  tls: Object.keys(tlsShape),
  database: Object.keys(databaseShape),
  redis: Object.keys(redisShape),
  auth: Object.keys(authShape),
  limits: Object.keys(limitsShape),
  metrics: Object.keys(metricsShape),
  memory: Object.keys(memoryShape),
};

/** The keys a table accepts ('' is the top level), for "did you mean" hints. */
export function knownKeys(table: string): readonly string[] {
  return TABLE_KEYS[table] ?? [];
}

/** A rule that spans keys, which the per-key schema cannot express. */
export interface RelationIssue {
  path: string[];
  /** The path as messages show it, when it is not path.join('.') (`components[1].domain`). */
  at?: string;
  message: string;
}

export function checkRelations(f: FileConfig): RelationIssue[] {
  const issues: RelationIssue[] = [];
  if (f.c2s.pre_auth_max_stanza_size > f.c2s.max_stanza_size) {
    issues.push({
      path: ['c2s', 'pre_auth_max_stanza_size'],
      message: `must not exceed c2s.max_stanza_size (${f.c2s.max_stanza_size}), got ${f.c2s.pre_auth_max_stanza_size}`,
    });
  }
  if (f.limits.max_pre_auth_per_address > f.limits.max_connections_per_address) {
    issues.push({
      path: ['limits', 'max_pre_auth_per_address'],
      message: `must not exceed limits.max_connections_per_address (${f.limits.max_connections_per_address}), got ${f.limits.max_pre_auth_per_address}`,
    });
  }
  if ((f.tls.cert === undefined) !== (f.tls.key === undefined)) {
    const missing = f.tls.cert === undefined ? 'cert' : 'key';
    const present = missing === 'cert' ? 'key' : 'cert';
    issues.push({ path: ['tls', missing], message: `is required when tls.${present} is set (give both, or neither for a self-signed certificate)` });
  }
  const redisModes = [
    f.redis.url !== undefined && 'redis.url',
    f.redis.sentinels.length > 0 && 'redis.sentinels',
    f.redis.cluster.length > 0 && 'redis.cluster',
  ].filter((m): m is string => m !== false);
  if (redisModes.length > 1) {
    issues.push({ path: ['redis'], message: `set only one of redis.url, redis.sentinels and redis.cluster, got ${redisModes.join(' and ')}` });
  }
  if (f.redis.sentinels.length > 0 && f.redis.sentinel_name === undefined) {
    issues.push({ path: ['redis', 'sentinel_name'], message: 'is required when redis.sentinels is set (the name of the monitored master)' });
  }
  if (f.redis.sentinel_name !== undefined && f.redis.sentinels.length === 0) {
    issues.push({ path: ['redis', 'sentinels'], message: 'must list at least one sentinel when redis.sentinel_name is set' });
  }
  const listeners = coreListeners({
    c2s: { host: f.c2s.host, port: f.c2s.port, tlsPort: f.c2s.tls_port },
    http: { host: f.http.host, port: f.http.port },
    admin: { host: f.admin.host, port: f.admin.port },
  });
  listeners.forEach((b, j) => {
    const a = listeners.slice(0, j).find((l) => samePort(l, b));
    if (a) issues.push({ path: b.key.split('.'), message: `must differ from ${a.key}, both are ${a.port}` });
  });
  return issues;
}

/** A TCP listener of the core, by the key that sets its port. */
export interface Listener {
  readonly key: string;
  readonly host: string;
  readonly port: number;
}

/** The core's listeners, for the rule that no two listen on one port (a module's listener checks against them). */
export function coreListeners(config: { c2s: Pick<Config['c2s'], 'host' | 'port' | 'tlsPort'>; http: Pick<Config['http'], 'host' | 'port'>; admin: Config['admin'] }): Listener[] {
  return [
    { key: 'c2s.port', host: config.c2s.host, port: config.c2s.port },
    { key: 'c2s.tls_port', host: config.c2s.host, port: config.c2s.tlsPort },
    { key: 'http.port', host: config.http.host, port: config.http.port },
    { key: 'admin.port', host: config.admin.host, port: config.admin.port },
  ];
}

/** Both listen on one fixed port of one address (0, a free port, and -1, disabled, never clash). */
export function samePort(a: Pick<Listener, 'host' | 'port'>, b: Pick<Listener, 'host' | 'port'>): boolean {
  return a.port > 0 && a.port === b.port && a.host === b.host;
}

/** Maps the validated file form onto the camelCase `Config` the server reads. */
export function toConfig(f: FileConfig): Config {
  const tls: Config['tls'] = {};
  if (f.tls.cert !== undefined) tls.cert = f.tls.cert;
  if (f.tls.key !== undefined) tls.key = f.tls.key;
  const database: Config['database'] = {};
  if (f.database.url !== undefined) database.url = f.database.url;
  if (f.database.startup_retry_seconds !== undefined) database.startupRetrySeconds = f.database.startup_retry_seconds;
  const redis: Config['redis'] = { sentinels: f.redis.sentinels, cluster: f.redis.cluster };
  if (f.redis.url !== undefined) redis.url = f.redis.url;
  if (f.redis.sentinel_name !== undefined) redis.sentinelName = f.redis.sentinel_name;
  if (f.redis.failover_wait_seconds !== undefined) redis.failoverWaitSeconds = f.redis.failover_wait_seconds;
  return {
    domain: f.domain,
    dataDir: f.data_dir,
    nodeId: f.node_id,
    ...(f.public_host !== undefined ? { publicHost: f.public_host } : {}),
    logLevel: f.log_level,
    admins: f.admins,
    c2s: {
      host: f.c2s.host,
      port: f.c2s.port,
      tlsPort: f.c2s.tls_port,
      requireTls: f.c2s.require_tls,
      sasl2: f.c2s.sasl2,
      maxStanzaSize: f.c2s.max_stanza_size,
      preAuthMaxStanzaSize: f.c2s.pre_auth_max_stanza_size,
      maxDepth: f.c2s.max_depth,
      authTimeout: f.c2s.auth_timeout,
      pingInterval: f.c2s.ping_interval,
      pingTimeout: f.c2s.ping_timeout,
      tcpKeepalive: f.c2s.tcp_keepalive,
      proxyProtocolFrom: f.c2s.proxy_protocol_from,
    },
    http: {
      host: f.http.host,
      port: f.http.port,
      trustedProxies: f.http.trusted_proxies,
      proxyProtocolFrom: f.http.proxy_protocol_from,
      // A WebSocket frame carries one stanza plus framing, so by default it follows the stanza cap.
      maxWebsocketFrame: f.http.max_websocket_frame ?? f.c2s.max_stanza_size + 4096,
      // A BOSH body usually carries one stanza; the margin is for the wrapper and a few small ones beside it.
      maxBoshBody: f.http.max_bosh_body ?? f.c2s.max_stanza_size + 8192,
      boshInactivity: f.http.bosh_inactivity,
      corsOrigins: f.http.cors_origins,
      ...(f.http.public_websocket_url !== undefined ? { publicWebsocketUrl: f.http.public_websocket_url } : {}),
      ...(f.http.public_bosh_url !== undefined ? { publicBoshUrl: f.http.public_bosh_url } : {}),
    },
    admin: { host: f.admin.host, port: f.admin.port },
    tls,
    database,
    redis,
    limits: {
      maxConnectionsPerAddress: f.limits.max_connections_per_address,
      maxPreAuthPerAddress: f.limits.max_pre_auth_per_address,
      readRatePreAuth: f.limits.read_rate_pre_auth,
      readBurstPreAuth: f.limits.read_burst_pre_auth,
      readRate: f.limits.read_rate,
      readBurst: f.limits.read_burst,
      stanzaRate: f.limits.stanza_rate,
      stanzaBurst: f.limits.stanza_burst,
      maxBacklogBytes: f.limits.max_backlog_bytes,
      maxOutputBytes: f.limits.max_output_bytes,
    },
    metrics: { allow: f.metrics.allow, eventLoopSampleMs: f.metrics.event_loop_sample_ms },
    memory: { favourWhenIdle: f.memory.favour_when_idle },
    auth: {
      scramIterations: f.auth.scram_iterations,
      scramHashes: [...new Set(f.auth.scram_hashes)],
      failuresBeforeDelay: f.auth.failures_before_delay,
      maxFailureDelayMs: f.auth.max_failure_delay_ms,
      addressFailuresBeforeDelay: f.auth.address_failures_before_delay,
      failureWindowSeconds: f.auth.failure_window_seconds,
      lockoutFailures: f.auth.lockout_failures,
      lockoutSeconds: f.auth.lockout_seconds,
      trustedLoginSeconds: f.auth.trusted_login_seconds,
      maxTracked: f.auth.max_tracked,
    },
  };
}
