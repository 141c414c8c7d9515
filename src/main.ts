// The composition root: config -> logger -> certificate -> stores -> router and sessions ->
// modules -> listeners. Read top to bottom; nothing else wires parts together.
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { CliModules } from './admin/cli.js';
import { commandRegistry, type Command } from './admin/commands.js';
import { clusterSessionAdmin } from './admin/cluster-sessions.js';
import { startAdminApi } from './admin/http-api.js';
import { localSessionAdmin } from './admin/live.js';
import { followAccountDeletions } from './cluster/account-deletions.js';
import { setUpAuth } from './auth/setup.js';
import { nodeEndpoints, openCluster, shutdownError, type NodeRegistry } from './cluster/index.js';
import { connectRedis, redisConfigured } from './cluster/redis-connection.js';
import type { Config } from './config/types.js';
import { HookBus } from './hooks/bus.js';
import type { CoreHooks } from './hooks/core-hooks.js';
import type { ModuleConfigSpec, NamedModuleStores, ServerInfo } from './modules/api.js';
import { adminCommandsOf } from './modules/commands.js';
import { DiscoRegistry } from './modules/disco-registry.js';
import { ModuleHost } from './modules/host.js';
import { createLogger, type Logger } from './observability/log.js';
import { ServerMetrics } from './observability/metrics.js';
import { metricsEndpoint } from './observability/metrics-endpoint.js';
import { IqRegistry } from './router/iq-registry.js';
import { Router } from './router/router.js';
import { LocalSessionRegistry } from './sessions/local-registry.js';
import type { TransportKind } from './sessions/types.js';
import { DEFAULT_STARTUP_RETRY_SECONDS, openStores } from './storage/index.js';
import type { Stores } from './storage/types.js';
import { StreamError } from './errors.js';
import { C2sStream, type C2sDeps } from './stream/c2s-stream.js';
import { StreamElementRegistry } from './stream/stream-elements.js';
import { ConnectionEvents } from './stream/connection-events.js';
import { AddressLimiter, connectionShaping } from './stream/limits.js';
import { mechanismsFor } from './stream/sasl/index.js';
import { accountCredentialSource } from './auth/credential-source.js';
import type { CredentialSource } from './stream/sasl/types.js';
import type { StreamEvents, StreamTransport } from './stream/transport.js';
import { BOSH_PATH, BoshEndpoint } from './transports/bosh.js';
import { loadOrCreateCertificate } from './transports/certificate.js';
import { ServingCertificate } from './transports/serving-certificate.js';
import { Reloader, type ReloadReport } from './runtime/reload.js';
import { startIdleMemoryMode } from './runtime/idle-memory.js';
import { restoreFastStringPrototype } from './runtime/fast-string-prototype.js';
import { createHostMeta, endpointsFromLeastLoaded, endpointsFromRequest, HOST_META_JSON_PATH, HOST_META_PATH } from './transports/host-meta.js';
import { HttpServer, ModuleHttpRoutes, sendJson, sendText, WEBSOCKET_PATH } from './transports/http-server.js';
import { boundPort, listenTcp } from './transports/tcp.js';
import { createWebSocketEndpoint } from './transports/websocket.js';
import { addressMatcher, ClientOriginRule } from './transports/client-origin.js';
import { ASSETS_PREFIX, createWebClient, WEB_CLIENT_PATH } from './transports/web-client.js';
import { VERSION } from './version.js';
import { NS } from './xml/ns.js';
import { BUILTIN_MODULES } from '../xeps/index.js';

export interface RunningServer {
  readonly config: Config;
  readonly ports: { c2s: number; c2sTls: number; http: number };
  readonly stores: Stores;
  readonly sessions: LocalSessionRegistry;
  readonly modules: ModuleHost;
  readonly disco: DiscoRegistry;
  readonly log: Logger;
  /** The cluster's nodes (this one alone without Redis): for `status` and XEP-0156 discovery. */
  readonly nodes: NodeRegistry;
  /** Starts a c2s stream on a transport made in-process (the fuzz tests'), as the listeners do for theirs. */
  connect(transport: StreamTransport & { attach(events: StreamEvents): void }): void;
  /** Reads the configuration again and applies what can change while running (src/runtime/reload.ts). */
  reload(): Promise<ReloadReport>;
  stop(): Promise<void>;
}

/** The built-in modules' configuration tables, for loadConfig (`modules`): validated with the core's keys. */
export const MODULE_CONFIGS: readonly ModuleConfigSpec<unknown>[] = BUILTIN_MODULES.flatMap((m) => (m.config === undefined ? [] : [m.config]));

/**
 * The built-in modules' stores: opened with the core's, their migrations applied at start and by
 * `ratatosk migrate`, their account data deleted with the account also when the CLI deletes it.
 */
export const MODULE_STORES: readonly NamedModuleStores[] = BUILTIN_MODULES.flatMap((m) => (m.stores === undefined ? [] : [{ name: m.name, stores: m.stores }]));

/** The built-in modules' administration commands (`ratatosk room list`, ...), beside the core's. */
export const MODULE_COMMANDS: readonly Command[] = BUILTIN_MODULES.flatMap((m) => adminCommandsOf(m));

/** What the CLI needs of the modules. */
export const MODULE_PARTS: CliModules = { configs: MODULE_CONFIGS, stores: MODULE_STORES, commands: MODULE_COMMANDS };

export interface StartOptions {
  log?: Logger;
  /** How a reload reads the configuration again: as at start (the same file, environment and modules). */
  loadConfig?: () => Config;
  /**
   * Run the idle-memory mode (src/runtime/idle-memory.ts) while this server runs, as `ratatosk serve` does. It
   * switches a V8 setting of the whole process, so tests, which run several servers in one process, leave it off.
   */
  idleMemory?: boolean;
}

/** Undoes one step of a start-up that failed later (a port in use, an unreachable database...). */
type StartupUndo = () => void | Promise<void>;

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  restoreFastStringPrototype();
  const undo: StartupUndo[] = [];
  try {
    return await startUp(config, options, undo);
  } catch (err) {
    // Close what was opened, so that the process can exit with the error instead of lingering half-started.
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch {
        // The start-up error is the one to report.
      }
    }
    throw err;
  }
}

async function startUp(config: Config, options: StartOptions, undo: StartupUndo[]): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.logLevel);
  const server: ServerInfo = { name: 'Ratatosk', version: VERSION, startedAt: Date.now() };
  log.info({ domain: config.domain, node: config.nodeId, version: server.version }, 'starting Ratatosk');

  const certificate = await loadOrCreateCertificate(config, log);
  const serving = new ServingCertificate(certificate);
  let servedFingerprint = certificate.fingerprint;
  const stores = await openStores(config, { modules: MODULE_STORES, retry: { seconds: config.database.startupRetrySeconds ?? DEFAULT_STARTUP_RETRY_SECONDS, log } });
  undo.push(() => stores.close());

  const hooks = new HookBus<CoreHooks>(log);
  const sessions = new LocalSessionRegistry();
  // Prometheus metrics (README "Metrics"), served at /metrics below.
  const metrics = new ServerMetrics({ nodeId: config.nodeId, sessions, eventLoopSampleMs: config.metrics.eventLoopSampleMs });
  if (stores.engine.kind === 'postgres') metrics.watchPool(stores.engine.db.pool);
  const idleMemory = options.idleMemory ? startIdleMemoryMode(() => config.memory.favourWhenIdle, { stanzasIn: () => metrics.traffic.receivedTotal, sessions: () => sessions.size }) : undefined;
  if (idleMemory !== undefined) {
    undo.push(() => idleMemory.stop());
    metrics.watchMemoryFavouring(idleMemory);
  }
  const iqs = new IqRegistry();
  const disco = new DiscoRegistry();
  const streamElements = new StreamElementRegistry();
  // Clustering on Redis when redis.* is set (src/cluster/README.md); otherwise this node alone, as ever.
  const cluster = await openCluster({ config, log, sessions, hooks, connections: () => openStreams.size, observeRedis: metrics.observeRedis });
  undo.push(() => cluster.stop());
  const router = new Router({ domain: config.domain, sessions, accounts: stores.accounts, hooks, iqs, log, remote: cluster.remote, routing: metrics.routing });
  const httpRoutes = new ModuleHttpRoutes();
  // `session list|kick` see every node; this node answers the others' asking even with its own admin API off.
  const sessionAdmin = clusterSessionAdmin({
    nodeId: config.nodeId,
    local: localSessionAdmin(sessions, config.nodeId),
    ...(cluster.remote ? { cluster: { remote: cluster.remote, registry: cluster.registry } } : {}),
  });
  undo.push(() => sessionAdmin.stop());
  // An account deleted anywhere ends its sessions on every node (the core's 'account:deleted' listener).
  const stopFollowingDeletions = followAccountDeletions({
    nodeId: config.nodeId,
    domain: config.domain,
    hooks,
    sessions,
    log,
    ...(cluster.remote ? { cluster: { remote: cluster.remote, registry: cluster.registry } } : {}),
  });
  undo.push(() => stopFollowingDeletions());
  const modules = new ModuleHost({ config, server, log, stores, sessions, hooks, iqs, router, disco, streamElements, remote: cluster.remote, placement: cluster.placement, exclusive: cluster.exclusive, sessionsEverywhere: () => sessionAdmin.sessions(), httpRoutes, metrics: { timeStore: metrics.timeStore } });
  undo.push(() => modules.stopAll());
  await modules.startAll(BUILTIN_MODULES);
  await cluster.start(router);

  // The login throttle counts in Redis when the cluster runs on it (its own connection), else in memory.
  const authRedis = redisConfigured(config.redis) ? await connectRedis(config.redis, `${config.nodeId}-auth`, log) : undefined;
  if (authRedis) undo.push(() => authRedis.close());
  if (authRedis) metrics.observeRedis(authRedis.client, 'auth');
  const { throttle, standIns } = await setUpAuth(config, log, authRedis?.client);
  undo.push(() => throttle.close());
  const credentials: CredentialSource = accountCredentialSource(stores.accounts, standIns, config.auth, log.child({ component: 'auth' }));
  const streamDeps: C2sDeps = { config, log, router, sessions, hooks, credentials, throttle, mechanisms: mechanismsFor(config.auth.scramHashes), streamElements, traffic: metrics.traffic, logins: metrics.logins };
  const openStreams = new Map<C2sStream, StreamTransport>();
  metrics.watchConnections(() => openStreams.values());
  // [limits]: connections and unauthenticated connections per client address, over every transport.
  const perAddress = new AddressLimiter({ maxConnections: config.limits.maxConnectionsPerAddress, maxPreAuth: config.limits.maxPreAuthPerAddress });
  const connect = (transport: StreamTransport & { attach(events: StreamEvents): void }): void => {
    const ticket = perAddress.admit(transport.remoteAddress);
    const refused = typeof ticket === 'string' ? new StreamError('policy-violation', ticket) : undefined;
    const stream = new C2sStream(transport, streamDeps, typeof ticket === 'string' ? undefined : () => ticket.authenticated());
    openStreams.set(stream, transport);
    transport.attach(new ConnectionEvents(stream, typeof ticket === 'string' ? undefined : ticket, refused, openStreams));
    // RFC 6120 §4.9.3.18: the stream is opened and closed with policy-violation at once.
    if (refused && transport.kind !== 'bosh') {
      log.debug({ remote: transport.remoteAddress, transport: transport.kind }, refused.text ?? 'connection refused');
      stream.fail(refused);
    }
  };
  const limits = { maxStanzaBytes: config.c2s.preAuthMaxStanzaSize, maxDepth: config.c2s.maxDepth };
  const shaping = connectionShaping(config.limits);

  const tcpServers: net.Server[] = [];
  undo.push(() => void tcpServers.map((s) => s.close()));
  const tcpOptions = { log, secureContext: serving.secureContext, certificate: serving.pem, serving, limits, shaping, keepaliveSeconds: config.c2s.tcpKeepalive, onConnection: connect };
  const c2sProxies = config.c2s.proxyProtocolFrom.length > 0 ? { proxyProtocolFrom: addressMatcher(config.c2s.proxyProtocolFrom) } : {};
  let c2sPort = -1;
  let c2sTlsPort = -1;
  if (config.c2s.port >= 0) {
    const s = await listenTcp({ ...tcpOptions, ...c2sProxies, host: config.c2s.host, port: config.c2s.port, directTls: false });
    tcpServers.push(s);
    c2sPort = boundPort(s);
  }
  if (config.c2s.tlsPort >= 0) {
    const s = await listenTcp({ ...tcpOptions, ...c2sProxies, host: config.c2s.host, port: config.c2s.tlsPort, directTls: true });
    tcpServers.push(s);
    c2sTlsPort = boundPort(s);
  }

  // One rule for who a client is and whether its path is secure: WebSocket, BOSH and host-meta alike.
  const origins = new ClientOriginRule(config.http.trustedProxies);
  const originOf = origins.ofRequest.bind(origins);
  const websocket = createWebSocketEndpoint(
    {
      log,
      limits,
      shaping,
      maxFrameBytes: config.http.maxWebsocketFrame,
      keepaliveSeconds: config.c2s.tcpKeepalive,
      originOf,
    },
    connect,
  );
  const httpProxies = config.http.proxyProtocolFrom.length > 0 ? { proxyProtocolFrom: addressMatcher(config.http.proxyProtocolFrom) } : {};
  const http = new HttpServer({ host: config.http.host, port: config.http.port, log, websocket, moduleRoutes: httpRoutes, ...httpProxies });
  http.route('/healthz', (_req, res) => sendJson(res, 200, { status: 'ok', node: config.nodeId, sessions: sessions.size, store: stores.kind, uptimeSeconds: Math.round((Date.now() - server.startedAt) / 1000) }));
  // Prometheus metrics: for operators, from the addresses in [metrics] allow.
  http.route('/metrics', metricsEndpoint({ metrics, originOf, allowed: addressMatcher(config.metrics.allow) }));
  // The web client (Converse.js) at `/`; without the package, a line of text says where to connect.
  // Converse shows its sign-up form when a stream from this browser would offer in-band registration: the stream
  // features tell, as they tell any client (XEP-0077 §4), whichever module provides it.
  const registrationOffered = async (request: IncomingMessage, transport: TransportKind): Promise<boolean> => {
    const features = await hooks.fold('stream:features', [], { authenticated: false, transport, secure: originOf(request).secure });
    return features.some((f) => f.name === 'register' && f.attrs.xmlns === NS.registerFeature);
  };
  const webClient = createWebClient({ domain: config.domain, registrationOffered, log });
  if (webClient) {
    http.route(WEB_CLIENT_PATH, webClient.page);
    http.routePrefix(ASSETS_PREFIX, webClient.assets);
  } else {
    http.route(WEB_CLIENT_PATH, (_req, res) => sendText(res, 200, `Ratatosk XMPP server for ${config.domain}\nWebSocket: /xmpp-websocket\n`));
  }
  // XEP-0156: where clients find the WebSocket and BOSH endpoints. A cluster replaces endpointsFor
  // with one that names the least-loaded live node.
  const ownEndpoints = endpointsFromRequest({
    websocketPath: WEBSOCKET_PATH,
    boshPath: BOSH_PATH,
    originOf,
    publicWebsocketUrl: config.http.publicWebsocketUrl,
    publicBoshUrl: config.http.publicBoshUrl,
  });
  // Behind a load balancer (public URLs configured) the balancer picks the node; otherwise a cluster
  // sends each client to the least-loaded live node (the seeds' service registry).
  const clustered = config.redis.url !== undefined || config.redis.sentinels.length > 0 || config.redis.cluster.length > 0;
  const behindBalancer = config.http.publicWebsocketUrl !== undefined || config.http.publicBoshUrl !== undefined;
  const hostMeta = createHostMeta({
    log,
    endpointsFor: clustered && !behindBalancer ? endpointsFromLeastLoaded(() => cluster.registry.leastLoadedNode(), ownEndpoints) : ownEndpoints,
  });
  http.route(HOST_META_PATH, hostMeta.xrd);
  http.route(HOST_META_JSON_PATH, hostMeta.jrd);
  // XEP-0124/XEP-0206: each BOSH session is one more c2s stream.
  const bosh = new BoshEndpoint(
    { domain: config.domain, log, limits, shaping, maxBodyBytes: config.http.maxBoshBody, inactivity: config.http.boshInactivity, corsOrigins: config.http.corsOrigins, originOf },
    connect,
  );
  http.route(BOSH_PATH, bosh.handle);
  undo.push(() => bosh.close());
  const httpPort = config.http.port >= 0 ? await http.listen() : -1;
  if (httpPort >= 0) httpRoutes.boundPort = httpPort;
  if (httpPort >= 0) undo.push(() => http.close());

  // SIGHUP and `ratatosk reload`: what the running parts copied from the configuration is read again from it.
  const reloader = new Reloader(options.loadConfig ?? (() => config), {
    config,
    log,
    prepareModules: (next, changed) => modules.prepareReload(next, changed),
    loadCertificate: (next) => loadOrCreateCertificate(next, log),
    servedFingerprint: () => servedFingerprint,
    replaceCertificate: (next) => {
      serving.replace(next);
      servedFingerprint = next.fingerprint;
    },
    refresh: () => {
      log.level = config.logLevel;
      perAddress.reconfigure({ maxConnections: config.limits.maxConnectionsPerAddress, maxPreAuth: config.limits.maxPreAuthPerAddress });
      // Shared by every transport and copied by each new stream: open streams keep what they started with.
      Object.assign(limits, { maxStanzaBytes: config.c2s.preAuthMaxStanzaSize, maxDepth: config.c2s.maxDepth });
      Object.assign(shaping, connectionShaping(config.limits));
    },
  });

  // The local admin API (loopback, token in <dataDir>/admin.json) that the `ratatosk` CLI uses while we run.
  // Modules' commands reach their live part through the hooks (`room destroy` through 'muc:destroy-room').
  const adminApi = await startAdminApi({
    config,
    sessionAdmin,
    log,
    stores,
    sessions,
    modules,
    startedAt: server.startedAt,
    ports: { c2s: c2sPort, c2sTls: c2sTlsPort, http: httpPort },
    commands: commandRegistry(MODULE_COMMANDS),
    fire: (name, ...args) => hooks.fire(name, ...args),
    loginThrottle: throttle,
    reload: () => reloader.reload(),
    accountDeleted: (username) => hooks.emit('account:deleted', username),
  });

  await cluster.announce(nodeEndpoints(config, { c2s: c2sPort, c2sTls: c2sTlsPort, http: httpPort }));
  log.info({ c2s: c2sPort, c2sTls: c2sTlsPort, http: httpPort, store: stores.kind, tlsFingerprint: certificate.fingerprint }, 'Ratatosk is ready');

  let stopped = false;
  return {
    config,
    ports: { c2s: c2sPort, c2sTls: c2sTlsPort, http: httpPort },
    stores,
    sessions,
    modules,
    disco,
    log,
    nodes: cluster.registry,
    connect,
    reload: () => reloader.reload(),
    async stop() {
      if (stopped) return;
      stopped = true;
      log.info('stopping');
      await adminApi.close();
      sessionAdmin.stop();
      stopFollowingDeletions();
      const tcpClosed = Promise.all(tcpServers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      // RFC 6120 §4.9.3.19: clients move to the least-loaded other node when there is one.
      const elsewhere = await cluster.drain();
      for (const [stream, transport] of openStreams) stream.fail(shutdownError(transport.kind, elsewhere));
      // Sessions kept for resumption (XEP-0198) have no stream left: they end too, while the modules still run, so
      // what they hold goes where undelivered stanzas go (offline storage).
      for (const session of [...sessions.all()]) if (session.connected === false) session.close(new StreamError('system-shutdown'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const transport of openStreams.values()) transport.destroy();
      bosh.close();
      if (httpPort >= 0) await http.close();
      await tcpClosed;
      await cluster.stop();
      await modules.stopAll();
      await throttle.close();
      await authRedis?.close();
      await stores.close();
      idleMemory?.stop();
      log.info('stopped');
    },
  };
}
