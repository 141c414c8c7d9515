// What the stanza filter reads: each user's block list, default list, the active lists of their
// sessions and (only when a list has group or subscription items) a roster snapshot, all in
// memory, so routing a stanza never waits for storage (the pain of esl/MongooseIM#4371).
// A user's state is loaded when their first session binds, kept current by the protocol handlers
// and the 'roster:changed' hook, and dropped when their last session on this node ends; then the
// default policy moves to a small LRU that serves offline delivery and subscription checks.
import type { BoundSession, RosterItem, RosterStore } from '../../src/modules/api.js';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { BlockListStore, PrivacyStore } from './store/types.js';
import { BlockList, compileList, type CompiledList, type Policy, type RosterEntry } from './engine.js';
import { SmallStringSet } from './small-set.js';

export type RosterChange = RosterItem | { jid: string; subscription: 'remove' };

/** Most entries kept per session in the presence-tracking sets below. */
const MAX_TRACKED = 5000;

/** The privacy state of one session. */
export interface SessionPrivacy {
  /** The session's active list (XEP-0016 §2.4); undefined means the default list applies. */
  active: string | undefined;
  /** Full JIDs whose available presence reached this session: they get unavailable when blocked. */
  readonly presenceFrom: SmallStringSet;
  /**
   * JIDs this session sent directed available presence to (RFC 6121 §4.6): they count as presence recipients.
   * Made by the first directed presence: most sessions send none.
   */
  directedTo: SmallStringSet | undefined;
}

/** A session's privacy state as it moves to another node with the session (src/sessions/handover-parts.ts). */
export interface MovedSessionPrivacy {
  readonly active?: string;
  readonly presenceFrom?: readonly string[];
  readonly directedTo?: readonly string[];
}

const isStringList = (value: unknown): value is string[] => Array.isArray(value) && value.length <= MAX_TRACKED && value.every((v) => typeof v === 'string');

/** The state `exportSession` gave on another node, or undefined when it is not one. */
export function readMovedSessionPrivacy(value: unknown): MovedSessionPrivacy | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { active, presenceFrom, directedTo } = value as Record<string, unknown>;
  if (active !== undefined && (typeof active !== 'string' || active === '')) return undefined;
  if ((presenceFrom !== undefined && !isStringList(presenceFrom)) || (directedTo !== undefined && !isStringList(directedTo))) return undefined;
  return { ...(active !== undefined ? { active } : {}), ...(presenceFrom ? { presenceFrom } : {}), ...(directedTo ? { directedTo } : {}) };
}

export function track(set: SmallStringSet, jid: string, available: boolean): void {
  if (!available) set.delete(jid);
  else if (set.size < MAX_TRACKED) set.add(jid);
}

/**
 * Keeps `set` to the full JIDs whose available presence the session holds. A room's unavailable self-presence
 * (XEP-0045 §7.14, §9.6, §9.8, §10.9: status 110) takes the session out of the room, and the room sends no
 * unavailable for the other occupants then, so their entries go with it; a nick change (status 303) does not.
 */
export function trackPresence(set: SmallStringSet, stanza: Element): void {
  const from = stanza.attrs.from;
  if (from === undefined) return;
  const available = stanza.attrs.type === undefined;
  track(set, from, available);
  if (available || set.size === 0) return;
  const codes = stanza.getChild('x', NS.mucUser)?.getChildren('status').map((status) => status.attrs.code);
  if (codes === undefined || !codes.includes('110') || codes.includes('303')) return;
  const slash = from.indexOf('/');
  if (slash < 0) return;
  const room = from.slice(0, slash + 1);
  for (const jid of set) if (jid.startsWith(room)) set.delete(jid);
}

/** The privacy state of one user with sessions on this node. */
export class UserPrivacy {
  blocked: BlockList = BlockList.EMPTY;
  defaultName: string | undefined;
  /** Compiled lists in use: the default list and the sessions' active lists. */
  readonly lists = new Map<string, CompiledList>();
  /** Bare JID -> subscription and groups; loaded only while a list in use needs it. */
  roster: Map<string, RosterEntry> | undefined;
  /** Roster changes seen while the snapshot was loading, applied once it arrives. */
  rosterQueue: RosterChange[] | undefined;
  rosterLoad: Promise<void> | undefined;
  readonly sessions = new Map<BoundSession, SessionPrivacy>();

  constructor(readonly username: string) {}

  get defaultList(): CompiledList | undefined {
    return this.defaultName === undefined ? undefined : this.lists.get(this.defaultName);
  }

  /** The list that applies to a session: its active list, else the default list (§2.2 rules 1-2). */
  listFor(session: BoundSession | undefined): CompiledList | undefined {
    const active = session ? this.sessions.get(session)?.active : undefined;
    return active === undefined ? this.defaultList : this.lists.get(active);
  }

  /** Nothing is blocked nor listed for the session: the filter's fast path, with no Policy built per stanza. */
  isOpenFor(session: BoundSession): boolean {
    // No compiled list in use means listFor finds none, whatever the session: no session lookup then.
    return this.blocked.size === 0 && (this.lists.size === 0 || this.listFor(session) === undefined);
  }

  /** The policy of a session, or of the user as a whole (default list) without one. */
  policy(session?: BoundSession): Policy {
    return { blocked: this.blocked, list: this.listFor(session), roster: this.roster };
  }

  /** Whether the named list is the default or a session's active list. */
  inUse(name: string): boolean {
    if (this.defaultName === name) return true;
    for (const s of this.sessions.values()) if (s.active === name) return true;
    return false;
  }

  /** Whether the default list applies to a connected session other than `except` (one with no active list). */
  defaultAppliesToOther(except: BoundSession | undefined): boolean {
    if (this.defaultName === undefined) return false;
    for (const [session, s] of this.sessions) if (session !== except && s.active === undefined) return true;
    return false;
  }

  /** Whether the named list applies to a connected session other than `except` (§2.2 rule 11). */
  appliesToOther(name: string, except: BoundSession | undefined): boolean {
    for (const [session, s] of this.sessions) {
      if (session === except) continue;
      if (s.active === name || (s.active === undefined && this.defaultName === name)) return true;
    }
    return false;
  }

  /** Whether some list in use has group or subscription items. */
  get needsRoster(): boolean {
    for (const list of this.lists.values()) if (list.needsRoster) return true;
    return false;
  }

  /** Forgets compiled lists no session uses any more. */
  prune(): void {
    for (const name of [...this.lists.keys()]) if (!this.inUse(name)) this.lists.delete(name);
  }
}

export function applyRosterChange(roster: Map<string, RosterEntry>, change: RosterChange): void {
  if (change.subscription === 'remove') roster.delete(change.jid);
  else roster.set(change.jid, { subscription: change.subscription, groups: [...change.groups] });
}

export function rosterMap(items: readonly RosterItem[]): Map<string, RosterEntry> {
  const map = new Map<string, RosterEntry>();
  for (const item of items) applyRosterChange(map, item);
  return map;
}

export interface PrivacyStores {
  readonly privacy: PrivacyStore;
  readonly blocklist: BlockListStore;
  readonly roster: RosterStore;
}

export class PrivacyCache {
  private readonly users = new Map<string, UserPrivacy>();
  private readonly loading = new Map<string, Promise<UserPrivacy>>();
  private readonly offlineReads = new Map<string, Promise<Policy>>();
  /** States being loaded, not yet in `users`. */
  private readonly building = new Map<string, UserPrivacy>();
  private readonly locks = new Map<string, Promise<void>>();
  private readonly closed = new WeakSet<BoundSession>();
  /** Sessions taken over from another node whose state is not attached yet: what they had there. */
  private readonly adopted = new Map<BoundSession, MovedSessionPrivacy>();
  /** Default policies of users with no session here, least recently used first. */
  private readonly offline = new Map<string, Policy>();
  /** Counts roster changes, to tell whether one happened during an offline read. */
  private rosterEpoch = 0;

  constructor(private readonly stores: PrivacyStores, private readonly offlineLimit = 1000) {}

  /** The loaded state of a user, or undefined: the hot-path read. */
  get(username: string): UserPrivacy | undefined {
    return this.users.get(username);
  }

  /** Adds a session to its user's state, loading the state on the user's first session. */
  async attach(session: BoundSession): Promise<UserPrivacy> {
    const username = session.jid.local;
    const loaded = await this.load(username);
    const moved = this.adopted.get(session);
    // XEP-0016 §2.4: the active list the session chose on its old node still applies, unless it was deleted since.
    const active = moved?.active === undefined ? undefined : await this.listNamed(loaded, moved.active);
    this.adopted.delete(session);
    if (this.closed.has(session)) {
      // Ended while its user's state loaded.
      if (loaded.sessions.size === 0 && this.users.get(username) === loaded) this.users.delete(username);
      return loaded;
    }
    // Another session of the user may have ended meanwhile and taken the state out; it is still current.
    const user = this.users.get(username) ?? loaded;
    this.users.set(username, user);
    this.offline.delete(username);
    if (!user.sessions.has(session)) {
      if (active) user.lists.set(active.name, active);
      const directedTo = moved?.directedTo && moved.directedTo.length > 0 ? new SmallStringSet(moved.directedTo) : undefined;
      user.sessions.set(session, { active: active?.name, presenceFrom: new SmallStringSet(moved?.presenceFrom), directedTo });
    }
    return user;
  }

  /** A list of the user's, compiled, with the roster snapshot it needs; undefined when there is none by that name. */
  private async listNamed(user: UserPrivacy, name: string): Promise<CompiledList | undefined> {
    let list = user.lists.get(name);
    if (!list) {
      const items = await this.stores.privacy.getList(user.username, name);
      if (!items) return undefined;
      list = compileList(name, items);
    }
    if (list.needsRoster) await this.ensureRoster(user);
    return list;
  }

  /** A session taken over from another node: what it had there applies once it is attached (attach). */
  adopt(session: BoundSession, moved: MovedSessionPrivacy): void {
    this.adopted.set(session, moved);
  }

  /** Whether the session came from another node and its state is not attached yet: its stanzas wait. */
  adopting(session: BoundSession): boolean {
    return this.adopted.size !== 0 && this.adopted.has(session);
  }

  /** A session's state as it moves to another node; undefined when there is nothing to move. */
  exportSession(session: BoundSession): MovedSessionPrivacy | undefined {
    const state = this.users.get(session.jid.local)?.sessions.get(session);
    if (!state || (state.active === undefined && state.presenceFrom.size === 0 && (state.directedTo?.size ?? 0) === 0)) return undefined;
    return {
      ...(state.active !== undefined ? { active: state.active } : {}),
      ...(state.presenceFrom.size > 0 ? { presenceFrom: [...state.presenceFrom] } : {}),
      ...(state.directedTo && state.directedTo.size > 0 ? { directedTo: [...state.directedTo] } : {}),
    };
  }

  /** Removes a session; the user's state goes with their last session. */
  detach(session: BoundSession): void {
    this.closed.add(session);
    this.adopted.delete(session);
    const username = session.jid.local;
    const user = this.users.get(username);
    if (!user || !user.sessions.delete(session)) return;
    user.prune();
    if (user.sessions.size > 0) return;
    this.users.delete(username);
    this.remember(username, user.policy());
  }

  /**
   * Runs a change of a user's privacy data (store write, then cache update) so that no load or
   * other change of the same user interleaves with it; `change` gets the current state.
   */
  async change<T>(session: BoundSession, change: (user: UserPrivacy) => Promise<T>): Promise<T> {
    const username = session.jid.local;
    const loaded = this.users.get(username) ?? (await this.attach(session));
    return this.exclusive(username, () => {
      this.offline.delete(username);
      return change(this.users.get(username) ?? loaded);
    });
  }

  /** The default policy of any local user: from memory when cached, else read once and kept in the LRU. */
  async policyOf(username: string): Promise<Policy> {
    const live = this.users.get(username);
    if (live) return live.policy();
    const cached = this.offline.get(username);
    if (cached) {
      this.offline.delete(username);
      this.offline.set(username, cached);
      return cached;
    }
    // Concurrent checks for the same user (a burst of offline messages) share one read.
    const pending = this.offlineReads.get(username);
    if (pending) return pending;
    const read = this.exclusive(username, async () => {
      const epoch = this.rosterEpoch;
      const state = await this.read(username);
      const policy: Policy = {
        blocked: state.blocked,
        list: state.defaultList,
        roster: state.defaultList?.needsRoster ? rosterMap((await this.stores.roster.get(username)).items) : undefined,
      };
      // Not remembered when some roster changed during the read: it might have been this one.
      if (!this.users.has(username) && (policy.roster === undefined || epoch === this.rosterEpoch)) this.remember(username, policy);
      return policy;
    }).finally(() => this.offlineReads.delete(username));
    this.offlineReads.set(username, read);
    return read;
  }

  /** Loads the roster snapshot unless it is there; changes that arrive meanwhile are applied after. */
  ensureRoster(user: UserPrivacy): Promise<void> {
    if (user.roster) return Promise.resolve();
    if (user.rosterLoad) return user.rosterLoad;
    user.rosterQueue = [];
    user.rosterLoad = this.stores.roster
      .get(user.username)
      .then((roster) => {
        const map = rosterMap(roster.items);
        for (const change of user.rosterQueue ?? []) applyRosterChange(map, change);
        user.roster = map;
      })
      .finally(() => {
        user.rosterQueue = undefined;
        user.rosterLoad = undefined;
      });
    return user.rosterLoad;
  }

  /** Follows a roster write (XEP-0016 §2.2 rule 9: later decisions see the new subscription or groups). */
  rosterChanged(username: string, change: RosterChange): void {
    this.rosterEpoch++;
    const user = this.users.get(username) ?? this.building.get(username);
    if (user?.roster) applyRosterChange(user.roster, change);
    else user?.rosterQueue?.push(change);
    // A remembered offline policy that reads the roster is simply read again when next needed.
    if (this.offline.get(username)?.roster) this.offline.delete(username);
  }

  /** Forgets everything about a user (account deleted). */
  forget(username: string): void {
    this.offline.delete(username);
    const user = this.users.get(username);
    if (!user) return;
    user.blocked = BlockList.EMPTY;
    user.defaultName = undefined;
    user.lists.clear();
    for (const s of user.sessions.values()) s.active = undefined;
  }

  clear(): void {
    this.users.clear();
    this.offline.clear();
  }

  private load(username: string): Promise<UserPrivacy> {
    const loaded = this.users.get(username);
    if (loaded) return Promise.resolve(loaded);
    const pending = this.loading.get(username);
    if (pending) return pending;
    const load = this.exclusive(username, async () => {
      const state = await this.read(username);
      const user = new UserPrivacy(username);
      user.blocked = state.blocked;
      if (state.defaultList) {
        user.defaultName = state.defaultList.name;
        user.lists.set(state.defaultList.name, state.defaultList);
        if (state.defaultList.needsRoster) {
          // Roster changes during the read must find this state (see rosterChanged).
          this.building.set(username, user);
          try {
            await this.ensureRoster(user);
          } finally {
            this.building.delete(username);
          }
        }
      }
      this.offline.delete(username);
      this.users.set(username, user);
      return user;
    }).finally(() => this.loading.delete(username));
    this.loading.set(username, load);
    return load;
  }

  private async read(username: string): Promise<{ blocked: BlockList; defaultList: CompiledList | undefined }> {
    const [names, blocked] = await Promise.all([this.stores.privacy.names(username), this.stores.blocklist.list(username)]);
    let defaultList: CompiledList | undefined;
    if (names.default !== undefined) {
      const items = await this.stores.privacy.getList(username, names.default);
      if (items) defaultList = compileList(names.default, items);
    }
    return { blocked: BlockList.of(blocked), defaultList };
  }

  private remember(username: string, policy: Policy): void {
    this.offline.delete(username);
    this.offline.set(username, policy);
    if (this.offline.size > this.offlineLimit) {
      const oldest = this.offline.keys().next();
      if (!oldest.done) this.offline.delete(oldest.value);
    }
  }

  /** Runs tasks for one user one at a time, in call order. */
  private exclusive<T>(username: string, task: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(username) ?? Promise.resolve();
    const run = previous.then(task);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(username, tail);
    void tail.then(() => {
      if (this.locks.get(username) === tail) this.locks.delete(username);
    });
    return run;
  }
}
