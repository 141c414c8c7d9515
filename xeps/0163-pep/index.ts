// XEP-0163 Personal Eventing Protocol (version 1.2): a pubsub service on every account's bare JID (iq.ts,
// service.ts) with +notify filtering by the caps the caps module resolves, last items on coming online or
// subscribing; and the bridges of compat.ts: XEP-0402/XEP-0411 bookmarks with XEP-0048 private storage,
// XEP-0084/XEP-0398 avatars with the vCard photo. See README.md.
import { defineModule } from '../../src/modules/api.js';
import { NS } from '../../src/xml/ns.js';
import { setupCompat } from './compat.js';
import { PUBSUB_FEATURES, registerPubsubIqs } from './iq.js';
import { PepService } from './service.js';
import { pepConfig } from './settings.js';
import { pepStores } from './store/index.js';

export default defineModule({
  name: 'pep',
  specs: [
    { id: 'XEP-0163', title: 'Personal Eventing Protocol', version: '1.2', scope: 'publish (auto-create, publish-options), retract, items, create, configure, delete on the own account; +notify by caps; last item on coming online and on subscription; access presence/open/whitelist; across cluster nodes', status: 'complete' },
    { id: 'XEP-0060', title: 'Publish-Subscribe', version: '1.26.0', scope: 'the PEP subset of XEP-0163 (no explicit subscriptions, affiliations or collections)', status: 'partial' },
    { id: 'XEP-0402', title: 'PEP Native Bookmarks', version: '1.1.0', scope: 'urn:xmpp:bookmarks:1 node (whitelist, one item per room) and the #compat feature', status: 'complete' },
    { id: 'XEP-0411', title: 'Bookmarks Conversion', version: '0.2.0', scope: 'XEP-0048 in private storage and XEP-0402 kept in step both ways', status: 'complete' },
    { id: 'XEP-0084', title: 'User Avatar', version: '1.1.4', scope: 'data and metadata nodes with presence access', status: 'complete' },
    { id: 'XEP-0398', title: 'User Avatar to vCard-Based Avatars Conversion', version: '0.2.1', scope: 'a vCard PHOTO publishes the PEP avatar; a PEP avatar sets the vCard PHOTO', status: 'complete' },
  ],
  depends: ['caps'],
  // Notifications to readers' resources on other nodes go as one request per node (service.ts).
  capabilities: ['cluster'],
  config: pepConfig,
  stores: pepStores,
  setup(ctx) {
    const service = new PepService(ctx);
    // XEP-0163 §7 / XEP-0060 §10: the account's disco#info.
    ctx.addAccountFeature(NS.pubsub);
    for (const feature of PUBSUB_FEATURES) ctx.addAccountFeature(feature);
    // XEP-0402 §4 (v1.1): bookmarks in private storage and on PEP are kept in step (XEP-0411, compat.ts).
    ctx.addAccountFeature(`${NS.bookmarks}#compat`);
    ctx.addAccountIdentity({ category: 'pubsub', type: 'pep' });
    registerPubsubIqs(ctx, service);

    // XEP-0163 §6.1.2: a resource whose caps became known gets the last item of the nodes it may read and wants,
    // its own account's and each contact's whose presence it is subscribed to.
    ctx.hook('caps:resolved', (session, features) => {
      void (async () => {
        const user = session.jid.local;
        if (session.jid.domain !== ctx.domain) return;
        await service.sendLastItems(user, session, features, false);
        const roster = await ctx.stores.roster.get(user);
        for (const contact of roster.items) {
          if (contact.subscription !== 'to' && contact.subscription !== 'both') continue;
          const [local, domain] = contact.jid.split('@');
          if (domain === ctx.domain && local !== undefined) await service.sendLastItems(local, session, features, false);
        }
      })().catch((err: unknown) => ctx.log.warn({ err }, 'last items on coming online failed'));
    });

    // XEP-0060 §12.13 (on_sub): a contact the owner now shares presence with gets the last items.
    ctx.hook('roster:changed', (username, item) => {
      if (item.subscription !== 'from' && item.subscription !== 'both') return;
      void (async () => {
        for (const session of ctx.sessions.resources(item.jid)) {
          if (!session.presence.available) continue;
          const features = await ctx.fire('caps:features', session.jid.toString());
          if (features) await service.sendLastItems(username, session, features, true);
        }
      })().catch((err: unknown) => ctx.log.warn({ err }, 'last items on subscription failed'));
    });

    setupCompat(ctx, service);
  },
});
