// The running server as administration commands see it: a narrow view over the session
// registry, the module host and the listeners, so commands never reach into the core's objects.
// Only commands run inside the server (through the admin API) get one.
import type { LoginThrottle } from '../auth/throttle.js';
import type { Config } from '../config/types.js';
import { StreamError } from '../errors.js';
import { Jid } from '../jid.js';
import type { FireHook } from '../modules/commands.js';
import type { ModuleHost } from '../modules/host.js';
import type { LocalSessionRegistry } from '../sessions/local-registry.js';
import type { BoundSession, TransportKind } from '../sessions/types.js';
import type { Stores } from '../storage/types.js';
import type { ReloadReport } from '../runtime/reload.js';
import { clusterSessionAdmin, type ClusterSessionAdmin, type LocalSessionAdmin, type SessionListing } from './cluster-sessions.js';

export interface LiveSession {
  /** The full JID. */
  readonly jid: string;
  readonly transport: TransportKind;
  readonly remoteAddress: string;
  /** When the session was bound, ms since epoch. */
  readonly since: number;
  /** 'available', 'chat', 'away', 'xa', 'dnd', or 'unavailable' before initial presence. */
  readonly availability: string;
  readonly priority: number;
  /** The node the session is bound on. */
  readonly node: string;
}

export interface LiveStats {
  readonly sessions: number;
  readonly byTransport: Readonly<Record<TransportKind, number>>;
  /** Bytes, from process.memoryUsage(): the V8 heap in use and reserved, and memory outside it (Buffers among it). */
  readonly memory: { readonly rss: number; readonly heapUsed: number; readonly heapTotal: number; readonly external: number };
}


export interface LiveServer {
  readonly nodeId: string;
  /** ms since epoch. */
  readonly startedAt: number;
  readonly storeKind: Stores['kind'];
  /** Bound ports by listener ('c2s', 'c2sTls', 'http', 'admin'); -1 for a disabled one. */
  readonly ports: Readonly<Record<string, number>>;
  /** Names of the running modules, in start order. */
  modules(): string[];
  /** Bound sessions on every node, sorted by node and JID; only those of one bare JID when given. */
  sessions(bareJid?: string): Promise<SessionListing>;
  stats(): LiveStats;
  /** Ends a session, on whichever node, with a policy-violation stream error; false when no session has that full JID. */
  kick(fullJid: string, reason?: string): Promise<boolean>;
  /** Asks the running modules' hooks (a module's command reaching its live part, as `room destroy`). */
  readonly fire?: FireHook;
  /** The login throttle's counters and locks (`auth locks`, `auth unlock`). */
  readonly loginThrottle?: LoginThrottle;
  /** Reads the configuration again and applies what can change while running (`reload`). */
  readonly reload?: () => Promise<ReloadReport>;
  /** After `user del`: the account's sessions end on every node and the modules forget it ('account:deleted'). */
  readonly accountDeleted?: (username: string) => Promise<void>;
}

export interface LiveServerParts {
  readonly config: Config;
  readonly stores: Stores;
  readonly sessions: LocalSessionRegistry;
  readonly modules: ModuleHost;
  readonly startedAt: number;
  readonly ports: Readonly<Record<string, number>>;
  readonly fire?: FireHook;
  readonly loginThrottle?: LoginThrottle;
  readonly reload?: () => Promise<ReloadReport>;
  readonly accountDeleted?: (username: string) => Promise<void>;
  /** Sessions across the cluster (clusterSessionAdmin); without it, this node's alone. */
  readonly sessionAdmin?: ClusterSessionAdmin;
}

const SHOW_VALUES = new Set(['chat', 'away', 'xa', 'dnd']);

function availabilityOf(session: BoundSession): string {
  if (!session.presence.available) return 'unavailable';
  const show = session.presence.stanza?.getChildText('show')?.trim();
  return show !== undefined && SHOW_VALUES.has(show) ? show : 'available';
}

function describe(session: BoundSession, node: string): LiveSession {
  return {
    jid: session.jid.toString(),
    transport: session.transport,
    remoteAddress: session.remoteAddress,
    since: session.startedAt,
    availability: availabilityOf(session),
    priority: session.presence.priority,
    node,
  };
}

/** This node's sessions as the admin commands see them (and as it describes them to other nodes). */
export function localSessionAdmin(sessions: LocalSessionRegistry, nodeId: string): LocalSessionAdmin {
  return {
    sessions(bareJid) {
      const found = bareJid === undefined ? [...sessions.all()] : sessions.resources(bareJid);
      return found.map((session) => describe(session, nodeId));
    },
    kick(fullJid, reason) {
      const jid = Jid.tryParse(fullJid);
      const session = jid === undefined ? undefined : sessions.get(jid.toString());
      if (session === undefined) return false;
      session.close(new StreamError('policy-violation', reason));
      return true;
    },
  };
}

export function createLiveServer(parts: LiveServerParts): LiveServer {
  const { config, stores, sessions, modules } = parts;
  const sessionAdmin = parts.sessionAdmin ?? clusterSessionAdmin({ nodeId: config.nodeId, local: localSessionAdmin(sessions, config.nodeId) });
  const live: LiveServer = {
    nodeId: config.nodeId,
    startedAt: parts.startedAt,
    storeKind: stores.kind,
    ports: { ...parts.ports },
    modules: () => modules.list().map((m) => m.name),
    sessions: (bareJid) => sessionAdmin.sessions(bareJid),
    stats() {
      const memory = process.memoryUsage();
      return { sessions: sessions.size, byTransport: sessions.countByTransport(), memory: { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external } };
    },
    kick: (fullJid, reason) => sessionAdmin.kick(fullJid, reason),
  };
  const withThrottle = parts.loginThrottle === undefined ? live : { ...live, loginThrottle: parts.loginThrottle };
  const withReload = parts.reload === undefined ? withThrottle : { ...withThrottle, reload: parts.reload };
  const withDeletions = parts.accountDeleted === undefined ? withReload : { ...withReload, accountDeleted: parts.accountDeleted };
  return parts.fire === undefined ? withDeletions : { ...withDeletions, fire: parts.fire };
}
