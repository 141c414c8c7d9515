// XEP-0030 Service Discovery: disco#info (§3) and disco#items (§4) of every JID the server hosts (its
// domain and the other domains served here, such as the MUC service and its rooms), answered from what
// modules registered (ctx.addIdentity/addFeature/addItem per JID, ctx.addDiscoProvider per domain), with
// XEP-0128 forms where a provider gives them; and of the user's own account (§3.1, account/registered).
import { StanzaError } from '../../src/errors.js';
import { ANY_DOMAIN, defineModule, type IqRequest } from '../../src/modules/api.js';
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

export default defineModule({
  name: 'disco',
  specs: [{ id: 'XEP-0030', title: 'Service Discovery', version: '2.5rc3', scope: 'disco#info and disco#items of every hosted domain and JID registered or provided by modules, and of the own account', status: 'complete' }],
  setup(ctx) {
    ctx.addIdentity({ category: 'server', type: 'im', name: ctx.server.name });
    ctx.addFeature(NS.discoInfo);
    ctx.addFeature(NS.discoItems);

    const unknown = (node: string | undefined): StanzaError => new StanzaError('item-not-found', node === undefined ? 'nothing is known of this address' : `no node "${node}"`);
    const withNode = (query: Element, node: string | undefined): Element => {
      if (node !== undefined) query.attrs.node = node;
      return query;
    };

    const info = async ({ payload, from, to }: IqRequest): Promise<Element> => {
      const node = payload.attrs.node;
      // The server's own nodes belong to the modules that define them (the XEP-0115 caps node, ...).
      const hooked = node !== undefined && to.local === '' && to.domain === ctx.domain ? await ctx.fire('disco:info-node', node, from) : undefined;
      if (hooked) return hooked;
      const answer = await ctx.disco.info({ to, from, ...(node === undefined ? {} : { node }) });
      if (answer === undefined) throw unknown(node);
      const query = withNode(xml('query', { xmlns: NS.discoInfo }), node);
      for (const id of answer.identities) query.cnode(xml('identity', { category: id.category, type: id.type, name: id.name }));
      for (const feature of answer.features) query.cnode(xml('feature', { var: feature }));
      for (const form of answer.forms ?? []) query.cnode(form);
      return query;
    };

    const items = async ({ payload, from, to }: IqRequest): Promise<Element> => {
      const node = payload.attrs.node;
      const hooked = node !== undefined && to.local === '' && to.domain === ctx.domain ? await ctx.fire('disco:items-node', node, from) : undefined;
      if (hooked) return hooked;
      const answer = await ctx.disco.itemsOf({ to, from, ...(node === undefined ? {} : { node }) });
      if (answer === undefined) throw unknown(node);
      const query = withNode(xml('query', { xmlns: NS.discoItems }), node);
      for (const item of answer) query.cnode(xml('item', { jid: item.jid, name: item.name, node: item.node }));
      return query;
    };

    for (const target of ['host', { domain: ANY_DOMAIN, to: 'service' }, { domain: ANY_DOMAIN, to: 'bare' }] as const) {
      ctx.onIq('get', target, NS.discoInfo, 'query', info);
      ctx.onIq('get', target, NS.discoItems, 'query', items);
    }

    const refuseNodes = (query: Element): void => {
      if (query.attrs.node !== undefined) throw unknown(query.attrs.node);
    };

    ctx.onIq('get', 'self', NS.discoInfo, 'query', ({ payload }) => {
      refuseNodes(payload);
      const features = [NS.discoInfo, ...ctx.disco.accountFeatures().filter((f) => f !== NS.discoInfo)];
      const identities = [{ category: 'account', type: 'registered' }, ...ctx.disco.accountIdentities()];
      return xml('query', { xmlns: NS.discoInfo }, ...identities.map((i) => xml('identity', { ...i })), ...features.map((f) => xml('feature', { var: f })));
    });

    ctx.onIq('get', 'self', NS.discoItems, 'query', ({ payload }) => {
      refuseNodes(payload);
      return xml('query', { xmlns: NS.discoItems });
    });
  },
});
