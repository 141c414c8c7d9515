// Offline messages (XEP-0160, RFC 6121 §8.5.2.2.1): what the router cannot deliver to a local user is kept
// with a XEP-0203 delay stamp, up to a per-user cap, and handed over when a resource next becomes available
// with a non-negative priority. A message leaves the store only after it was handed to the session.
import type { BoundSession } from '../../src/modules/api.js';
import { Element, parseElement, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { readdress, type Im } from './shared.js';

/** Messages kept per user; beyond it the sender gets service-unavailable (XEP-0160 §5). */
export const OFFLINE_LIMIT = 100;

/** Children that are not content: a message made only of them is not worth keeping (XEP-0160 §3, XEP-0085 §5.5). */
const NOT_CONTENT = new Set<string>([NS.chatstates, NS.hints, NS.sid, NS.delay]);

/**
 * 'store' for chat and normal messages with content; 'drop' for content-less ones (chat states alone) and for
 * those that ask not to be stored (XEP-0334 no-store); 'refuse' for the types XEP-0160 §3 never stores.
 */
export function offlineVerdict(stanza: Element): 'store' | 'drop' | 'refuse' {
  const type = (stanza.attrs.type as string | undefined) ?? 'normal';
  if (type !== 'chat' && type !== 'normal') return 'refuse';
  let content = false;
  for (const child of stanza.children) {
    if (!(child instanceof Element)) continue;
    const ns = (child.attrs.xmlns as string | undefined) ?? NS.client;
    if (ns === NS.hints && (child.name === 'no-store' || child.name === 'no-permanent-store')) return 'drop';
    if (ns === NS.hints && child.name === 'store') content = true;
    if (NOT_CONTENT.has(ns)) continue;
    if (ns === NS.client && child.name === 'thread') continue;
    content = true;
  }
  return content ? 'store' : 'drop';
}

export interface OfflineDelivery {
  /** Hands the user's stored messages to a session that just became available with priority >= 0. */
  deliver(session: BoundSession): Promise<void>;
}

export function setupOffline(im: Im): OfflineDelivery {
  const { ctx } = im;
  // Every offline store operation timed for the metrics (ratatosk_store_operation_seconds{store="offline"}).
  const store = ctx.metrics.timeStore('offline', ctx.stores.offline);
  ctx.addFeature(NS.msgoffline);

  ctx.hook('message:offline', async (stanza, to) => {
    const verdict = offlineVerdict(stanza);
    if (verdict === 'refuse') return undefined;
    if (verdict === 'drop') return true;
    const stamped = readdress(stanza, {});
    stamped.children = [...stanza.children];
    stamped.cnode(xml('delay', { xmlns: NS.delay, from: ctx.domain, stamp: new Date().toISOString() }, 'Offline Storage'));
    const kept = await store.push(to.local, stamped.toString(), OFFLINE_LIMIT);
    if (!kept) ctx.log.info({ user: to.local }, 'offline storage is full; message refused');
    return kept;
  });

  return {
    // No queue per user: the store's take hands each message to one delivery, here or on another node.
    deliver: async (session) => {
      const username = session.jid.local;
      const stillThere = (): boolean => ctx.sessions.get(session.jid.toString()) === session && session.presence.available;
      // A few rounds: a message stored while the previous round ran is not left behind. The store's take hands
      // each message to one delivery only, whichever node runs it (two resources of the user coming online on
      // two nodes at once split the queue between them instead of both getting it).
      for (let round = 0; round < 3; round++) {
        let handedAll = true;
        const { listed } = await store.take(username, OFFLINE_LIMIT, (messages) => {
          const handed: string[] = [];
          for (const message of messages) {
            if (!stillThere()) break;
            let stanza: Element;
            try {
              stanza = parseElement(message.stanza);
            } catch (err) {
              ctx.log.warn({ err, user: username, id: message.id }, 'stored offline message is not XML; dropped');
              handed.push(message.id);
              continue;
            }
            ctx.deliver(session, stanza);
            handed.push(message.id);
          }
          handedAll = handed.length === messages.length;
          return handed;
        });
        if (listed === 0 || !handedAll) return;
      }
    },
  };
}
