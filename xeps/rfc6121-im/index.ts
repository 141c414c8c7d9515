// RFC 6121 for one-to-one chat: the roster, presence subscriptions, presence broadcast and probes, and
// offline messages. Split by concern: roster.ts, subscriptions.ts, presence.ts, offline.ts; shared.ts
// holds what they share. See README.md for the scope.
import { defineModule } from '../../src/modules/api.js';
import { setupOffline } from './offline.js';
import { setupPresence } from './presence.js';
import { setupRoster } from './roster.js';
import { Im } from './shared.js';
import { setupSubscriptions } from './subscriptions.js';

export { MAX_ROSTER_SIZE } from './roster.js';
export { OFFLINE_LIMIT } from './offline.js';

export default defineModule({
  name: 'im',
  specs: [
    {
      id: 'RFC 6121',
      title: 'XMPP: Instant Messaging and Presence',
      scope: 'roster management (§2), presence subscriptions with pre-approval (§3, Appendix A), presence broadcast, probes and directed presence (§4); message delivery rules (§8) are in the router',
      status: 'partial',
    },
    { id: 'XEP-0237', title: 'Roster Versioning', version: '1.3', scope: 'ver on roster results and pushes; an empty result when the client is current (no diff as pushes)', status: 'complete' },
    { id: 'XEP-0160', title: 'Best Practices for Handling Offline Messages', version: '1.0.1', scope: 'chat and normal messages with content stored up to a per-user cap and delivered at the next available presence', status: 'complete' },
    { id: 'XEP-0203', title: 'Delayed Delivery', version: '2.0', scope: 'delay stamps on offline messages and on subscription requests delivered later', status: 'partial' },
  ],
  // A user's resources may sit on several nodes: roster pushes and subscription requests reach them there.
  capabilities: ['cluster'],
  setup(ctx) {
    const im = new Im(ctx);
    setupRoster(im);
    setupSubscriptions(im);
    setupPresence(im, setupOffline(im));
  },
});
