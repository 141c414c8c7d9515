// Presence (RFC 6121 §4): initial presence with probes (§4.2, §4.3), subsequent presence (§4.4), unavailable
// presence (§4.5) also to directed-presence recipients (§4.6.3), and the unavailable presence a session owes
// its contacts when it ends without saying so (§4.5: "the server MUST ... as if the client had sent it").
import { Jid } from '../../src/jid.js';
import type { BoundSession } from '../../src/sessions/types.js';
import { xml, type Element } from '../../src/xml/element.js';
import type { OfflineDelivery } from './offline.js';
import { hasFrom, hasTo, MAX_DIRECTED, readdress, type Im } from './shared.js';
import { deliverPendingRequests } from './subscriptions.js';

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
      for (const jid of im.book(session).directed) {
        const bare = Jid.tryParse(jid)?.bareString();
        if (bare === undefined || !targets.has(bare)) targets.add(jid);
      }
    }
    await Promise.all([...targets].map((to) => ctx.send(readdress(stanza, { from, to }), session.jid)));
  };

  /**
   * §4.3: the presence of contacts the user subscribes to ('to', 'both'). Local contacts are answered here
   * from their live sessions, after checking their side of the subscription; others get a probe.
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
        const online = im.available(contact.local);
        if (online.length === 0) return;
        const theirs = await roster.getItem(contact.local, user);
        if (!theirs || !hasFrom(theirs.subscription)) return;
        await im.sendPresenceOf(contact.local, full);
      }),
    );
  };

  /** The presence of the user's other available resources, for a resource that just became available. */
  const showOwnResources = (session: BoundSession): void => {
    for (const other of im.available(session.jid.local)) {
      if (other === session || !other.presence.stanza) continue;
      ctx.deliver(session, readdress(other.presence.stanza, { from: other.jid.toString(), to: session.jid.toString() }));
    }
  };

  ctx.hook('presence:broadcast', async (session, stanza) => {
    const book = im.book(session);
    if (stanza.attrs.type === 'unavailable') {
      const wasOnline = book.online;
      book.online = false;
      await broadcast(session, stanza, { contacts: wasOnline, directed: true });
      book.directed.clear();
      return;
    }
    const initial = !book.online;
    const wasNegative = initial || book.priority < 0;
    book.online = true;
    book.priority = session.presence.priority;
    await broadcast(session, stanza, { contacts: true, directed: false });
    if (initial) {
      await probe(session);
      showOwnResources(session);
      await deliverPendingRequests(im, session);
    }
    // XEP-0160: stored messages go to the first resource available with a non-negative priority.
    if (book.priority >= 0 && wasNegative) await offline.deliver(session);
  });

  // §4.6.3: remember who got directed presence, to tell them when the session goes away.
  ctx.hook('presence:directed', (session, stanza, to) => {
    if (to.bareString() === session.jid.bareString()) return;
    const directed = im.book(session).directed;
    const key = to.toString();
    directed.delete(key);
    if (stanza.attrs.type === 'unavailable') return;
    directed.add(key);
    if (directed.size > MAX_DIRECTED) {
      const oldest = directed.values().next();
      if (!oldest.done) directed.delete(oldest.value);
    }
  });

  // However the session ended, its contacts must not see it available any longer.
  ctx.hook('session:closed', async (session) => {
    const book = im.book(session);
    const wasOnline = book.online;
    book.online = false;
    if (!wasOnline && book.directed.size === 0) return;
    // A session that replaced this one under the same full JID and is already available speaks for itself.
    const successor = ctx.sessions.get(session.jid.toString());
    const replaced = successor !== undefined && successor !== session && successor.presence.available;
    await broadcast(session, xml('presence', { type: 'unavailable', from: session.jid.toString() }), { contacts: wasOnline && !replaced, directed: true });
    book.directed.clear();
  });
}
