// XEP-0012 Last Activity (version 2.0): the server's uptime (§5), how long ago a user's last session
// ended with the status of their last unavailable presence (§3), answered only to those allowed to see
// the user's presence, who alone may also ask the user's clients (§4). See README.md for the choices.
import { StanzaError, bounce } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import { defineModule } from '../../src/modules/api.js';
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { lastActivityStores } from './store/index.js';

function lastQuery(seconds: number, status?: string): Element {
  return xml('query', { xmlns: NS.last, seconds }, status || undefined);
}

function secondsSince(timestamp: number): number {
  return Math.max(0, Math.floor((Date.now() - timestamp) / 1000));
}

export default defineModule({
  name: 'last',
  specs: [{ id: 'XEP-0012', title: 'Last Activity', version: '2.0', scope: 'server uptime; time since a user’s last logout with the last unavailable status, to contacts with a presence subscription; queries to clients only from them', status: 'complete' }],
  stores: lastActivityStores,
  setup(ctx) {
    ctx.addFeature(NS.last);

    /** §3, §4: "normally via a presence subscription": the user's roster says 'from' or 'both' for the requester. */
    const mayKnow = async (username: string, requester: Jid): Promise<boolean> => {
      if (requester.local === username && requester.domain === ctx.domain) return true;
      const item = await ctx.stores.roster.getItem(username, requester.bareString());
      return item?.subscription === 'from' || item?.subscription === 'both';
    };

    // §5: to the server, its uptime; no character data.
    ctx.onIq('get', 'host', NS.last, 'query', () => lastQuery(secondsSince(ctx.server.startedAt)));

    // §3: to a user's bare JID (and, through the router's fallback, to one's own).
    ctx.onIq('get', 'bare', NS.last, 'query', async ({ from, to }) => {
      if (!(await mayKnow(to.local, from))) throw new StanzaError('forbidden', 'you are not subscribed to this user’s presence');
      // "If the user has at least one connected or available resource ... '0'."
      const bare = to.bareString();
      if (ctx.sessions.resources(bare).length > 0 || (ctx.sessions.clustered && (await ctx.sessions.remote(bare)).length > 0)) return lastQuery(0);
      const last = await ctx.store.get(to.local);
      // The XEP names no error for a user who never logged out; the requester may know the account exists.
      if (last === undefined) throw new StanzaError('item-not-found', 'no logout of this user is on record');
      return lastQuery(secondsSince(last.timestamp), last.status);
    });

    // Last activity is read-only.
    for (const target of ['host', 'bare'] as const) {
      ctx.onIq('set', target, NS.last, 'query', () => {
        throw new StanzaError('not-allowed', 'last activity cannot be set');
      });
    }

    // §4: a query to a client goes through only from someone who may see the user's presence. The check
    // reads the roster, so the stanza is held back here and routed on (or refused) once it is known.
    // Filters run in module order: the privacy module's, registered earlier, has already had its say.
    ctx.addStanzaFilter({
      outgoing(stanza, session) {
        if (stanza.name !== 'iq' || stanza.attrs.type !== 'get' || !stanza.attrs.to?.includes('/')) return true;
        if (!stanza.getChild('query', NS.last)) return true;
        const to = Jid.tryParse(stanza.attrs.to);
        if (!to || to.domain !== ctx.domain || to.local === '' || to.local === session.jid.local) return true;
        void mayKnow(to.local, session.jid)
          .then((allowed) => (allowed ? ctx.send(stanza, session.jid) : ctx.send(bounce(stanza, new StanzaError('forbidden'), ctx.domain), to)))
          .catch((err: unknown) => {
            ctx.log.warn({ err }, 'last activity: could not check the subscription');
            return ctx.send(bounce(stanza, new StanzaError('internal-server-error', 'try again later', 'wait'), ctx.domain), to);
          });
        return false;
      },
    });

    // The status of the user's last unavailable presence while other sessions stay (cleared by an available one).
    const leavingStatus = new Map<string, string | undefined>();

    ctx.hook('presence:broadcast', (session, stanza) => {
      const username = session.jid.local;
      if (stanza.attrs.type === 'unavailable') leavingStatus.set(username, stanza.getChildText('status') ?? undefined);
      else leavingStatus.delete(username);
    });

    // §3: "the number of seconds that have passed since the user last logged out": the end of the last session.
    ctx.hook('session:closed', async (session) => {
      const username = session.jid.local;
      if (ctx.sessions.resources(session.jid.bareString()).length > 0) return;
      const status = leavingStatus.get(username);
      leavingStatus.delete(username);
      await ctx.store.set(username, status === undefined ? { timestamp: Date.now() } : { timestamp: Date.now(), status });
    });

    ctx.hook('account:deleted', (username) => {
      leavingStatus.delete(username);
    });
  },
});
