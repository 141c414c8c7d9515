// XEP-0280 v1.0.1 §7 and §8: the forwarded copy (XEP-0297) of a message, from the user's bare JID, to each
// of the user's Carbons-enabled resources that did not get the message itself. Resources on this node are
// checked here; those on other nodes get one bus message per node, which that node hands only to the
// sessions carrying the Carbons flag (the cluster's flag filter), each copy addressed to its full JID.
import type { ModuleContextWith } from '../../src/modules/api.js';
import type { Jid } from '../../src/jid.js';
import { Element, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { PreparedStanza } from '../../src/xml/prepared.js';
import type { Direction } from './rules.js';

/** The session flag of a Carbons-enabled resource (§4; cleared by §5, gone with the session). */
export const CARBONS_ENABLED = NS.carbons;

/** `<message from=bare type=same><sent|received><forwarded><message xmlns='jabber:client' .../>` */
export function carbonCopy(direction: Direction, original: Element, user: string): Element {
  // A copy of the original's element, not the original: other recipients may still be serialising it.
  const inner = new Element('message', { ...original.attrs, xmlns: NS.client });
  inner.children = [...original.children];
  const attrs = original.attrs.type === undefined ? { from: user } : { from: user, type: original.attrs.type };
  return xml('message', attrs, xml(direction, { xmlns: NS.carbons }, xml('forwarded', { xmlns: NS.forward }, inner)));
}

/**
 * Whether a copy for `bare` could go anywhere: a Carbons-enabled session of the user here, or other nodes that
 * may hold some. Checked first by the hooks, which every message passes.
 */
export function mayCopy(ctx: ModuleContextWith<'cluster'>, bare: string): boolean {
  return ctx.sessions.clustered || ctx.sessions.anyWithFlag(bare, CARBONS_ENABLED);
}

/** Sends the copy of `original` to `user`'s Carbons-enabled resources other than those in `skip` (full JIDs). */
export async function sendCopies(ctx: ModuleContextWith<'cluster'>, user: Jid, direction: Direction, original: Element, skip: ReadonlySet<string>): Promise<void> {
  const bare = user.toString();
  const here = ctx.sessions.resources(bare).filter((s) => s.flags.has(CARBONS_ENABLED) && !skip.has(s.jid.toString()));
  if (here.length > 0) {
    const prepared = new PreparedStanza(carbonCopy(direction, original, bare));
    for (const session of here) ctx.deliverPrepared(session, prepared);
  }
  const byNode = new Map<string, string[]>();
  for (const record of await ctx.sessions.remote(bare)) {
    const jid = record.jid.toString();
    if (skip.has(jid)) continue;
    const list = byNode.get(record.node);
    if (list) list.push(jid);
    else byNode.set(record.node, [jid]);
  }
  for (const [node, jids] of byNode) ctx.cluster.deliverToNode(node, jids, carbonCopy(direction, original, bare), { flag: CARBONS_ENABLED, readdress: true });
}
