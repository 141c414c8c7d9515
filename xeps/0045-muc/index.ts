// XEP-0045 Multi-User Chat: the service at muc.domain ([muc], settings.ts; default conference.<domain>), announced in
// the server's disco#items (§6.1), its own and its rooms' discovery through the disco module (discovery.ts); rooms,
// occupants and their traffic in service.ts and the files it dispatches to; in a cluster each room is hosted by one
// node (cluster.ts, README "Across nodes"), and a session resumed on another node (XEP-0198) takes its rooms along;
// the operator's `room destroy` through the 'muc:destroy-room' hook; §11.2 (332) when the module stops.
import { Jid } from '../../src/jid.js';
import { defineModule } from '../../src/modules/api.js';
import { limitsFrom } from './config.js';
import { registerDiscovery } from './discovery.js';
import { RANK } from './room.js';
import { MucService, OCCUPANT_MOVED } from './service.js';
import './hooks.js';
import { mucConfig } from './settings.js';
import { mucStores } from './store/index.js';
import { roomDestroy, roomList } from './commands.js';

/** Hook priority above the cluster's directory listener (src/cluster/session-sync.ts, 1000). */
const BEFORE_DIRECTORY = 2000;

export default defineModule({
  name: 'muc',
  specs: [
    {
      id: 'XEP-0045',
      title: 'Multi-User Chat',
      version: '1.35.5',
      scope: 'service and room discovery, entering and exiting, history, subject, private messages, mediated invitations, voice requests, registration, roles and affiliations (muc#admin), configuration and destruction (muc#owner), persistent rooms, rooms shared by the nodes of a cluster',
      status: 'partial',
    },
    { id: 'XEP-0410', title: 'MUC Self-Ping (Schrödinger\'s Chat)', version: '1.1.0', scope: 'self-pings answered by the room (server optimisation)', status: 'complete' },
  ],
  // The disco module answers disco#info and disco#items for the service and its rooms (discovery.ts).
  depends: ['disco'],
  // Each room lives on one node of a cluster; the others forward its stanzas there (cluster.ts).
  capabilities: ['cluster'],
  config: mucConfig,
  stores: mucStores,
  commands: [roomList, roomDestroy],
  setup(ctx) {
    const domain = ctx.settings.domain;
    const muc = new MucService(ctx, domain, limitsFrom(ctx.settings));
    // A reload: occupant and room-count caps hold at once; history sizes and message rates for rooms made
    // and occupants joining afterwards.
    ctx.onSettingsChange((settings) => {
      muc.limits = limitsFrom(settings);
    });
    ctx.addDomain(domain, (stanza, from, to, hops) => muc.handle(stanza, from, to, hops));
    ctx.addItem({ jid: domain, name: 'Chatrooms' });
    registerDiscovery(muc);
    ctx.hook('session:closed', (session) => muc.sessionClosed(session));
    // XEP-0198 resumption on another node moves the session, and its rooms with it (src/cluster/README.md,
    // "Session hand-over"). The old owner's listener runs first, before the directory's (priority 1000, which
    // waits for Redis): from the moment the session leaves this node, rooms here send its copies to `to`.
    ctx.onSessionHandOver({ export: (session) => muc.exportSession(session), adopt: (session, value) => muc.adoptSession(session, value) });
    ctx.hook('session:handed-over', (session, to) => muc.handedOver(session, to), BEFORE_DIRECTORY);
    ctx.cluster.onRequest(OCCUPANT_MOVED, (body) => muc.occupantMoved(body));
    ctx.hook('cluster:node-down', (node) => muc.nodeDown(node));
    ctx.hook('muc:destroy-room', async (roomJid, reason) => {
      const room = muc.rooms.get(roomJid);
      if (room === undefined) return undefined;
      await muc.destroy(room, reason === undefined ? {} : { reason }, false);
      return true;
    });
    ctx.hook('muc:archive-access', async (roomJid, requester) => {
      const room = Jid.tryParse(roomJid)?.domain === domain ? await muc.load(roomJid) : undefined;
      if (room === undefined || room.locked) return undefined;
      return room.occupantByJid(requester.toString()) !== undefined || RANK[room.affiliation(requester.bareString())] >= RANK.member;
    });
    ctx.every(10_000, () => muc.sweep());
    ctx.onStop(() => muc.shutdown());
  },
});
