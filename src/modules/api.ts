// The module API: the only door from a protocol module into the core (as Prosody's moduleapi).
// Every registration goes through the context so that stopping a module undoes all of it.
import type { Exclusive } from '../cluster/exclusive.js';
import type { Placement } from '../cluster/placement.js';
import type { DeliverOptions } from '../cluster/remote-sessions.js';
import type { Config } from '../config/types.js';
import type { CoreHooks } from '../hooks/core-hooks.js';
import type { Jid } from '../jid.js';
import type { Logger } from '../observability/log.js';
import type { DomainHandler, StanzaFilter } from '../router/router.js';
import type { IqHandler, IqTarget, IqType } from '../router/iq-registry.js';
import type { SessionHandOverPart } from '../sessions/handover-parts.js';
import type { BoundSession, SessionRecord } from '../sessions/types.js';
import type { Bind2Handler, Sasl2Extension, StreamElementHandler } from '../stream/stream-elements.js';
import type { Stores } from '../storage/types.js';
import type { Element } from '../xml/element.js';
import type { PreparedStanza } from '../xml/prepared.js';
import type { HttpHandler } from '../transports/http-server.js';
import type { ModuleConfigSpec } from './config.js';
import type { DiscoIdentity, DiscoInfo, DiscoItem, DiscoProvider, DiscoRequest } from './disco-registry.js';
import type { ModuleCommand } from './commands.js';
import type { ModuleStoresSpec } from './storage.js';

// Account credentials for modules that create accounts or change passwords (XEP-0077, XEP-0133):
// the server's one password rule and the SCRAM keys it stores.
export { deriveCredentials, passwordProblem, type PasswordProblem, type ScramHash as ScramHashName } from '../auth/credentials.js';
// A module's own configuration table (ModuleDefinition.config).
export { configTypes, moduleConfig, type ModuleConfigIssue, type ModuleConfigSpec, type ModuleEnvVar, type ServedDomain } from './config.js';
// The core's listeners, for a module's own listener to check its port against (XEP-0114's [component]).
export { coreListeners, samePort, type Listener } from '../config/schema.js';
// A module's own stores (ModuleDefinition.stores) and what they are built from.
export * from './storage.js';
// A module's administration commands (ModuleDefinition.commands) and the helpers they parse input with.
export * from './commands.js';
// The hook map: the core's hooks, to which a module adds those it fires by declaration merging
// (`declare module '<path>/src/modules/api.js' { interface CoreHooks { 'x:y': (...) => ... } }`).
export type { Awaitable, CoreHooks } from '../hooks/core-hooks.js';
// Stream-level protocols (XEP-0198, XEP-0352): non-stanza elements, and the session's output stages.
export type { ClientStream, StreamElementHandler } from '../stream/stream-elements.js';
// The inline login (XEP-0388 SASL2, XEP-0386 Bind2): what modules add to it (ctx.onSasl2Inline, ctx.onBind2Inline).
export type { Bind2Handler, Sasl2Extension, Sasl2Mechanism, Sasl2MechanismGate, Sasl2Request, Sasl2Step } from '../stream/stream-elements.js';
export type { Outbound, OutputStage, OutputStageHandle } from '../sessions/output.js';
export type { StreamSession } from '../sessions/types.js';
export { readSessionState, type SessionState } from '../sessions/handover.js';
export type { SessionHandOverPart } from '../sessions/handover-parts.js';
// IQ targets (ModuleContext.onIq) and what service discovery is made of (addIdentity, addDiscoProvider...).
export { ANY_DOMAIN, type DomainIqTarget, type IqHandler, type IqRequest, type IqTarget, type IqType } from '../router/iq-registry.js';
export type { DiscoIdentity, DiscoInfo, DiscoItem, DiscoProvider, DiscoRequest } from './disco-registry.js';
// The stream machinery of src/stream, for a module that serves XML streams of its own (XEP-0114 components).
export { Backlog, MAX_BACKLOG_ITEMS, type BacklogLimits } from '../stream/backlog.js';
export { checkStreamNamespaces } from '../stream/stream-header.js';
export type { StreamEvents, StreamTransport, Undelivered } from '../stream/transport.js';
export { plainTcpStream, type TcpStreamOptions } from '../transports/tcp.js';
// What a module serves on the HTTP port (ModuleContext.addHttpRoute).
export type { HttpHandler } from '../transports/http-server.js';

export interface SpecReference {
  /** e.g. 'XEP-0199' or 'RFC 6121' */
  id: string;
  title: string;
  version?: string;
  /** What of the spec the module implements. */
  scope: string;
  status: 'complete' | 'partial';
}

export interface ServerInfo {
  readonly name: string;
  readonly version: string;
  readonly startedAt: number;
}

export type { DeliverOptions, Placement };
// What a module sees of sessions (ctx.sessions, hooks) and the types of the core stores it reads (ctx.stores).
export type { BoundSession, SessionRecord } from '../sessions/types.js';
export type { AccountStore, RosterItem, RosterStore, SubscriptionState } from '../storage/types.js';

/** A read-only view of the sessions bound on this node. */
export interface SessionView {
  get(fullJid: string): BoundSession | undefined;
  resources(bareJid: string): BoundSession[];
  /** Whether some session of the bare JID here carries the flag (BoundSession.flags), without listing them. */
  anyWithFlag(bareJid: string, flag: string): boolean;
  all(): Iterable<BoundSession>;
  readonly size: number;
  /** The bare JID's resources on other nodes of the cluster (none when this node runs alone). */
  remote(bareJid: string): Promise<SessionRecord[]>;
  /** Whether this node is part of a cluster (other nodes may hold sessions); false: remote() always finds none. */
  readonly clustered: boolean;
  /**
   * The full JIDs bound on every node (each node asked over the bus, as `ratatosk session list` does), and the
   * live nodes that did not answer within 3 s. On a node alone, this node's sessions.
   */
  everywhere(): Promise<{ readonly fullJids: readonly string[]; readonly unanswered: readonly string[] }>;
}

/** What the server's modules registered for service discovery; `jid` defaults to the server's domain. */
export interface DiscoView {
  identities(jid?: string): readonly DiscoIdentity[];
  features(jid?: string): string[];
  items(jid?: string): readonly DiscoItem[];
  /** disco#info of any JID hosted here: registered entries and its domain's provider; undefined when unknown. */
  info(request: DiscoRequest): Promise<DiscoInfo | undefined>;
  /** disco#items likewise. */
  itemsOf(request: DiscoRequest): Promise<readonly DiscoItem[] | undefined>;
  /** What every account of the server's domain supports (addAccountFeature), sorted. */
  accountFeatures(): string[];
  /** Identities of every account beside account/registered (addAccountIdentity). */
  accountIdentities(): readonly DiscoIdentity[];
}

export interface ModuleContext<C = unknown, S = unknown> {
  readonly name: string;
  /**
   * The module's own configuration table, validated and resolved (ModuleDefinition.config); undefined without one.
   * A reload replaces it when a key its table declares `reloadable` changed: read it where it is used.
   */
  readonly settings: C;
  /** Runs after a reload replaced ctx.settings (a `reloadable` key changed), for what the module built from them. */
  onSettingsChange(handler: (settings: C) => void | Promise<void>): void;
  /** The module's own stores, opened in the server's storage engine (ModuleDefinition.stores); undefined without. */
  readonly store: S;
  readonly domain: string;
  readonly serverJid: Jid;
  /** The server settings modules read (ServerSettings); not the storage, Redis, TLS, HTTP or admin settings. */
  readonly config: ServerSettings;
  readonly server: ServerInfo;
  readonly log: Logger;
  readonly stores: Stores;
  readonly sessions: SessionView;
  readonly disco: DiscoView;
  /** Handles iq `type` with payload `<name xmlns=ns>` sent to `target` (the server's domain, its users, or another served domain). */
  onIq(type: IqType, target: IqTarget, ns: string, name: string, handler: IqHandler): void;
  /**
   * For a domain handler (addDomain): answers an iq get or set to its domain from the handlers registered for
   * it (onIq with a DomainIqTarget), with the router's rules (RFC 6120 §8.2.3); errors go back to the sender.
   */
  dispatchIq(stanza: Element, from: Jid): Promise<void>;
  hook<K extends keyof CoreHooks>(name: K, handler: CoreHooks[K], priority?: number): void;
  emit<K extends keyof CoreHooks>(name: K, ...args: Parameters<CoreHooks[K]>): Promise<void>;
  /** Asks the hook's handlers in priority order; the first answer other than undefined wins. */
  fire<K extends keyof CoreHooks>(name: K, ...args: Parameters<CoreHooks[K]>): Promise<Awaited<ReturnType<CoreHooks[K]>> | undefined>;
  /** Service discovery of `jid` (default: the server's domain), answered by the disco module. */
  addFeature(feature: string, jid?: string): void;
  addIdentity(identity: DiscoIdentity, jid?: string): void;
  addItem(item: DiscoItem, jid?: string): void;
  /** Answers service discovery for JIDs of `domain` that come and go (rooms) and their nodes. */
  addDiscoProvider(domain: string, provider: DiscoProvider): void;
  /** A feature of every account of the server's domain, in disco#info of the user's bare JID (XEP-0030 §3.1). */
  addAccountFeature(feature: string): void;
  /** An identity of every account of the server's domain (pubsub/pep, XEP-0163 §1), in the account's disco#info. */
  addAccountIdentity(identity: DiscoIdentity): void;
  /** A synchronous check on every stanza users send and on every routed stanza before delivery. */
  addStanzaFilter(filter: StanzaFilter): void;
  /**
   * Handles top-level elements of `namespace` that are not stanzas, on authenticated client streams, before
   * and after bind (src/stream/stream-elements.ts). One handler per namespace.
   */
  onStreamElement(namespace: string, handler: StreamElementHandler): void;
  /** Takes part in SASL2 logins (XEP-0388): an <inline/> feature, mechanisms of its own, answers in <success/>. */
  onSasl2Inline(namespace: string, extension: Sasl2Extension): void;
  /** A Bind2 inline feature (XEP-0386 §2.3), announced in <bind/>; what `handler` sends goes in <bound/>. */
  onBind2Inline(namespace: string, handler: Bind2Handler): void;
  /**
   * Moves what the module keeps of a session outside its flags when another node of the cluster takes the
   * session over (XEP-0198 resumption there): `export` on the owning node, `adopt` on the taking one.
   */
  onSessionHandOver(part: SessionHandOverPart): void;
  /** Serves another domain (a component, the MUC service). */
  addDomain(domain: string, handler: DomainHandler): void;
  /** Routes a stanza from `from` (default: the server); resolves once it is delivered, stored or bounced. */
  send(stanza: Element, from?: Jid): Promise<void>;
  /**
   * Routes one stanza to the available resources of many bare JIDs of this server's domain, as `send` to
   * each would for presence, serialised once for all (a presence broadcast); each copy is addressed to its
   * session's full JID and passes that session's incoming filters. Other domains' JIDs go through `send`.
   */
  sendToBareJids(stanza: Element, bareJids: Iterable<string>, from?: Jid): Promise<void>;
  /** Hands a stanza to one local session through the incoming stanza filters (privacy, blocking); false when a filter stopped it. */
  deliver(session: BoundSession, stanza: Element): boolean;
  /** deliver() for fan-outs: the stanza is serialised once (new PreparedStanza(element)) and addressed per session. */
  deliverPrepared(session: BoundSession, stanza: PreparedStanza): boolean;
  /** Sends an iq from the server (or from the `from` it carries: a local account's bare JID) and waits for the answer. */
  sendIq(iq: Element, timeoutMs?: number): Promise<Element>;
  /** A timer that stops with the module. */
  every(intervalMs: number, task: () => void | Promise<void>): void;
  /**
   * Serves every path under `prefix` (starting and ending with '/') on the HTTP port, after the server's own
   * routes; a prefix that overlaps another module's is a start error. Undone when the module stops.
   */
  addHttpRoute(prefix: string, handler: HttpHandler): void;
  /** The port the HTTP listener bound (known once the server has started); undefined when it is disabled. */
  httpPort(): number | undefined;
  /** What the module reports to the server's Prometheus metrics (README "Metrics"). */
  readonly metrics: ModuleMetrics;
  onStop(cleanup: () => void | Promise<void>): void;
}

/** A module's part in the server's metrics. */
export interface ModuleMetrics {
  /**
   * `store` with each method that returns a promise timed into ratatosk_store_operation_seconds{store=name,
   * operation=method name}; other members pass through. `name` is a short constant ('archive', 'offline').
   */
  timeStore<T extends object>(name: string, store: T): T;
}

/** The core settings a module may read: this node's id, who administers the server, authentication and client stream limits. */
export type ServerSettings = Readonly<Pick<Config, 'nodeId' | 'admins' | 'auth' | 'c2s' | 'limits'>>;

/** Cluster operations, for modules that declare `capabilities: ['cluster']` (read as ctx.cluster). */
export interface ClusterOperations {
  /** Which node hosts each cluster-wide singleton (a MUC room); on a node alone, always this one. */
  readonly placement: Placement;
  /**
   * Read-modify-write work one at a time per name on every node (a lock in Redis; on a node alone, a queue):
   * names are the module's own, prefixed ("roster:<user>"). For a few store operations, never a wait for a client.
   */
  readonly exclusive: Exclusive;
  /**
   * Hands a stanza to sessions on other nodes (records from `sessions.remote`), one bus message per node,
   * through their incoming stanza filters; it is not routed again there. Nothing happens on a single node.
   */
  deliverRemote(sessions: readonly SessionRecord[], stanza: Element, options?: DeliverOptions): void;
  /**
   * Has another node route the stanza as if it had arrived there (it hosts the addressee). `hops` is what the
   * domain handler was given; the stanza carries one more. Only in a cluster.
   */
  forward(node: string, stanza: Element, from: Jid, hops: number): void;
  /** Hands a stanza to full JIDs held by `node`, one bus message, each copy addressed per `options`. */
  deliverToNode(node: string, fullJids: readonly string[], stanza: Element, options?: DeliverOptions): void;
  /**
   * Asks the module on `node` that answers `topic` (onRequest), over that node's ordered channel. `onReply` runs
   * with its reply before any later message from that node is handed on, even if the reply comes after
   * `timeoutMs`; resolves true when it came in time, false otherwise (also at once on a node alone).
   */
  request(node: string, topic: string, body: unknown, timeoutMs: number, onReply: (reply: unknown) => void): Promise<boolean>;
  /**
   * Answers requests of `topic` from other nodes with what `handler` returns (JSON); undone when the module stops.
   * `replied` resolves once the reply is queued: what this node sends that node afterwards arrives after it.
   */
  onRequest(topic: string, handler: (body: unknown, from: string, replied: Promise<void>) => unknown): void;
}

/** What a module may ask for beyond the context every module gets, by name; each is a member of the context. */
export interface Capabilities {
  readonly cluster: ClusterOperations;
}
export type Capability = keyof Capabilities;

/** The context of a module that declared `capabilities` K: only those members are there, in the type and at run time. */
export type ModuleContextWith<K extends Capability, C = unknown, S = unknown> = ModuleContext<C, S> & Pick<Capabilities, K>;

export interface ModuleDefinition<C = unknown, S = unknown, K extends Capability = Capability> {
  readonly name: string;
  readonly specs: readonly SpecReference[];
  /** Modules that must start before this one (and stop after it), by name. */
  readonly depends?: readonly string[];
  /** Members of the context beyond the common ones (`['cluster']`: ctx.cluster); an unknown name is a start error. */
  readonly capabilities?: readonly K[];
  /** The module's configuration table ([section] in the TOML file), read as ctx.settings. */
  readonly config?: ModuleConfigSpec<C>;
  /** The module's stores and their migrations, read as ctx.store. */
  readonly stores?: ModuleStoresSpec<S>;
  /** Administration commands the module adds to `ratatosk` and the admin API, run on its stores. */
  readonly commands?: readonly ModuleCommand<S>[];
  setup(ctx: ModuleContextWith<K, C, S>): void | Promise<void>;
}

/** K is what `capabilities` lists: a module that lists none has no capability member in its context's type. */
export function defineModule<C = unknown, S = unknown, K extends Capability = never>(definition: ModuleDefinition<C, S, K>): ModuleDefinition<C, S, K> {
  return definition;
}
