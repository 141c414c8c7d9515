// XEP-0357 Push Notifications v0.4.1: §4 discovery on the account, §5 enabling with a publish-options form,
// §6 disabling (one node or all of an app server's), §7 publishing a summary (message count, last sender, and
// the last body only when allowed: §9) to the app server's node through the router, §8 an app server's error
// disabling its registration. A notification goes out when a message reaches a session waiting for stream
// resumption (XEP-0198: the core's 'session:stanza-held') or goes to offline storage ('message:delivered' to
// no resource). Registrations are kept per account in the module's store (store/).
import { StanzaError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import { defineModule, type BoundSession } from '../../src/modules/api.js';
import type { Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { parseEnableOptions } from './form.js';
import { asElement, isNotifiable, publishIq, summaryOf } from './notify.js';
import { pushConfig } from './settings.js';
import { pushStores } from './store/index.js';
import type { NewRegistration, PushRegistration } from './store/types.js';

const bad = (text: string): StanzaError => new StanzaError('bad-request', text);

/** The app server's JID of <enable/> or <disable/>: required, and a JID. */
function appServerJid(payload: Element): string {
  const given = payload.attrs.jid;
  if (!given) throw bad(`<${payload.name}/> needs the app server's 'jid' (XEP-0357 §${payload.name === 'enable' ? 5 : 6})`);
  const jid = Jid.tryParse(given);
  if (!jid) throw bad(`'${given}' is not a valid JID`);
  return jid.toString();
}

/** Errors that say the app server was not reached, not that it refused: they say nothing of the registration. */
const UNREACHED = new Set(['remote-server-not-found', 'remote-server-timeout']);

/** An answer that says the registration is no good (§8); a 'wait' error, a timeout or an unreachable server does not. */
function disables(err: unknown): boolean {
  return err instanceof StanzaError && err.type !== 'wait' && !UNREACHED.has(err.condition);
}

export default defineModule({
  name: 'push',
  specs: [
    {
      id: 'XEP-0357',
      title: 'Push Notifications',
      version: '0.4.1',
      scope: 'enable (with publish-options) and disable; notifications with the summary form for messages to a session waiting for resumption and for messages stored offline; bodies only when the client asked and [push] include_body allows; an app server error disables its registration',
      status: 'complete',
    },
  ],
  config: pushConfig,
  stores: pushStores,
  setup(ctx) {
    const { settings, store } = ctx;
    // Messages already notified while a session waited for resumption: routed again when it is not resumed, they
    // reach offline storage without a second notification.
    const notified = new WeakSet<Element>();

    // §4: a feature of the account, asked by the client before it enables.
    ctx.addAccountFeature(NS.push);

    ctx.onIq('set', 'self', NS.push, 'enable', async ({ payload, from, session }) => {
      const jid = appServerJid(payload);
      const node = payload.attrs.node;
      if (!node) throw bad("<enable/> needs the 'node' on the app server (XEP-0357 §5)");
      const { options, includeBody } = parseEnableOptions(payload);
      const username = from.local;
      const existing = await store.list(username);
      // Past the limit the oldest registrations go: a client that was reinstalled leaves its old one behind.
      if (!existing.some((r) => r.jid === jid && r.node === node)) {
        for (const old of existing.slice(0, Math.max(0, existing.length + 1 - settings.maxPerAccount))) await store.disable(username, old.jid, old.node);
      }
      const resource = session?.jid.resource || from.resource;
      const registration: NewRegistration = { jid, node, includeBody, enabledAt: Date.now(), ...(options === undefined ? {} : { options }), ...(resource ? { resource } : {}) };
      await store.enable(username, registration);
      ctx.log.debug({ user: username, jid, node }, 'push enabled');
    });

    ctx.onIq('set', 'self', NS.push, 'disable', async ({ payload, from }) => {
      const jid = appServerJid(payload);
      const node = payload.attrs.node === '' ? undefined : payload.attrs.node;
      if (payload.children.some((c) => typeof c !== 'string' || c.trim() !== '')) throw bad('<disable/> is empty (XEP-0357 §6)');
      const removed = await store.disable(from.local, jid, node);
      if (removed === 0) throw new StanzaError('item-not-found', node === undefined ? `push is not enabled for ${jid}` : `push is not enabled for ${jid} node ${node}`);
    });

    for (const name of ['enable', 'disable']) {
      ctx.onIq('get', 'self', NS.push, name, () => {
        throw bad(`<${name}/> is sent in an iq of type 'set' (XEP-0357 §${name === 'enable' ? 5 : 6})`);
      });
    }

    /** One publish (§7); an error answer removes the registration (§8). Never throws. */
    const publish = async (username: string, registration: PushRegistration, stanza: Element): Promise<void> => {
      const count = await store.bump(username, registration.jid, registration.node);
      if (count === undefined) return;
      const withBody = settings.includeBody === 'always' || (settings.includeBody === 'requested' && registration.includeBody);
      try {
        await ctx.sendIq(publishIq(`${username}@${ctx.domain}`, registration, summaryOf(stanza, count, withBody)), settings.publishTimeoutMs);
      } catch (err) {
        if (!disables(err)) {
          ctx.log.info({ user: username, jid: registration.jid, err: String(err) }, 'push notification not acknowledged; registration kept');
          return;
        }
        await store.disable(username, registration.jid, registration.node);
        ctx.log.info({ user: username, jid: registration.jid, node: registration.node, err: String(err) }, 'app server refused a push notification; registration disabled');
      }
    };

    /** Notifies the registrations `which` picks; the delivery that got here does not wait for the app servers. */
    const notify = async (username: string, stanza: Element, which: (r: PushRegistration) => boolean): Promise<void> => {
      const registrations = (await store.list(username)).filter(which);
      if (registrations.length === 0) return;
      notified.add(stanza);
      for (const registration of registrations) {
        publish(username, registration, stanza).catch((err: unknown) => ctx.log.warn({ err, user: username }, 'push notification failed'));
      }
    };

    // A message reached a session waiting for resumption: that client's registrations.
    ctx.hook('session:stanza-held', (session, outbound) => {
      const stanza = asElement(outbound);
      if (!stanza || !isNotifiable(stanza) || fromOwnAccount(stanza, session)) return;
      const resource = session.jid.resource;
      return notify(session.jid.local, stanza, (r) => r.resource === resource);
    });

    // A message to the account went to offline storage: every registration of the account.
    ctx.hook('message:delivered', (stanza, user, resources) => {
      if (resources.length > 0 || notified.has(stanza) || !isNotifiable(stanza)) return;
      return notify(user.local, stanza, () => true);
    });

    // The client is online again: its registrations count from 0.
    const online = (session: BoundSession): Promise<void> => store.resetCounts(session.jid.local, session.jid.resource);
    ctx.hook('session:bound', online);
    ctx.hook('session:resumed', online);
  },
});

/** What the account itself sent (a carbon copy, a note to self) wakes no one. */
function fromOwnAccount(stanza: Element, session: BoundSession): boolean {
  return Jid.tryParse(stanza.attrs.from)?.bare().equals(session.jid.bare()) === true;
}
