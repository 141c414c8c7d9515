// The validated, fully defaulted configuration every part of the server reads.
// File keys are snake_case TOML (see config/schema.ts); environment variables RATATOSK_* override them.
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  domain: string;
  dataDir: string;
  nodeId: string;
  /**
   * The host name or address clients use to reach this node, published in the cluster's node registry
   * for redirects (see-other-host) and discovery. Unset: the c2s listen address, or the machine's host
   * name when that is a wildcard.
   */
  publicHost?: string;
  logLevel: LogLevel;
  /** Bare JIDs allowed to use service administration. */
  admins: string[];
  c2s: {
    host: string;
    /** 0 picks a free port (tests); -1 disables the listener. */
    port: number;
    tlsPort: number;
    requireTls: boolean;
    /** XEP-0388 SASL2 (with XEP-0386 Bind2) offered beside RFC 6120 SASL. */
    sasl2: boolean;
    maxStanzaSize: number;
    preAuthMaxStanzaSize: number;
    maxDepth: number;
    /** Seconds a new connection has to open its stream and authenticate. */
    authTimeout: number;
    /** Seconds of silence before the server pings a client (XEP-0199), and before it gives up. */
    pingInterval: number;
    pingTimeout: number;
    /** TCP keepalive delay in seconds; also the WebSocket ping period (a client silent for a period is pinged). */
    tcpKeepalive: number;
    /** Addresses/CIDR blocks whose connections to 5222/5223 must start with a PROXY protocol header. */
    proxyProtocolFrom: string[];
  };
  http: {
    host: string;
    port: number;
    /**
     * Proxies whose X-Forwarded-For/-Proto/-Host and Forwarded headers are believed (default loopback):
     * their requests are secure only when those headers say https (src/transports/client-origin.ts).
     */
    trustedProxies: string[];
    /** Addresses/CIDR blocks whose HTTP connections must start with a PROXY protocol header. */
    proxyProtocolFrom: string[];
    maxWebsocketFrame: number;
    /** Largest BOSH request body in bytes (XEP-0124); a larger one ends its session with policy-violation. */
    maxBoshBody: number;
    /** Seconds a BOSH session may go without any request before it ends (XEP-0124 §10 'inactivity'). */
    boshInactivity: number;
    /** Origins browsers may call the BOSH endpoint from (CORS); "*" allows any. */
    corsOrigins: string[];
    /** The WebSocket URL host-meta (XEP-0156) advertises; unset: derived from each request. */
    publicWebsocketUrl?: string;
    /** The BOSH URL host-meta (XEP-0156) advertises; unset: derived from each request. */
    publicBoshUrl?: string;
  };
  /** The local admin HTTP API the CLI talks to while the server runs (loopback only, token-protected). */
  admin: {
    /** A loopback address: 127.0.0.0/8 or ::1. */
    host: string;
    /** 0 picks a free port; -1 disables the API (the CLI then works on the store directly). */
    port: number;
  };
  /** Who may read /metrics (Prometheus) on the HTTP port: addresses and CIDR blocks; loopback by default. */
  metrics: {
    allow: string[];
    /** How often the event loop's delay is sampled for the nodejs_eventloop_lag_* gauges, ms. */
    eventLoopSampleMs: number;
  };
  /** While the event loop is nearly idle, V8 favours memory over speed (src/runtime/idle-memory.ts). */
  memory: { favourWhenIdle: boolean };
  tls: { cert?: string; key?: string };
  database: {
    url?: string;
    /** How long `serve` keeps retrying an unreachable PostgreSQL at start-up; unset: 60 s. */
    startupRetrySeconds?: number;
  };
  redis: {
    url?: string;
    sentinels: string[];
    sentinelName?: string;
    cluster: string[];
    /** How long a stanza waits for Redis to answer during a fail-over before it is bounced; unset: 10 s. */
    failoverWaitSeconds?: number;
  };
  /** The modules' own tables as given (after environment and overrides), by section; each module validates and reads its own (src/modules/config.ts). */
  sections?: Readonly<Record<string, unknown>>;
  /** Per-session and per-address limits on client connections ([limits]; src/stream/limits.ts). */
  limits: {
    /** Connections (TCP, direct TLS, WebSocket, BOSH sessions) one client address may hold at once. */
    maxConnectionsPerAddress: number;
    /** Of those, how many may not have bound a resource yet. */
    maxPreAuthPerAddress: number;
    /** Bytes per second a session may send before authentication, and how many it may send at once. */
    readRatePreAuth: number;
    readBurstPreAuth: number;
    /** The same once authenticated; over the rate, reading pauses (nothing is dropped). */
    readRate: number;
    readBurst: number;
    /** Stanzas per second a session may send (and a burst); over it, its stanzas wait their turn. */
    stanzaRate: number;
    stanzaBurst: number;
    /** Bytes of received stanzas waiting to be processed before the stream ends with policy-violation. */
    maxBacklogBytes: number;
    /** Bytes written to a client but not yet taken by it before it is disconnected with policy-violation. */
    maxOutputBytes: number;
  };
  auth: {
    scramIterations: number;
    /** SCRAM hashes offered and derived at password changes (default all: 'sha1', 'sha256', 'sha512'). */
    scramHashes: Array<'sha1' | 'sha256' | 'sha512'>;
    /** Attempts of one (address, account) pair before each further one is delayed, and the longest delay. */
    failuresBeforeDelay: number;
    maxFailureDelayMs: number;
    /** Failed logins from one address, over all accounts, before its attempts are delayed. */
    addressFailuresBeforeDelay: number;
    /** Failure counters are forgotten after this long without an attempt. */
    failureWindowSeconds: number;
    /** Failures on one account within the window that lock it (0: never). */
    lockoutFailures: number;
    lockoutSeconds: number;
    /** A successful login exempts its (address, account) pair from the account's lock this long (0: never). */
    trustedLoginSeconds: number;
    /** Most counters one node keeps in memory (least recently used go first). */
    maxTracked: number;
  };
}
