// XEP-0191 §3.2-§3.5: the urn:xmpp:blocking protocol. Retrieving the block list marks the session
// as interested; blocking and unblocking write the store, then the cache, push the change to the
// interested sessions and send the presence the change owes (see PrivacyGuard.reconcile).
import { randomBytes } from 'node:crypto';
import { StanzaError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import type { BoundSession, ModuleContext } from '../../src/modules/api.js';
import type { PrivacyModuleStores } from './store/types.js';
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { PrivacyCache, UserPrivacy } from './cache.js';
import { BlockList } from './engine.js';
import type { PrivacyGuard } from './enforce.js';

/** The session flag set by a block list request: such sessions get block and unblock pushes (§3.3). */
export const BLOCKLIST_REQUESTED = 'blocking:requested';

/** Limits by default (STYLE.md §8). */
export const BLOCKING_LIMITS = { jids: 10_000 } as const;

/** The JIDs of the <item/> children, normalised; jid-malformed for a missing or invalid one. */
function parseJids(command: Element): string[] {
  const jids: string[] = [];
  for (const item of command.getChildElements()) {
    if (item.getName() !== 'item' || item.getNS() !== NS.blocking) continue;
    const jid = Jid.tryParse(item.attrs.jid);
    if (!jid) throw new StanzaError('jid-malformed', `"${item.attrs.jid ?? ''}" is not a valid JID`);
    jids.push(jid.toString());
  }
  return [...new Set(jids)];
}

function command(name: 'block' | 'unblock' | 'blocklist', jids: readonly string[]): Element {
  return xml(name, { xmlns: NS.blocking }, ...jids.map((jid) => xml('item', { jid })));
}

export class Blocking {
  constructor(private readonly ctx: ModuleContext<unknown, PrivacyModuleStores>, private readonly cache: PrivacyCache, private readonly guard: PrivacyGuard) {}

  register(): void {
    this.ctx.onIq('get', 'self', NS.blocking, 'blocklist', ({ session }) => this.blocklist(session));
    this.ctx.onIq('set', 'self', NS.blocking, 'block', ({ payload, session }) => this.block(payload, session));
    this.ctx.onIq('set', 'self', NS.blocking, 'unblock', ({ payload, session }) => this.unblock(payload, session));
  }

  /** §3.2: the block list, from memory; the session now gets pushes. */
  private async blocklist(session: BoundSession | undefined): Promise<Element> {
    const origin = this.own(session);
    const user = this.cache.get(origin.jid.local) ?? (await this.cache.attach(origin));
    origin.flags.add(BLOCKLIST_REQUESTED);
    return command('blocklist', user.blocked.jids);
  }

  /** §3.3: block one or more JIDs; a <block/> without items is bad-request. */
  private async block(payload: Element, session: BoundSession | undefined): Promise<void> {
    const origin = this.own(session);
    const jids = parseJids(payload);
    if (jids.length === 0) throw new StanzaError('bad-request', 'a <block/> needs at least one <item/>');
    await this.cache.change(origin, async (user) => {
      const fresh = jids.filter((j) => !user.blocked.has(j));
      if (user.blocked.size + fresh.length > BLOCKING_LIMITS.jids) throw new StanzaError('policy-violation', `a block list holds at most ${BLOCKING_LIMITS.jids} JIDs`);
      const before = this.guard.snapshot(user);
      await this.ctx.store.blocklist.block(user.username, jids);
      user.blocked = user.blocked.with(jids);
      this.push(user, () => command('block', jids));
      await this.guard.reconcile(user, before);
    });
  }

  /** §3.4 and §3.5: unblock the JIDs given, or every JID when <unblock/> is empty. */
  private async unblock(payload: Element, session: BoundSession | undefined): Promise<void> {
    const origin = this.own(session);
    const jids = parseJids(payload);
    await this.cache.change(origin, async (user) => {
      const before = this.guard.snapshot(user);
      if (jids.length === 0) {
        await this.ctx.store.blocklist.unblock(user.username, 'all');
        user.blocked = BlockList.EMPTY;
      } else {
        await this.ctx.store.blocklist.unblock(user.username, jids);
        user.blocked = user.blocked.without(jids);
      }
      this.push(user, () => command('unblock', jids));
      await this.guard.reconcile(user, before);
    });
  }

  private own(session: BoundSession | undefined): BoundSession {
    if (!session) throw new StanzaError('service-unavailable', "the block list is managed from the user's own sessions");
    return session;
  }

  /** The push to every session of the user that asked for the block list (§3.3, §3.4, §3.5). */
  private push(user: UserPrivacy, payload: () => Element): void {
    for (const session of user.sessions.keys()) {
      if (!session.flags.has(BLOCKLIST_REQUESTED)) continue;
      const id = `block-${randomBytes(6).toString('base64url')}`;
      session.send(xml('iq', { type: 'set', id, to: session.jid.toString() }, payload()));
    }
  }
}
