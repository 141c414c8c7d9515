// XEP-0163 (v1.2) over the XEP-0060 (v1.26) subset PEP needs: publish with auto-create and publish-options
// (§7.1, §7.1.5), retract (§7.2), items by id or newest (§6.5), delete and configure (§8.2, §8.4) on the own
// account, and notifications (XEP-0163 §4.3, §6) to the owner's resources and to contacts with a presence
// subscription, per access model (§4.5), only to resources whose caps carry '<node>+notify' (§4.3.2).
import { randomBytes } from 'node:crypto';
import { StanzaError } from '../../src/errors.js';
import type { BoundSession, ModuleContextWith } from '../../src/modules/api.js';
import { Element, parseElement, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { PreparedStanza } from '../../src/xml/prepared.js';
import { applyOptions, checkPreconditions, pubsubError, type OptionValues } from './options.js';
import type { PepSettings } from './settings.js';
import type { NodeConfig, PepItem, PepStore } from './store/types.js';
import './hooks.js';

const MAX_NODE_NAME = 1024;
/** The cluster request by which a node asks the others to notify their local readers (they know their caps). */
export const NOTIFY_TOPIC = 'pep:notify';
const NOTIFY_WAIT_MS = 5000;

/** What goes to another node: the owner's bare JID, the node, the <event/> child, the full JIDs held there. */
interface RemoteNotify {
  from: string;
  node: string;
  event: string;
  jids: string[];
}

function isRemoteNotify(body: unknown): body is RemoteNotify {
  if (typeof body !== 'object' || body === null) return false;
  const { from, node, event, jids } = body as Record<string, unknown>;
  return typeof from === 'string' && typeof node === 'string' && typeof event === 'string' && Array.isArray(jids) && jids.every((j) => typeof j === 'string');
}
const MAX_ITEM_ID = 1024;

/** Defaults of a node created by a publish; XEP-0163 §4.5 (presence) and XEP-0402 §3 / XEP-0223 for private data. */
export function defaultConfig(node: string, settings: PepSettings): NodeConfig {
  const base: NodeConfig = { accessModel: 'presence', maxItems: 1, sendLastPublishedItem: 'on_sub_and_presence', notifyRetract: true };
  if (node === NS.bookmarks) return { ...base, accessModel: 'whitelist', maxItems: settings.maxItems, sendLastPublishedItem: 'never' };
  return base;
}

export function checkNodeName(node: string | undefined): string {
  if (node === undefined || node === '') throw pubsubError('bad-request', 'nodeid-required', 'the node attribute is required');
  if (node.length > MAX_NODE_NAME) throw new StanzaError('not-acceptable', `node names have at most ${MAX_NODE_NAME} characters`);
  return node;
}

/** The <item/> as notifications and item retrieval carry it. */
export function itemElement(item: PepItem): Element {
  return xml('item', { id: item.id }, parseElement(item.payload));
}

export class PepService {
  constructor(
    private readonly ctx: ModuleContextWith<'cluster', PepSettings, PepStore>,
  ) {
    // Another node's publish: its readers' resources held here, filtered by the caps known here.
    ctx.cluster.onRequest(NOTIFY_TOPIC, async (body) => {
      if (!isRemoteNotify(body)) return false;
      const what = parseElement(body.event);
      let prepared: PreparedStanza | undefined;
      for (const jid of body.jids) {
        const session = ctx.sessions.get(jid);
        if (!session?.presence.available || !(await this.wantsNotify(jid, body.node))) continue;
        prepared ??= new PreparedStanza(eventMessage(body.from, what));
        ctx.deliverPrepared(session, prepared);
      }
      return true;
    });
  }

  private get store(): PepStore {
    return this.ctx.store;
  }

  private get settings(): PepSettings {
    return this.ctx.settings;
  }

  /** XEP-0060 §6.5.9 / XEP-0163 §4.5: who may read the node's items. */
  async mayRead(owner: string, requester: string, config: NodeConfig): Promise<boolean> {
    if (requester === `${owner}@${this.ctx.domain}`) return true;
    if (config.accessModel === 'open') return true;
    if (config.accessModel === 'whitelist') return false;
    const item = await this.ctx.stores.roster.getItem(owner, requester);
    return item?.subscription === 'from' || item?.subscription === 'both';
  }

  async checkRead(owner: string, requester: string, config: NodeConfig): Promise<void> {
    if (await this.mayRead(owner, requester, config)) return;
    if (config.accessModel === 'whitelist') throw pubsubError('not-allowed', 'closed-node', 'the node is private to its owner');
    throw pubsubError('not-authorized', 'presence-subscription-required', 'a presence subscription is required to read this node');
  }

  /**
   * §7.1: stores the item (creating the node from `options` when it does not exist, §7.1.5 checking them when
   * it does), then notifies. Returns the item id.
   */
  async publish(owner: string, node: string, id: string | undefined, payload: Element, options: OptionValues | undefined): Promise<string> {
    const text = payload.toString();
    if (Buffer.byteLength(text) > this.settings.maxPayloadBytes) {
      throw pubsubError('not-acceptable', 'payload-too-big', `an item payload may have at most ${this.settings.maxPayloadBytes} bytes`);
    }
    if (id !== undefined && (id === '' || id.length > MAX_ITEM_ID)) throw new StanzaError('bad-request', `item ids have 1 to ${MAX_ITEM_ID} characters`);
    let config = await this.store.node(owner, node);
    if (config === undefined) {
      config = applyOptions(defaultConfig(node, this.settings), options ?? new Map(), this.settings.maxItems, (t) => pubsubError('conflict', 'precondition-not-met', t));
      await this.createNode(owner, node, config);
    } else if (options !== undefined) {
      checkPreconditions(config, options, this.settings.maxItems);
    }
    const item: PepItem = { id: id ?? randomBytes(12).toString('hex'), publisher: `${owner}@${this.ctx.domain}`, payload: text };
    await this.store.publish(owner, node, item, config.maxItems);
    await this.notify(owner, node, config, xml('items', { node }, itemElement(item)));
    await this.ctx.emit('pep:published', owner, node, item.id, parseElement(text));
    return item.id;
  }

  async createNode(owner: string, node: string, config: NodeConfig): Promise<void> {
    if ((await this.store.nodes(owner)).length >= this.settings.maxNodes) {
      throw pubsubError('not-allowed', 'max-nodes-exceeded', `an account may have at most ${this.settings.maxNodes} nodes`);
    }
    await this.store.putNode(owner, node, config);
  }

  /** §7.2: removes the item and tells subscribers when the node says so (or the request asks, `notify`). */
  async retract(owner: string, node: string, id: string, notify: boolean | undefined): Promise<void> {
    const config = await this.store.node(owner, node);
    if (config === undefined) throw new StanzaError('item-not-found', `no node ${node}`);
    if (!(await this.store.retract(owner, node, id))) throw new StanzaError('item-not-found', `no item ${id} in ${node}`);
    if (notify ?? config.notifyRetract) await this.notify(owner, node, config, xml('items', { node }, xml('retract', { id })));
    await this.ctx.emit('pep:retracted', owner, node, id);
  }

  /** §8.4: removes the node and its items; subscribers learn of it. */
  async deleteNode(owner: string, node: string): Promise<void> {
    const config = await this.store.node(owner, node);
    if (config === undefined || !(await this.store.deleteNode(owner, node))) throw new StanzaError('item-not-found', `no node ${node}`);
    await this.notify(owner, node, config, xml('delete', { node }));
    await this.ctx.emit('pep:retracted', owner, node, undefined);
  }

  /** The bare JIDs that may read the owner's node and hear of it: the owner's, then contacts' with a subscription from the owner. */
  private async readers(owner: string, config: NodeConfig): Promise<string[]> {
    const readers = [`${owner}@${this.ctx.domain}`];
    if (config.accessModel === 'whitelist') return readers;
    const roster = await this.ctx.stores.roster.get(owner);
    for (const contact of roster.items) if (contact.subscription === 'from' || contact.subscription === 'both') readers.push(contact.jid);
    return readers;
  }

  /** Whether the resource's caps include '<node>+notify' (XEP-0163 §4.3.2); unknown caps mean no. */
  async wantsNotify(fullJid: string, node: string): Promise<boolean> {
    const features = await this.ctx.fire('caps:features', fullJid);
    return features?.has(`${node}+notify`) ?? false;
  }

  /**
   * Sends <event>{what}</event> from the owner's bare JID to every interested reader (XEP-0163 §4.3): resources on
   * this node now; those on other nodes through one request per node, which filters by the caps it knows.
   */
  private async notify(owner: string, node: string, config: NodeConfig, what: Element): Promise<void> {
    const from = `${owner}@${this.ctx.domain}`;
    const elsewhere = new Map<string, string[]>();
    // Serialised once for every resource here; each copy is addressed to its full JID (one id for all).
    let prepared: PreparedStanza | undefined;
    for (const reader of await this.readers(owner, config)) {
      for (const session of this.ctx.sessions.resources(reader)) {
        if (!session.presence.available || !(await this.wantsNotify(session.jid.toString(), node))) continue;
        prepared ??= new PreparedStanza(eventMessage(from, what));
        this.ctx.deliverPrepared(session, prepared);
      }
      for (const record of await this.ctx.sessions.remote(reader)) {
        if (record.available) elsewhere.set(record.node, [...(elsewhere.get(record.node) ?? []), record.jid.toString()]);
      }
    }
    for (const [peer, jids] of elsewhere) {
      const body: RemoteNotify = { from, node, event: what.toString(), jids };
      void this.ctx.cluster.request(peer, NOTIFY_TOPIC, body, NOTIFY_WAIT_MS, () => undefined);
    }
  }


  private sendEvent(session: BoundSession, from: string, what: Element): void {
    const message = eventMessage(from, what);
    message.attrs.to = session.jid.toString();
    this.ctx.deliver(session, message);
  }

  /**
   * XEP-0163 §6.1.2 / XEP-0060 §12.13: the newest item of each node of `owner` that `session` may read and
   * asked for with +notify ('on_sub_and_presence' nodes when it comes online, also 'on_sub' ones when it subscribes).
   */
  async sendLastItems(owner: string, session: BoundSession, features: ReadonlySet<string>, subscribing: boolean): Promise<void> {
    const from = `${owner}@${this.ctx.domain}`;
    const requester = session.jid.bareString();
    for (const { node, config } of await this.store.nodes(owner)) {
      if (config.sendLastPublishedItem === 'never' || (config.sendLastPublishedItem === 'on_sub' && !subscribing)) continue;
      if (!features.has(`${node}+notify`) || !(await this.mayRead(owner, requester, config))) continue;
      const [last] = await this.store.items(owner, node, 1);
      if (last) this.sendEvent(session, from, xml('items', { node }, itemElement(last)));
    }
  }
}

/** A notification (XEP-0163 §4.3) from the owner's bare JID, without 'to'. */
function eventMessage(from: string, what: Element): Element {
  return xml('message', { from, type: 'headline', id: randomBytes(9).toString('base64url') }, xml('event', { xmlns: NS.pubsubEvent }, what));
}
