// `ratatosk user tokens revoke <jid>`: takes every FAST token of an account out of the store (XEP-0484 §5
// leaves revocation to the server); each of its clients logs in with its password next time.
import { parseUserJid, requiredArg, servedDomain, type ModuleCommand } from '../../src/modules/api.js';
import type { FastTokenStore } from './store/types.js';

export const tokensRevoke: ModuleCommand<FastTokenStore> = {
  name: 'user tokens revoke',
  summary: 'Revoke every FAST login token of an account.',
  usage: 'user tokens revoke <jid>',
  args: [{ name: 'jid', required: true, summary: 'user@<domain>, or the local part' }],
  options: [],
  async run(ctx, input) {
    const user = parseUserJid(requiredArg(input, 'jid', this), servedDomain(ctx.config));
    const revoked = await ctx.store.revoke(user.username);
    return { exitCode: 0, lines: [`revoked ${revoked} token(s) of ${user.jid}`], data: { jid: user.jid, revoked } };
  },
};
