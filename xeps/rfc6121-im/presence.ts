// Presence (RFC 6121 §4): initial presence with probes (§4.2, §4.3), subsequent presence (§4.4), unavailable
// presence (§4.5) also to directed-presence recipients (§4.6.3), and the unavailable presence a session owes
// its contacts when it ends without saying so (§4.5: "the server MUST ... as if the client had sent it"),
// also when it ended with a cluster node that died (the 'cluster:sessions-lost' hook).
import { Jid } from '../../src/jid.js';
import type { BoundSession } from '../../src/modules/api.js';
import { xml, type Element } from '../../src/xml/element.js';
import type { OfflineDelivery } from './offline.js';
import { hasFrom, hasTo, MAX_DIRECTED, readdress, type Im } from './shared.js';
import { deliverPendingRequests } from './subscriptions.js';

/** Users whose lost sessions are announced at the same time, after a node died. */
const LOST_USERS_AT_ONCE = 50;

export function setupPresence(im: Im, offline: OfflineDelivery): void {
  const { ctx } = im;
  const roster = ctx.stores.roster;

  /**
   * Sends `stanza` from the session to the user's subscribers ('from', 'both'), to the user's own available
   * resources (the sender included while it is available, §4.2.2) and, when `directed`, to the JIDs that
   * got directed presence from it and are not covered already (§4.6.3).
   */
  const broadcast = async (session: BoundSession, stanza: Element, scope: { contacts: boolean; directed: boolean }): Promise<void> => {
    const from = session.jid.toString();
    const targets = new Set<string>();
    if (scope.contacts) {
      targets.add(session.jid.bareString());
      for (const item of (await roster.get(session.jid.local)).items) if (hasFrom(item.subscription)) targets.add(item.jid);
    }
    if (scope.directed) {
      for (const jid of im.book(session).directed ?? []) {
        const bare = Jid.tryParse(jid)?.bareString();
        if (bare === undefined || !targets.has(bare)) targets.add(jid);
      }
    }
    // Users of this server (the bulk): one serialisation for all their resources, here and on other nodes.
    // Full JIDs (directed presence) and other domains are routed one by one.
    const users: string[] = [];
    const others: string[] = [];
    for (const to of targets) {
      const jid = Jid.tryParse(to);
      if (jid !== undefined && jid.isBare && im.isLocalUser(jid)) users.push(jid.toString());
      else others.push(to);
    }
    await Promise.all([
      ctx.sendToBareJids(readdress(stanza, { from }), users, session.jid),
      ...others.map((to) => ctx.send(readdress(stanza, { from, to }), session.jid)),
    ]);
  };

  /**
   * §4.3: the presence of contacts the user subscribes to ('to', 'both'). Local contacts are answered here
   * from their live sessions (those on other nodes by their node), after checking their side of the
   * subscription; others get a probe.
   */
  const probe = async (session: BoundSession): Promise<void> => {
    const user = session.jid.bareString();
    const full = session.jid.toString();
    const contacts = (await roster.get(session.jid.local)).items.filter((i) => hasTo(i.subscription));
    await Promise.all(
      contacts.map(async ({ jid }) => {
        const contact = Jid.tryParse(jid);
        if (!contact) return;
        if (!im.isLocalUser(contact)) {
          await ctx.send(xml('presence', { type: 'probe', from: full, to: jid }), session.jid);
          return;
        }
        const elsewhere = await im.availableElsewhere(contact.local);
        if (im.available(contact.local).length === 0 && elsewhere.length === 0) return;
        const theirs = await roster.getItem(contact.local, user);
        if (!theirs || !hasFrom(theirs.subscription)) return;
        await im.sendPresenceOf(contact.local, full, elsewhere);
      }),
    );
  };

  /**
   * The presence of the user's other available resources, for a resource that just became available.
   * Those on other nodes are shown by their node, asked with a probe to one full JID it holds.
   */
  const showOwnResources = async (session: BoundSession): Promise<void> => {
    for (const other of im.available(session.jid.local)) {
      if (other === session || !other.presence.stanza) continue;
      ctx.deliver(session, readdress(other.presence.stanza, { from: other.jid.toString(), to: session.jid.toString() }));
    }
    const asked = new Set<string>();
    for (const other of await im.availableElsewhere(session.jid.local)) {
      if (asked.has(other.node)) continue;
      asked.add(other.node);
      await ctx.send(xml('presence', { type: 'probe', from: session.jid.toString(), to: other.jid.toString() }), session.jid);
    }
  };

  ctx.hook('presence:broadcast', async (session, stanza) => {
    const book = im.book(session);
    if (stanza.attrs.type === 'unavailable') {
      const wasOnline = book.online;
      book.online = false;
      await broadcast(session, stanza, { contacts: wasOnline, directed: true });
      book.directed = undefined;
      return;
    }
    const initial = !book.online;
    const wasNegative = initial || book.priority < 0;
    book.online = true;
    book.priority = session.presence.priority;
    await broadcast(session, stanza, { contacts: true, directed: false });
    if (initial) {
      await probe(session);
      await showOwnResources(session);
      await deliverPendingRequests(im, session);
    }
    // XEP-0160: stored messages go to the first resource available with a non-negative priority.
    if (book.priority >= 0 && wasNegative) await offline.deliver(session);
  });

  // §4.6.3: remember who got directed presence, to tell them when the session goes away.
  ctx.hook('presence:directed', (session, stanza, to) => {
    if (to.bareString() === session.jid.bareString()) return;
    const book = im.book(session);
    const key = to.toString();
    book.directed?.delete(key);
    if (stanza.attrs.type === 'unavailable') return;
    const directed = (book.directed ??= new Set());
    directed.add(key);
    if (directed.size > MAX_DIRECTED) {
      const oldest = directed.values().next();
      if (!oldest.done) directed.delete(oldest.value);
    }
  });

  // §4.6.3 across nodes: a session another node takes over (XEP-0198 resumption there) keeps its recipients of
  // directed presence, so that they learn when it ends on that node.
  ctx.onSessionHandOver({
    export: (session) => {
      const directed = im.peekBook(session)?.directed;
      return directed && directed.size > 0 ? { directed: [...directed] } : undefined;
    },
    adopt: (session, value) => {
      const directed = typeof value === 'object' && value !== null && 'directed' in value ? value.directed : undefined;
      if (!Array.isArray(directed) || directed.length > MAX_DIRECTED) throw new Error('unreadable directed-presence recipients of a session handed over');
      const jids = directed.filter((jid): jid is string => typeof jid === 'string' && Jid.tryParse(jid) !== undefined);
      if (jids.length > 0) im.book(session).directed = new Set(jids);
    },
  });

  // A session taken over from another node (XEP-0198 resumption there) is bound here already available: its
  // contacts saw its presence, and must see it end. A session bound by a client is not available yet.
  ctx.hook('session:bound', (session) => {
    if (!session.presence.available) return;
    const book = im.book(session);
    book.online = true;
    book.priority = session.presence.priority;
  });

  // However the session ended, its contacts must not see it available any longer.
  ctx.hook('session:closed', async (session) => {
    const book = im.book(session);
    const wasOnline = book.online;
    book.online = false;
    if (!wasOnline && (book.directed?.size ?? 0) === 0) return;
    // A session that replaced this one under the same full JID and is already available speaks for itself,
    // whether here or on another node.
    const successor = ctx.sessions.get(session.jid.toString());
    let replaced = successor !== undefined && successor !== session && successor.presence.available;
    if (!replaced && wasOnline) replaced = (await ctx.sessions.remote(session.jid.bareString())).some((r) => r.jid.equals(session.jid) && r.available);
    await broadcast(session, xml('presence', { type: 'unavailable', from: session.jid.toString() }), { contacts: wasOnline && !replaced, directed: true });
    book.directed = undefined;
  });

  /** Unavailable presence from the user's lost full JIDs that are not bound and available again anywhere. */
  const announceLost = async (username: string, jids: readonly Jid[]): Promise<void> => {
    const bare = im.userJid(username).toString();
    const availableAgain = new Set([...im.available(username).map((s) => s.jid.toString()), ...(await im.availableElsewhere(username)).map((r) => r.jid.toString())]);
    const gone = jids.filter((jid) => !availableAgain.has(jid.toString()));
    if (gone.length === 0) return;
    const targets = [bare, ...(await roster.get(username)).items.filter((i) => hasFrom(i.subscription)).map((i) => i.jid)];
    await Promise.all(gone.flatMap((jid) => targets.map((to) => ctx.send(xml('presence', { type: 'unavailable', from: jid.toString(), to }), jid))));
  };

  // A cluster node died (or this node restarted): its sessions ended without a word. Their contacts with a
  // subscription ('from', 'both') and the users' other resources get the unavailable presence §4.5 owes
  // them. Directed-presence recipients (§4.6.3) were known only to the dead node and are not told.
  ctx.hook('cluster:sessions-lost', async (sessions) => {
    const byUser = new Map<string, Jid[]>();
    for (const { jid, available } of sessions) {
      if (!available || !im.isLocalUser(jid)) continue;
      const list = byUser.get(jid.local);
      if (list) list.push(jid);
      else byUser.set(jid.local, [jid]);
    }
    const users = [...byUser];
    for (let i = 0; i < users.length; i += LOST_USERS_AT_ONCE) {
      await Promise.all(users.slice(i, i + LOST_USERS_AT_ONCE).map(([username, jids]) => announceLost(username, jids)));
    }
  });
}
