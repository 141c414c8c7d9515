// Starts modules with their own contexts and undoes every registration when they stop.
import { LocalExclusive, type Exclusive } from '../cluster/exclusive.js';
import { LocalPlacement, type Placement } from '../cluster/placement.js';
import type { RemoteSessions } from '../cluster/remote-sessions.js';
import type { Config } from '../config/types.js';
import { issuePath } from './config.js';
import type { CoreHooks } from '../hooks/core-hooks.js';
import type { HookBus } from '../hooks/bus.js';
import { Jid } from '../jid.js';
import type { Logger } from '../observability/log.js';
import type { IqRegistry } from '../router/iq-registry.js';
import type { Router } from '../router/router.js';
import type { LocalSessionRegistry } from '../sessions/local-registry.js';
import type { Stores } from '../storage/types.js';
import { StreamElementRegistry } from '../stream/stream-elements.js';
import { ModuleHttpRoutes } from '../transports/http-server.js';
import type { Element } from '../xml/element.js';
import type { Capabilities, Capability, ClusterOperations, ModuleContext, ModuleContextWith, ModuleDefinition, ModuleMetrics, ServerInfo, SessionView } from './api.js';
import type { DiscoRegistry } from './disco-registry.js';
import { ServerError } from '../errors.js';
import { startOrder } from './order.js';

export interface ModuleHostDeps {
  config: Config;
  server: ServerInfo;
  log: Logger;
  stores: Stores;
  sessions: LocalSessionRegistry;
  hooks: HookBus<CoreHooks>;
  iqs: IqRegistry;
  router: Router;
  disco: DiscoRegistry;
  /** Handlers of non-stanza elements on client streams; absent: a registry no stream reads (tests without streams). */
  streamElements?: StreamElementRegistry;
  /** Sessions on other nodes of the cluster; absent when this node runs alone. */
  remote?: RemoteSessions;
  /** Which node hosts each cluster-wide singleton; absent: this node hosts everything. */
  placement?: Placement;
  /** Exclusive work across the cluster; absent: one at a time on this node. */
  exclusive?: Exclusive;
  /** Sessions on every node (src/admin/cluster-sessions.ts); absent: this node's. */
  sessionsEverywhere?: () => Promise<{ sessions: readonly { jid: string }[]; unanswered: readonly string[] }>;
  /** What modules serve on the HTTP port (ctx.addHttpRoute); absent: a table no listener reads (tests without HTTP). */
  httpRoutes?: ModuleHttpRoutes;
  /** The server's metrics as modules see them (ctx.metrics); absent: nothing is measured (tests without metrics). */
  metrics?: ModuleMetrics;
}

/** ctx.metrics when the server has no metrics: stores are used as they are. */
const UNMEASURED: ModuleMetrics = { timeStore: (_name, store) => store };

type Cleanup = () => void | Promise<void>;

/**
 * A running module's settings as a reload sees them: checks a new table against the configuration and gives
 * what installs it (ctx.settings, then the module's onSettingsChange handlers), or what is wrong with it.
 */
type SettingsUpdate = (table: unknown, server: Config) => (() => Promise<void>) | string;

/** The modules' side of a reload (prepareReload): nothing changes before commit(). */
export interface ModuleReload {
  /** Key paths this reload applies to running modules (`registration.allow`). */
  readonly applied: string[];
  /** Key paths of the modules' tables that only a restart applies. */
  readonly needsRestart: string[];
  commit(): Promise<void>;
}

export class ModuleHost {
  private readonly running = new Map<string, { definition: ModuleDefinition; cleanups: Cleanup[]; update?: SettingsUpdate }>();
  private readonly sessionView: SessionView;
  private readonly placement: Placement;
  private readonly exclusive: Exclusive;
  private readonly streamElements: StreamElementRegistry;
  private readonly httpRoutes: ModuleHttpRoutes;

  constructor(private readonly deps: ModuleHostDeps) {
    const { sessions, remote } = deps;
    this.placement = deps.placement ?? new LocalPlacement(deps.config.nodeId);
    this.exclusive = deps.exclusive ?? new LocalExclusive();
    this.streamElements = deps.streamElements ?? new StreamElementRegistry();
    this.httpRoutes = deps.httpRoutes ?? new ModuleHttpRoutes();
    this.sessionView = {
      get: (fullJid) => sessions.get(fullJid),
      resources: (bareJid) => sessions.resources(bareJid),
      anyWithFlag: (bareJid, flag) => sessions.anyWithFlag(bareJid, flag),
      all: () => sessions.all(),
      get size() {
        return sessions.size;
      },
      remote: async (bareJid) => (remote ? remote.resources(bareJid) : []),
      clustered: remote !== undefined,
      everywhere: async () => {
        if (deps.sessionsEverywhere === undefined) return { fullJids: [...sessions.all()].map((s) => s.jid.toString()), unanswered: [] };
        const { sessions: found, unanswered } = await deps.sessionsEverywhere();
        return { fullJids: found.map((s) => s.jid), unanswered };
      },
    };
  }

  /**
   * Starts modules in dependency order (src/modules/order.ts) once every module's configuration table is
   * valid: a missing dependency, a cycle or a bad table is a start error before any module starts.
   */
  async startAll(definitions: readonly ModuleDefinition[]): Promise<void> {
    const order = startOrder(definitions);
    const unknownCapabilities = order.flatMap(capabilityProblems);
    if (unknownCapabilities.length > 0) throw new ServerError('MODULE_CAPABILITY_UNKNOWN', unknownCapabilities.join('; '));
    const problems = order.flatMap((d) => this.configProblems(d));
    if (problems.length > 0) {
      const unknown = problems.filter((p) => p.unknown);
      const chosen = unknown.length > 0 ? unknown : problems;
      throw new ServerError(unknown.length > 0 ? 'CONFIG_UNKNOWN_KEY' : 'CONFIG_INVALID', chosen.map((p) => p.text).join('; '));
    }
    for (const definition of order) await this.start(definition);
  }

  async start<C, S>(definition: ModuleDefinition<C, S>): Promise<void> {
    if (this.running.has(definition.name)) throw new Error(`module ${definition.name} is already running`);
    for (const needed of definition.depends ?? []) {
      if (!this.running.has(needed)) throw new ServerError('MODULE_DEPENDENCY_MISSING', `"${definition.name}" depends on "${needed}", which is not running`);
    }
    const unknownCapability = capabilityProblems(definition)[0];
    if (unknownCapability !== undefined) throw new ServerError('MODULE_CAPABILITY_UNKNOWN', unknownCapability);
    let settings = this.settingsOf(definition);
    const changeHandlers: Array<(next: C) => void | Promise<void>> = [];
    const spec = definition.config;
    const update: SettingsUpdate | undefined =
      spec === undefined
        ? undefined
        : (table, server) => {
            const parsed = spec.parse(table, server);
            if (!parsed.ok) return parsed.issues.map((i) => `${issuePath(spec, i)}: ${i.message}`).join('; ') || `unknown keys in [${spec.section}]`;
            const problems = spec.check(parsed.settings, server);
            if (problems.length > 0) return problems.map((i) => `${issuePath(spec, i)}: ${i.message}`).join('; ');
            return async () => {
              settings = parsed.settings;
              for (const handler of changeHandlers) await handler(parsed.settings);
            };
          };
    // A module without stores gets none: ModuleDefinition<C, S> without `stores` leaves S unknown. The
    // factory opens a module's stores once (also for the admin commands) and enrols their account data.
    const store = definition.stores === undefined ? (undefined as S) : this.deps.stores.module(definition.name, definition.stores);
    const cleanups: Cleanup[] = [];
    const current = { settings: () => settings, onChange: (handler: (next: C) => void | Promise<void>) => void changeHandlers.push(handler) };
    const ctx = this.grant(definition, this.contextFor(definition.name, current, store, cleanups), cleanups);
    this.running.set(definition.name, { definition, cleanups, ...(update === undefined ? {} : { update }) });
    try {
      await definition.setup(ctx);
    } catch (err) {
      await this.stop(definition.name);
      throw err;
    }
  }

  async stop(name: string): Promise<void> {
    const entry = this.running.get(name);
    if (!entry) return;
    this.running.delete(name);
    for (const cleanup of entry.cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        this.deps.log.error({ err, module: name }, 'module cleanup failed');
      }
    }
  }

  async stopAll(): Promise<void> {
    for (const name of [...this.running.keys()].reverse()) await this.stop(name);
  }

  list(): ModuleDefinition[] {
    return [...this.running.values()].map((e) => e.definition);
  }

  /**
   * Which of the `changed` key paths (src/config/diff.ts) belong to the running modules' tables, and which of
   * those their `reloadable` keys let a reload apply: the others keep their old values until a restart. A new
   * table that fails the module's own checks applies nothing of that module.
   */
  prepareReload(next: Config, changed: readonly string[]): ModuleReload {
    const applied: string[] = [];
    const needsRestart: string[] = [];
    const commits: Array<() => Promise<void>> = [];
    let sections: Record<string, unknown> = { ...(this.deps.config.sections ?? {}) };
    for (const { definition, update } of this.running.values()) {
      const spec = definition.config;
      if (spec === undefined || update === undefined) continue;
      const under = (root: string, path: string): boolean => path === root || path.startsWith(`${root}.`) || path.startsWith(`${root}[`);
      const mine = changed.filter((path) => [spec.section, ...Object.keys(spec.topLevel)].some((root) => under(root, path)));
      if (mine.length === 0) continue;
      const reloadable = new Set(spec.reloadable ?? []);
      const keyOf = (path: string): string | undefined => (path.startsWith(`${spec.section}.`) ? path.slice(spec.section.length + 1).split('.')[0] : undefined);
      const now = mine.filter((path) => reloadable.has(keyOf(path) ?? ''));
      const later = mine.filter((path) => !now.includes(path));
      needsRestart.push(...later);
      if (now.length === 0) continue;
      const before = asTable(sections[spec.section]);
      const after = asTable(next.sections?.[spec.section]);
      const merged: Record<string, unknown> = { ...before };
      for (const key of new Set(now.map(keyOf))) {
        if (key === undefined) continue;
        if (key in after) merged[key] = after[key];
        else delete merged[key];
      }
      const withMerged = { ...sections, [spec.section]: merged };
      const commit = update(merged, { ...this.deps.config, sections: withMerged });
      if (typeof commit === 'string') {
        this.deps.log.warn({ module: definition.name, problem: commit }, 'reload: the new settings do not fit the running module; they wait for a restart');
        needsRestart.push(...now);
        continue;
      }
      sections = withMerged;
      applied.push(...now);
      commits.push(commit);
    }
    return {
      applied,
      needsRestart,
      commit: async () => {
        this.deps.config.sections = sections;
        for (const commit of commits) await commit();
      },
    };
  }

  private tableOf(section: string): unknown {
    return this.deps.config.sections?.[section];
  }

  private configProblems(definition: ModuleDefinition): Array<{ unknown: boolean; text: string }> {
    const spec = definition.config;
    if (spec === undefined) return [];
    const parsed = spec.parse(this.tableOf(spec.section), this.deps.config);
    if (!parsed.ok) {
      return [
        ...parsed.unknownKeys.map((path) => ({ unknown: true, text: `unknown key "${[spec.section, ...path].join('.')}" (module ${definition.name})` })),
        ...parsed.issues.map((i) => ({ unknown: false, text: `${issuePath(spec, i)}: ${i.message}, got ${JSON.stringify(valueAt(this.tableOf(i.section ?? spec.section), i.path)) ?? 'nothing'}` })),
      ];
    }
    return spec.check(parsed.settings, this.deps.config).map((i) => ({ unknown: false, text: `${issuePath(spec, i)}: ${i.message}` }));
  }

  private settingsOf<C, S>(definition: ModuleDefinition<C, S>): C {
    const spec = definition.config;
    // A module without a table gets no settings: ModuleDefinition<C> without `config` leaves C unknown.
    if (spec === undefined) return undefined as C;
    const parsed = spec.parse(this.tableOf(spec.section), this.deps.config);
    if (!parsed.ok) {
      const first = parsed.unknownKeys[0] !== undefined ? `unknown key "${[spec.section, ...parsed.unknownKeys[0]].join('.')}"` : `${parsed.issues[0] ? issuePath(spec, parsed.issues[0]) : spec.section}: ${parsed.issues[0]?.message ?? 'invalid'}`;
      throw new ServerError('CONFIG_INVALID', `${first} (module ${definition.name})`);
    }
    return parsed.settings;
  }

  /** The cluster operations (ClusterOperations) of one module; its request handlers go with its cleanups. */
  private clusterOperations(cleanups: Cleanup[]): ClusterOperations {
    const { router, remote } = this.deps;
    const sender = (stanza: Element): Jid => Jid.tryParse(stanza.attrs.from) ?? router.serverJid;
    return {
      placement: this.placement,
      exclusive: this.exclusive,
      deliverRemote: (targets, stanza, options) => remote?.deliver(targets, stanza, sender(stanza), 0, options),
      forward: (node, stanza, from, hops) => {
        if (!remote) throw new Error('forward: this node runs alone');
        remote.forward(node, stanza, from, hops + 1);
      },
      deliverToNode: (node, fullJids, stanza, options) => remote?.deliverTo(node, fullJids, stanza, sender(stanza), 1, options),
      request: (node, topic, body, timeoutMs, onReply) => (remote ? remote.request(node, topic, body, timeoutMs, onReply) : Promise.resolve(false)),
      onRequest: (topic, handler) => {
        if (remote) cleanups.push(remote.answer(topic, handler));
      },
    };
  }

  /**
   * Adds to the context the members of the capabilities the module declared. Those it did not declare are
   * absent from its context's type; at run time reading one is an error that names the declaration to add.
   */
  private grant<C, S>(definition: ModuleDefinition<C, S>, ctx: ModuleContext<C, S>, cleanups: Cleanup[]): ModuleContextWith<Capability, C, S> {
    const asked = new Set<string>(definition.capabilities ?? []);
    const members: Capabilities = { cluster: this.clusterOperations(cleanups) };
    for (const capability of CAPABILITIES) {
      if (asked.has(capability)) Object.defineProperty(ctx, capability, { value: members[capability], enumerable: true });
      else {
        Object.defineProperty(ctx, capability, {
          get: () => {
            throw new ServerError('MODULE_CAPABILITY_MISSING', `module "${definition.name}" uses ctx.${capability} without declaring capabilities: ['${capability}']`);
          },
        });
      }
    }
    // Every capability is now a member: the declared ones hold their value, the others throw when read.
    return ctx as ModuleContextWith<Capability, C, S>;
  }

  private contextFor<C, S>(
    name: string,
    current: { settings: () => C; onChange: (handler: (next: C) => void | Promise<void>) => void },
    store: S,
    cleanups: Cleanup[],
  ): ModuleContext<C, S> {
    const { config, server, stores, hooks, iqs, router, disco } = this.deps;
    const streamElements = this.streamElements;
    const log = this.deps.log.child({ module: name });
    const discoJid = (jid: string | undefined): string => (jid === undefined ? router.serverJid.toString() : Jid.parse(jid).toString());
    return {
      name,
      get settings(): C {
        return current.settings();
      },
      onSettingsChange: current.onChange,
      store,
      domain: config.domain,
      serverJid: router.serverJid,
      config,
      server,
      log,
      stores,
      sessions: this.sessionView,
      disco: {
        identities: (jid) => disco.listIdentities(discoJid(jid)),
        features: (jid) => disco.listFeatures(discoJid(jid)),
        items: (jid) => disco.listItems(discoJid(jid)),
        info: (request) => disco.info(request),
        itemsOf: (request) => disco.items(request),
        accountFeatures: () => disco.listAccountFeatures(),
        accountIdentities: () => disco.listAccountIdentities(),
      },
      onIq: (type, target, ns, element, handler) => cleanups.push(iqs.register(type, target, ns, element, handler)),
      dispatchIq: (stanza, from) => router.dispatchIq(stanza, from),
      hook: (hook, handler, priority) => cleanups.push(hooks.on(hook, handler, priority, name)),
      emit: (hook, ...args) => hooks.emit(hook, ...args),
      fire: (hook, ...args) => hooks.fire(hook, ...args),
      addFeature: (feature, jid) => cleanups.push(disco.addFeature(feature, discoJid(jid))),
      addIdentity: (identity, jid) => cleanups.push(disco.addIdentity(identity, discoJid(jid))),
      addItem: (item, jid) => cleanups.push(disco.addItem(item, discoJid(jid))),
      addDiscoProvider: (domain, provider) => cleanups.push(disco.addProvider(Jid.normaliseDomain(domain), provider)),
      addAccountFeature: (feature) => cleanups.push(disco.addAccountFeature(feature)),
      addAccountIdentity: (identity) => cleanups.push(disco.addAccountIdentity(identity)),
      addStanzaFilter: (filter) => cleanups.push(router.addFilter(filter)),
      onStreamElement: (namespace, handler) => cleanups.push(streamElements.register(namespace, handler)),
      onSasl2Inline: (namespace, extension) => cleanups.push(streamElements.login.registerSasl2(namespace, extension)),
      onBind2Inline: (namespace, handler) => cleanups.push(streamElements.login.registerBind2(namespace, handler)),
      onSessionHandOver: (part) => cleanups.push(streamElements.handOver.register(name, part)),
      addDomain: (domain, handler) => cleanups.push(router.addDomain(domain, handler)),
      send: (stanza, from?: Jid) => router.route(stanza, from ?? router.serverJid),
      sendToBareJids: (stanza, bareJids, from?: Jid) => router.deliverToBareJids(stanza, from ?? router.serverJid, bareJids),
      deliver: (session, stanza) => router.deliver(session, stanza),
      deliverPrepared: (session, stanza) => router.deliverPrepared(session, stanza),
      sendIq: (iq, timeoutMs) => router.sendIq(iq, timeoutMs),
      every: (intervalMs, task) => {
        const timer = setInterval(() => {
          Promise.resolve()
            .then(task)
            .catch((err: unknown) => log.error({ err }, 'periodic task failed'));
        }, intervalMs);
        timer.unref();
        cleanups.push(() => clearInterval(timer));
      },
      addHttpRoute: (prefix, handler) => cleanups.push(this.httpRoutes.add(prefix, handler)),
      httpPort: () => this.httpRoutes.boundPort,
      metrics: this.deps.metrics ?? UNMEASURED,
      onStop: (cleanup) => cleanups.push(cleanup),
    };
  }
}

const CAPABILITIES: readonly Capability[] = ['cluster'];

function capabilityProblems(definition: ModuleDefinition): string[] {
  const known = new Set<string>(CAPABILITIES);
  return (definition.capabilities ?? []).filter((c) => !known.has(c)).map((c) => `module "${definition.name}" asks for the unknown capability "${c}" (known: ${CAPABILITIES.join(', ')})`);
}

function asTable(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : {};
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}
