// XEP-0280 Message Carbons v1.0.1: §3 discovery (server and account), §4 enabling and §5 disabling per session, §7 copies of
// the messages a user receives and §8 of those it sends, to the user's other Carbons-enabled resources on
// every node, under the rules of §6 and §9 (rules.ts); §11: every copy is from the user's bare JID.
import { StanzaError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import { defineModule } from '../../src/modules/api.js';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { CARBONS_ENABLED, mayCopy, sendCopies } from './copies.js';
import { isEligible } from './rules.js';

/** §4, §5 (and the schema): <enable/> and <disable/> are empty. */
function checkEmpty(payload: Element): void {
  if (payload.children.some((child) => typeof child !== 'string' || child.trim() !== '')) {
    throw new StanzaError('bad-request', `<${payload.name}/> takes no content (XEP-0280 §4, §5)`);
  }
}

export default defineModule({
  name: 'carbons',
  specs: [
    {
      id: 'XEP-0280',
      title: 'Message Carbons',
      version: '1.0.1',
      scope: 'enable and disable per session; copies of received and sent chat messages (and normal ones with a body or IM payloads) to the other enabled resources on every node, one bus message per node; private and no-copy; no copies of groupchat, errors or private messages from MUC occupants',
      status: 'complete',
    },
  ],
  // Copies to the user's resources on other nodes go as one bus message per node.
  capabilities: ['cluster'],
  setup(ctx) {
    // §3: the server's disco#info; and the account's, which clients also ask.
    ctx.addFeature(NS.carbons);
    ctx.addAccountFeature(NS.carbons);

    for (const [name, enabled] of [['enable', true], ['disable', false]] as const) {
      ctx.onIq('set', 'self', NS.carbons, name, ({ payload, session }) => {
        checkEmpty(payload);
        if (!session) throw new StanzaError('not-allowed', 'Carbons are enabled by a session of this server for itself (XEP-0280 §4.1)');
        // §10.1: enabling twice, or disabling twice, is no error.
        if (enabled) session.flags.add(CARBONS_ENABLED);
        else session.flags.delete(CARBONS_ENABLED);
      });
      ctx.onIq('get', 'self', NS.carbons, name, () => {
        throw new StanzaError('bad-request', `<${name}/> is sent in an iq of type 'set' (XEP-0280 §${enabled ? 4 : 5})`);
      });
    }

    // XEP-0386 §2.3: <enable/> inline in Bind2 enables Carbons for the session being bound.
    ctx.onBind2Inline(NS.carbons, (element, stream) => {
      if (element.name === 'enable' && stream.session) stream.session.flags.add(CARBONS_ENABLED);
    });

    // §8: a message a local user sent, to the user's other enabled resources. One to the user's own account is
    // copied on the receiving side (below), which knows which resources got it. The listeners return at once
    // (no promise) for messages that are not copied: every message passes here.
    ctx.hook('message:sent', (stanza, session) => {
      if (!mayCopy(ctx, session.jid.bareString()) || !isEligible(stanza, 'sent')) return;
      const user = session.jid.bare();
      const to = stanza.attrs.to === undefined ? user : Jid.tryParse(stanza.attrs.to);
      if (!to || to.bare().equals(user)) return;
      return sendCopies(ctx, user, 'sent', stanza, new Set([session.jid.toString()]));
    });

    // §7: a message to a local user, to the enabled resources RFC 6121 did not give it to.
    ctx.hook('message:delivered', (stanza, user, resources) => {
      if (!mayCopy(ctx, user.bareString())) return;
      const from = Jid.tryParse(stanza.attrs.from);
      const own = from !== undefined && from.bare().equals(user);
      const direction = own ? 'sent' : 'received';
      if (!isEligible(stanza, direction)) return;
      const skip = new Set(resources);
      if (own) skip.add(from.toString());
      return sendCopies(ctx, user, direction, stanza, skip);
    });
  },
});
