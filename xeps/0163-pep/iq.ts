// The pubsub IQs of a PEP service (XEP-0163 §4, §7; XEP-0060 §6.5, §7.1, §7.2, §8.1, §8.2, §8.4), addressed to
// an account's bare JID: the owner publishes, retracts, creates, configures and deletes; anyone allowed by the
// node's access model reads items. What is not supported is feature-not-implemented with <unsupported/>.
import { StanzaError } from '../../src/errors.js';
import type { IqRequest, ModuleContext } from '../../src/modules/api.js';
import { Element, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { applyOptions, configForm, formValues, pubsubError } from './options.js';
import { checkNodeName, defaultConfig, itemElement, PepService } from './service.js';
import type { PepSettings } from './settings.js';
import type { PepStore } from './store/types.js';

/** XEP-0060 §10 features this service implements, advertised on every account (XEP-0163 §7). */
export const PUBSUB_FEATURES = [
  'access-presence', 'access-open', 'access-whitelist', 'auto-create', 'config-node', 'create-nodes', 'delete-items',
  'delete-nodes', 'filtered-notifications', 'item-ids', 'last-published', 'persistent-items', 'publish',
  'publish-options', 'retract-items', 'retrieve-items',
].map((f) => `${NS.pubsub}#${f}`);

function unsupported(feature: string): StanzaError {
  return new StanzaError('feature-not-implemented', `${feature} is not supported by this PEP service`, 'cancel', xml('unsupported', { xmlns: NS.pubsubErrors, feature }));
}

/** The single action element of a <pubsub/> (publish-options rides along with publish). */
function action(pubsub: Element): Element {
  const children = pubsub.getChildElements().filter((c) => c.name !== 'publish-options');
  const [first] = children;
  if (first === undefined || children.length > 1) throw new StanzaError('bad-request', '<pubsub/> takes one action');
  return first;
}

export function registerPubsubIqs(ctx: ModuleContext<PepSettings, PepStore>, service: PepService): void {
  const store = ctx.store;
  const requireOwner = ({ from, to }: IqRequest): string => {
    if (from.bareString() !== to.bareString()) throw new StanzaError('forbidden', `only ${to.bareString()} manages its PEP nodes`);
    return to.local;
  };

  ctx.onIq('set', 'bare', NS.pubsub, 'pubsub', async (request) => {
    const owner = requireOwner(request);
    const what = action(request.payload);
    const node = checkNodeName(what.attrs.node);
    switch (what.name) {
      case 'publish': {
        const items = what.getChildren('item');
        const [item] = items;
        if (item === undefined || items.length > 1 || what.getChildElements().length !== items.length) throw pubsubError('bad-request', 'invalid-payload', 'a PEP publish carries exactly one <item/>');
        const payloads = item.getChildElements();
        const [payload] = payloads;
        if (payload === undefined) throw pubsubError('bad-request', 'payload-required', 'the item needs a payload');
        if (payloads.length > 1) throw pubsubError('bad-request', 'invalid-payload', 'an item has one payload element');
        const ns = payload.getNS();
        if (ns === undefined || ns === '' || ns === NS.pubsub || ns === NS.client) throw pubsubError('bad-request', 'invalid-payload', 'the payload needs a namespace of its own');
        const standalone = new Element(payload.name, { ...payload.attrs, xmlns: ns });
        standalone.children = payload.children;
        const optionsEl = request.payload.getChild('publish-options');
        const options = optionsEl === undefined ? undefined : formValues(optionsEl.getChild('x', NS.dataForms), NS.pubsubPublishOptions);
        const id = await service.publish(owner, node, item.attrs.id, standalone, options);
        return xml('pubsub', { xmlns: NS.pubsub }, xml('publish', { node }, xml('item', { id })));
      }
      case 'retract': {
        const ids = what.getChildren('item').map((i) => i.attrs.id);
        const [id] = ids;
        if (id === undefined || id === '' || ids.length > 1) throw pubsubError('bad-request', 'item-required', 'retract one <item id=…/>');
        const notify = what.attrs.notify === undefined ? undefined : what.attrs.notify === 'true' || what.attrs.notify === '1';
        await service.retract(owner, node, id, notify);
        return undefined;
      }
      case 'create': {
        if (await store.node(owner, node)) throw new StanzaError('conflict', `the node ${node} exists`);
        const configure = request.payload.getChild('configure');
        const x = configure?.getChild('x', NS.dataForms);
        const values = x === undefined ? new Map<string, string>() : formValues(x, NS.pubsubNodeConfig);
        const config = applyOptions(defaultConfig(node, ctx.settings), values, ctx.settings.maxItems, (t) => new StanzaError('not-acceptable', t));
        await service.createNode(owner, node, config);
        return undefined;
      }
      default:
        throw unsupported(what.name === 'subscribe' || what.name === 'unsubscribe' ? 'subscribe' : what.name);
    }
  });

  ctx.onIq('get', 'bare', NS.pubsub, 'pubsub', async ({ payload, from, to }) => {
    const what = action(payload);
    if (what.name !== 'items') throw unsupported(what.name === 'subscriptions' ? 'retrieve-subscriptions' : what.name === 'affiliations' ? 'retrieve-affiliations' : what.name);
    const node = checkNodeName(what.attrs.node);
    const config = await store.node(to.local, node);
    if (config === undefined) throw new StanzaError('item-not-found', `no node ${node}`);
    await service.checkRead(to.local, from.bareString(), config);
    const ids = what.getChildren('item').map((i) => i.attrs.id);
    if (ids.some((id) => id === undefined || id === '')) throw pubsubError('bad-request', 'item-required', 'an <item/> asked for needs its id');
    let max: number | undefined;
    if (what.attrs.max_items !== undefined) {
      max = /^\d+$/.test(what.attrs.max_items) ? Number(what.attrs.max_items) : 0;
      if (max < 1) throw new StanzaError('bad-request', 'max_items must be a positive integer');
    }
    const items = ids.length > 0 ? await store.itemsById(to.local, node, ids as string[]) : await store.items(to.local, node, max);
    // §6.5.8: asking for ids none of which exist is item-not-found.
    if (ids.length > 0 && items.length === 0) throw new StanzaError('item-not-found', 'no such item');
    return xml('pubsub', { xmlns: NS.pubsub }, xml('items', { node }, ...items.map(itemElement)));
  });

  ctx.onIq('set', 'bare', NS.pubsubOwner, 'pubsub', async (request) => {
    const owner = requireOwner(request);
    const what = action(request.payload);
    const node = checkNodeName(what.attrs.node);
    if (what.name === 'delete') {
      await service.deleteNode(owner, node);
      return undefined;
    }
    if (what.name === 'configure') {
      const config = await store.node(owner, node);
      if (config === undefined) throw new StanzaError('item-not-found', `no node ${node}`);
      const x = what.getChild('x', NS.dataForms);
      if (x?.attrs.type === 'cancel') return undefined;
      const values = formValues(x, NS.pubsubNodeConfig);
      await store.putNode(owner, node, applyOptions(config, values, ctx.settings.maxItems, (t) => new StanzaError('not-acceptable', t)));
      return undefined;
    }
    throw unsupported(what.name === 'purge' ? 'purge-nodes' : what.name);
  });

  ctx.onIq('get', 'bare', NS.pubsubOwner, 'pubsub', async (request) => {
    const owner = requireOwner(request);
    const what = action(request.payload);
    if (what.name !== 'configure') throw unsupported(what.name);
    const node = checkNodeName(what.attrs.node);
    const config = await store.node(owner, node);
    if (config === undefined) throw new StanzaError('item-not-found', `no node ${node}`);
    return xml('pubsub', { xmlns: NS.pubsubOwner }, xml('configure', { node }, configForm(config)));
  });
}
