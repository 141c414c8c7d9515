// XEP-0313 §5 archiving preferences: the <prefs/> element both ways, the rule that decides whether a
// message with a contact is archived, and a cache of the preferences (and, for 'roster', the roster) of
// users with sessions here, so the delivery path decides synchronously.
import { StanzaError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import { Element, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { ArchivePrefs, ArchiveStore, PrefsDefault } from './store/types.js';

const MAX_LISTED = 1000;

function jidList(parent: Element | undefined, name: string): string[] {
  if (parent === undefined) return [];
  const jids = parent.getChildren('jid').map((el) => {
    const jid = Jid.tryParse(el.getText().trim());
    if (jid === undefined) throw new StanzaError('jid-malformed', `<${name}/>: "${el.getText()}" is not a JID`);
    return jid.toString();
  });
  if (jids.length > MAX_LISTED) throw new StanzaError('not-acceptable', `at most ${MAX_LISTED} JIDs in <${name}/>`);
  return [...new Set(jids)];
}

/** §5.2: a <prefs/> set; bad-request for a missing or unknown default. */
export function parsePrefs(prefs: Element): ArchivePrefs {
  const mode = prefs.attrs.default;
  if (mode !== 'always' && mode !== 'never' && mode !== 'roster') throw new StanzaError('bad-request', `<prefs/> needs default="always|never|roster", got ${mode === undefined ? 'none' : `"${mode}"`}`);
  return { default: mode, always: jidList(prefs.getChild('always'), 'always'), never: jidList(prefs.getChild('never'), 'never') };
}

export function prefsElement(prefs: ArchivePrefs): Element {
  const list = (name: string, jids: readonly string[]): Element => xml(name, {}, ...jids.map((jid) => xml('jid', {}, jid)));
  return xml('prefs', { xmlns: NS.mam, default: prefs.default }, list('always', prefs.always), list('never', prefs.never));
}

/** §5.1: whether a message with `peer` (a JID) is archived. */
export function shouldArchive(prefs: ArchivePrefs, peer: Jid, roster: ReadonlySet<string> | undefined): boolean {
  const full = peer.toString();
  const bare = peer.bareString();
  if (prefs.never.includes(full) || prefs.never.includes(bare)) return false;
  if (prefs.always.includes(full) || prefs.always.includes(bare)) return true;
  if (prefs.default === 'roster') return roster?.has(bare) ?? false;
  return prefs.default === 'always';
}

/** No peer is archived under these preferences (default 'never', nothing listed under 'always'): the delivery path's early out. */
export function archivesNothing(prefs: ArchivePrefs): boolean {
  return prefs.default === 'never' && prefs.always.length === 0;
}

export interface PrefsEntry {
  prefs: ArchivePrefs;
  /** The roster's bare JIDs, only for default 'roster'. */
  roster?: Set<string>;
}

export class PrefsCache {
  private readonly entries = new Map<string, PrefsEntry>();

  constructor(
    private readonly store: ArchiveStore,
    private readonly rosterOf: (username: string) => Promise<string[]>,
    private readonly fallback: PrefsDefault,
  ) {}

  defaults(): ArchivePrefs {
    return { default: this.fallback, always: [], never: [] };
  }

  /** The cached entry of a user with a session here (undefined when not loaded). */
  cached(username: string): PrefsEntry | undefined {
    return this.entries.get(username);
  }

  private readonly loading = new Map<string, Promise<PrefsEntry>>();

  /** Loads a user's entry into the cache, once however many ask at the same time. */
  load(username: string): Promise<PrefsEntry> {
    let pending = this.loading.get(username);
    if (pending === undefined) {
      pending = this.read(username).finally(() => this.loading.delete(username));
      this.loading.set(username, pending);
    }
    return pending;
  }

  private async read(username: string): Promise<PrefsEntry> {
    const prefs = (await this.store.getPrefs(username)) ?? this.defaults();
    const entry: PrefsEntry = prefs.default === 'roster' ? { prefs, roster: new Set(await this.rosterOf(username)) } : { prefs };
    this.entries.set(username, entry);
    return entry;
  }

  /** The entry from the cache, or read without caching it (a user with no session here). */
  async get(username: string): Promise<PrefsEntry> {
    const entry = this.entries.get(username);
    if (entry !== undefined) return entry;
    const prefs = (await this.store.getPrefs(username)) ?? this.defaults();
    return prefs.default === 'roster' ? { prefs, roster: new Set(await this.rosterOf(username)) } : { prefs };
  }

  async set(username: string, prefs: ArchivePrefs): Promise<void> {
    await this.store.setPrefs(username, prefs);
    if (this.entries.has(username)) await this.load(username);
  }

  rosterChanged(username: string, jid: string, removed: boolean): void {
    const roster = this.entries.get(username)?.roster;
    if (roster === undefined) return;
    if (removed) roster.delete(jid);
    else roster.add(jid);
  }

  forget(username: string): void {
    this.entries.delete(username);
  }
}
