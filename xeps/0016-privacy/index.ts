// XEP-0016 Privacy Lists and XEP-0191 Blocking Command on one engine: the block list is a set of
// deny-everything entries checked before the privacy list that applies. Both are enforced by one
// synchronous stanza filter that reads only memory (cache.ts); see README.md for the choices made.
import { defineModule } from '../../src/modules/api.js';
import { NS } from '../../src/xml/ns.js';
import { Blocking } from './blocking.js';
import { PrivacyCache, readMovedSessionPrivacy } from './cache.js';
import { PrivacyGuard } from './enforce.js';
import { PrivacyLists } from './privacy-lists.js';
import { privacyStores } from './store/index.js';

/** Runs before other listeners: the lists are loaded before anything else is delivered to a new session. */
const FIRST = 100;

export default defineModule({
  name: 'privacy',
  specs: [
    {
      id: 'XEP-0016',
      title: 'Privacy Lists',
      version: '1.7',
      scope: 'list management, active and default lists, pushes; jid/group/subscription items for message, iq, presence-in, presence-out; enforced from memory; one node (a change does not reach other nodes yet)',
      status: 'complete',
    },
    {
      id: 'XEP-0191',
      title: 'Blocking Command',
      version: '1.3',
      scope: 'block list, block, unblock, unblock all, pushes, blocked error; presence on block and unblock; one node, as XEP-0016',
      status: 'complete',
    },
  ],
  stores: privacyStores,
  setup(ctx) {
    ctx.addFeature(NS.privacy);
    ctx.addFeature(NS.blocking);

    // The lists and the block list are the module's stores; the roster (for group and subscription items) is the core's.
    const cache = new PrivacyCache({ ...ctx.store, roster: ctx.stores.roster });
    const guard = new PrivacyGuard(ctx, cache);
    ctx.addStanzaFilter({
      outgoing: (stanza, session) => guard.outgoing(stanza, session),
      incoming: (stanza, session) => guard.incoming(stanza, session),
    });
    ctx.hook('session:bound', (session) => guard.bound(session), FIRST);
    ctx.hook('session:closed', (session) => guard.closed(session));
    // A session another node took over (XEP-0198 resumption there) keeps its active list and what its presence
    // rules track; this node forgets it.
    ctx.onSessionHandOver({
      export: (session) => cache.exportSession(session),
      adopt: (session, value) => {
        const moved = readMovedSessionPrivacy(value);
        if (moved === undefined) throw new Error('unreadable privacy state of a session handed over');
        cache.adopt(session, moved);
      },
    });
    ctx.hook('session:handed-over', (session) => guard.closed(session));
    ctx.hook('presence:directed', (session, stanza, to) => guard.directed(session, stanza, to));
    ctx.hook('presence:subscription', (stanza, from, to, origin) => guard.subscription(stanza, from, to, origin), FIRST);
    ctx.hook('message:offline', (stanza, to) => guard.offline(stanza, to), FIRST);
    ctx.hook('roster:changed', (username, item) => cache.rosterChanged(username, item));
    ctx.hook('account:deleted', (username) => cache.forget(username));

    new PrivacyLists(ctx, cache, guard).register();
    new Blocking(ctx, cache, guard).register();
    ctx.onStop(() => cache.clear());
  },
});
