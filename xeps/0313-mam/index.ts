// XEP-0313 Message Archive Management (urn:xmpp:mam:2 and #extended) for accounts and rooms, with
// XEP-0059 paging and XEP-0359 stanza ids. Archiving (archiving.ts) happens beside routing: the sender's copy
// after 'message:sent', the recipient's as the message is handed to a session (an incoming filter, which also
// stamps the stanza-id) or stored offline ('message:offline', before the offline store keeps it), a room's
// through MUC's 'muc:groupchat' hook. Writes are batched (writer.ts); queries (query.ts) and preferences
// (prefs.ts, §5) are IQs to the own account or, for a room, to the room's JID (§6, access asked of MUC).
import { StanzaError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import { ANY_DOMAIN, defineModule, type BoundSession, type IqRequest, type ModuleContext } from '../../src/modules/api.js';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { archivable, record, stamp, stanzaIdBy, stripStanzaIds } from './archiving.js';
import { newArchiveId } from './ids.js';
import { archivesNothing, parsePrefs, prefsElement, PrefsCache, shouldArchive, type PrefsEntry } from './prefs.js';
import { finElement, parseQuery, queryForm, resultMessage, runQuery } from './query.js';
import { mamConfig, type MamSettings } from './settings.js';
import { archiveStores } from './store/index.js';
import type { ArchivedMessage, ArchiveStore } from './store/types.js';
import { ArchiveWriter } from './writer.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const FEATURES = [NS.mam, NS.mamExtended];

type Context = ModuleContext<MamSettings, ArchiveStore>;

export default defineModule({
  name: 'mam',
  specs: [
    {
      id: 'XEP-0313',
      title: 'Message Archive Management',
      version: '1.1.3',
      scope: 'user and MUC room archives: queries with with/start/end and the #extended before-id/after-id/ids filters, paging both ways, <fin complete/>, preferences (always/never/roster), retention',
      status: 'partial',
    },
    { id: 'XEP-0059', title: 'Result Set Management', version: '1.0.0', scope: 'max, after, before (empty for the last page), first and last in archive queries; no index, no count', status: 'partial' },
    { id: 'XEP-0359', title: 'Unique and Stable Stanza IDs', version: '0.7.0', scope: 'stanza-id stamped by the archives (user and room); forged stanza-ids for our archives removed', status: 'partial' },
  ],
  depends: ['disco'],
  config: mamConfig,
  stores: archiveStores,
  setup(ctx) {
    const settings = ctx.settings;
    // Every archive operation timed for the metrics (ratatosk_store_operation_seconds{store="archive"}).
    const store = ctx.metrics.timeStore('archive', ctx.store);
    const writer = new ArchiveWriter(store, settings, ctx.log);
    const prefs = new PrefsCache(store, async (username) => (await ctx.stores.roster.get(username)).items.map((item) => item.jid), settings.defaultPrefs);
    const ours = (by: string): boolean => {
      const domain = Jid.tryParse(by)?.domain;
      return domain !== undefined && (domain === ctx.domain || domain.endsWith(`.${ctx.domain}`));
    };

    for (const feature of FEATURES) {
      ctx.addAccountFeature(feature);
      ctx.addFeature(feature);
    }

    /** The recipient's side: stamp once per message, whichever session or store takes it; the record to archive. */
    const receive = (stanza: Element, user: Jid, entry: PrefsEntry): ArchivedMessage | undefined => {
      if (archivesNothing(entry.prefs) || !archivable(stanza)) return undefined;
      const owner = user.bareString();
      if (stanzaIdBy(stanza, owner) !== undefined) return undefined;
      const from = Jid.tryParse(stanza.attrs.from);
      if (from === undefined) return undefined;
      if (!shouldArchive(entry.prefs, from, entry.roster)) return undefined;
      const id = newArchiveId();
      stamp(stanza, owner, id);
      return record(user.local, from, stanza, id);
    };
    /** Messages stamped on their way to offline storage, archived once it took them ('message:delivered' to no resource). */
    const storing = new WeakMap<Element, ArchivedMessage>();

    ctx.addStanzaFilter({
      outgoing(stanza) {
        if (stanza.name === 'message') stripStanzaIds(stanza, ours);
        return true;
      },
      incoming(stanza, session) {
        if (stanza.name !== 'message') return true;
        const entry = prefs.cached(session.jid.local);
        if (entry === undefined) {
          // Preferences unknown (the store was down when the session bound): not archived rather than against a
          // 'never'; they are read again for the messages that follow.
          if (archivable(stanza)) void prefs.load(session.jid.local).catch(() => undefined);
          return true;
        }
        const archived = receive(stanza, session.jid.bare(), entry);
        if (archived !== undefined) writer.add(archived);
        return true;
      },
    });
    // Stamped before the offline store keeps it (priority above the IM module's), so the copy delivered later carries
    // the id; archived only if the store took it (a full offline store bounces it to the sender instead).
    ctx.hook('message:offline', async (stanza, to) => {
      const entry = await prefs.get(to.local).catch(() => undefined);
      const archived = entry === undefined ? undefined : receive(stanza, to.bare(), entry);
      if (archived !== undefined) storing.set(stanza, archived);
      return undefined;
    }, 10);
    ctx.hook('message:delivered', (stanza, _user, resources) => {
      const archived = resources.length === 0 ? storing.get(stanza) : undefined;
      if (archived === undefined) return;
      storing.delete(stanza);
      writer.add(archived);
    });
    const archiveSent = async (stanza: Element, session: BoundSession, cached: PrefsEntry | undefined): Promise<void> => {
      const to = Jid.tryParse(stanza.attrs.to);
      // To oneself: the receiving side archives it once.
      if (to === undefined || to.bareString() === session.jid.bareString()) return;
      const entry = cached ?? (await prefs.get(session.jid.local).catch(() => undefined));
      if (entry !== undefined && shouldArchive(entry.prefs, to, entry.roster)) writer.add(record(session.jid.local, to, stanza));
    };
    // Every message passes here: a sender who archives nothing costs no promise.
    ctx.hook('message:sent', (stanza, session) => {
      const cached = prefs.cached(session.jid.local);
      if ((cached !== undefined && archivesNothing(cached.prefs)) || !archivable(stanza)) return;
      return archiveSent(stanza, session, cached);
    });

    ctx.hook('session:binding', async (session) => {
      if (prefs.cached(session.jid.local) === undefined) await prefs.load(session.jid.local);
    });
    const left = (session: BoundSession): void => {
      if (ctx.sessions.resources(session.jid.bareString()).length === 0) prefs.forget(session.jid.local);
    };
    ctx.hook('session:closed', left);
    ctx.hook('session:handed-over', left);
    ctx.hook('roster:changed', (username, item) => prefs.rosterChanged(username, item.jid, item.subscription === 'remove'));
    ctx.hook('account:deleted', async (username) => {
      prefs.forget(username);
      await store.removeOwner(username);
    });

    registerRooms(ctx, writer);
    registerIqs(ctx, store, writer, prefs);

    if (settings.retentionDays > 0) {
      const purge = async (): Promise<void> => {
        const removed = await store.purgeBefore(Date.now() - settings.retentionDays * DAY_MS);
        if (removed > 0) ctx.log.info({ removed, retentionDays: settings.retentionDays }, 'archive: old messages purged');
      };
      ctx.every(settings.purgeIntervalMs, purge);
    }
    ctx.onStop(() => writer.stop());
  },
});

/** §6: room messages into the room's archive, stamped by the room; the features in the room's disco#info. */
function registerRooms(ctx: Context, writer: ArchiveWriter): void {
  ctx.hook('muc:groupchat', (roomJid, message) => {
    stripStanzaIds(message, (by) => by === roomJid);
    if (message.getChild('body') === undefined || message.getChild('no-store', NS.hints) !== undefined) return;
    const from = Jid.tryParse(message.attrs.from);
    if (from === undefined) return;
    const id = newArchiveId();
    stamp(message, roomJid, id);
    writer.add(record(roomJid, from, message, id));
  });
  ctx.hook('muc:room-features', (_roomJid, features) => {
    features.push(...FEATURES);
  });
}

function registerIqs(ctx: Context, store: ArchiveStore, writer: ArchiveWriter, prefs: PrefsCache): void {
  const query = async (owner: string, archiveJid: string, { payload, from }: IqRequest): Promise<Element> => {
    const parsed = parseQuery(payload);
    // Read your writes: what is queued goes to the store first.
    await writer.flush();
    const page = await runQuery(store, owner, parsed, ctx.settings.maxPage);
    for (const message of page.messages) await ctx.send(resultMessage(message, archiveJid, from.toString(), parsed.queryId), Jid.parse(archiveJid));
    return finElement(page);
  };
  ctx.onIq('set', 'self', NS.mam, 'query', (request) => query(request.from.local, request.from.bareString(), request));
  ctx.onIq('get', 'self', NS.mam, 'query', () => queryForm());
  ctx.onIq('get', 'self', NS.mam, 'prefs', async ({ from }) => prefsElement((await store.getPrefs(from.local)) ?? prefs.defaults()));
  ctx.onIq('set', 'self', NS.mam, 'prefs', async ({ from, payload }) => {
    const wanted = parsePrefs(payload);
    await prefs.set(from.local, wanted);
    return prefsElement(wanted);
  });

  // A room's archive (§6): to the room's JID, for those MUC lets read it.
  const room = async (request: IqRequest): Promise<void> => {
    const roomJid = request.to.bareString();
    const allowed = await ctx.fire('muc:archive-access', roomJid, request.from);
    if (allowed === undefined) throw new StanzaError('item-not-found', 'no such room');
    if (!allowed) throw new StanzaError('forbidden', 'only occupants and members may read this room\'s archive');
  };
  ctx.onIq('set', { domain: ANY_DOMAIN, to: 'bare' }, NS.mam, 'query', async (request) => {
    await room(request);
    return query(request.to.bareString(), request.to.bareString(), request);
  });
  ctx.onIq('get', { domain: ANY_DOMAIN, to: 'bare' }, NS.mam, 'query', async (request) => {
    await room(request);
    return queryForm();
  });
}
