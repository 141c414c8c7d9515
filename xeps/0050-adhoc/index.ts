// XEP-0050 Ad-Hoc Commands on the server's JID: discovery through XEP-0030 nodes (§2.1-§2.2),
// execution (§2.4); the commands are XEP-0133 Service Administration for the configured admins.
import type { Jid } from '../../src/jid.js';
import { defineModule } from '../../src/modules/api.js';
import { xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { adminCommands } from './admin.js';
import { CommandEngine } from './engine.js';

/** §3.3 leaves the session lifetime to the responder: ten idle minutes. */
const SESSION_TTL_MS = 10 * 60_000;
const MAX_SESSIONS_PER_REQUESTER = 10;
const EXPIRY_INTERVAL_MS = 60_000;

export default defineModule({
  name: 'adhoc',
  specs: [
    {
      id: 'XEP-0050',
      title: 'Ad-Hoc Commands',
      version: '1.3.0',
      scope: 'commands of the server: discovery, sessions, multi-stage actions, data forms, notes, errors; no xml:lang negotiation, no announced command lists',
      status: 'partial',
    },
    {
      id: 'XEP-0133',
      title: 'Service Administration',
      version: '1.2',
      scope: 'add-user, delete-user, change-user-password, get-registered-users-num, get-online-users-num, get-online-users-list; for config.admins',
      status: 'partial',
    },
  ],
  setup(ctx) {
    const engine = new CommandEngine({ sessionTtlMs: SESSION_TTL_MS, maxSessionsPerRequester: MAX_SESSIONS_PER_REQUESTER });
    const commands = adminCommands({
      domain: ctx.domain,
      accounts: ctx.stores.accounts,
      sessions: ctx.sessions,
      scramIterations: ctx.config.auth.scramIterations,
      scramHashes: ctx.config.auth.scramHashes,
      // Read at each use: a reload (SIGHUP, `ratatosk reload`) changes `admins` in place.
      isAdmin: (requester: Jid) => requester.domain === ctx.domain && ctx.config.admins.includes(requester.bareString()),
      // XEP-0133 §4.2: deleting a user ends the user's sessions. The core does it on every node, after this turn
      // (src/cluster/account-deletions.ts): an admin who deleted the own account still gets the result.
      accountsDeleted: async (usernames) => {
        for (const username of usernames) {
          ctx.log.info({ user: username }, 'account deleted by an administrator');
          await ctx.emit('account:deleted', username);
        }
      },
    });
    for (const command of commands) engine.add(command);

    ctx.addFeature(NS.commands);
    ctx.every(EXPIRY_INTERVAL_MS, () => engine.expire());
    ctx.hook('session:closed', (session) => engine.forget(session.jid));

    // §2.2: the command list is the disco#items of the well-known node; each command is a node of its own.
    ctx.hook('disco:items-node', (node, from) => {
      if (node !== NS.commands) return undefined;
      const query = xml('query', { xmlns: NS.discoItems, node });
      for (const command of engine.available(from)) query.cnode(xml('item', { jid: ctx.domain, node: command.node, name: command.name }));
      return query;
    });

    ctx.hook('disco:info-node', (node, from) => {
      if (node === NS.commands) {
        return xml('query', { xmlns: NS.discoInfo, node }, xml('identity', { category: 'automation', type: 'command-list', name: 'Commands' }), xml('feature', { var: NS.commands }));
      }
      // A command the requester may not run is not shown at all: item-not-found (the hook cannot answer forbidden).
      const command = engine.visible(node, from);
      if (!command) return undefined;
      return xml(
        'query',
        { xmlns: NS.discoInfo, node },
        xml('identity', { category: 'automation', type: 'command-node', name: command.name }),
        xml('feature', { var: NS.commands }),
        xml('feature', { var: NS.dataForms }),
      );
    });

    ctx.onIq('set', 'host', NS.commands, 'command', ({ payload, from }) => engine.execute(from, payload));
  },
});
