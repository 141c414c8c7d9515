// XEP-0030 Service Discovery: disco#info (§3) and disco#items (§4) of the server, answered
// from what modules registered, and of the user's own account (§3.1, account/registered).
import { StanzaError } from '../../src/errors.js';
import { defineModule } from '../../src/modules/api.js';
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

export default defineModule({
  name: 'disco',
  specs: [{ id: 'XEP-0030', title: 'Service Discovery', version: '2.5rc3', scope: 'disco#info and disco#items of the server and of the own account', status: 'complete' }],
  setup(ctx) {
    ctx.addIdentity({ category: 'server', type: 'im', name: ctx.server.name });
    ctx.addFeature(NS.discoInfo);
    ctx.addFeature(NS.discoItems);

    const refuseNodes = (query: Element): void => {
      if (query.attrs.node !== undefined) throw new StanzaError('item-not-found', `no node "${query.attrs.node}"`);
    };

    ctx.onIq('get', 'host', NS.discoInfo, 'query', async ({ payload, from }) => {
      // Nodes belong to the modules that define them (the XEP-0115 caps node, ...).
      const node = payload.attrs.node;
      const answer = node === undefined ? undefined : await ctx.fire('disco:info-node', node, from);
      if (answer) return answer;
      refuseNodes(payload);
      const query = xml('query', { xmlns: NS.discoInfo });
      for (const id of ctx.disco.identities()) query.cnode(xml('identity', { category: id.category, type: id.type, name: id.name }));
      for (const feature of ctx.disco.features()) query.cnode(xml('feature', { var: feature }));
      return query;
    });

    ctx.onIq('get', 'host', NS.discoItems, 'query', async ({ payload, from }) => {
      const node = payload.attrs.node;
      const answer = node === undefined ? undefined : await ctx.fire('disco:items-node', node, from);
      if (answer) return answer;
      refuseNodes(payload);
      const query = xml('query', { xmlns: NS.discoItems });
      for (const item of ctx.disco.items()) query.cnode(xml('item', { jid: item.jid, name: item.name, node: item.node }));
      return query;
    });

    ctx.onIq('get', 'self', NS.discoInfo, 'query', ({ payload }) => {
      refuseNodes(payload);
      return xml('query', { xmlns: NS.discoInfo }, xml('identity', { category: 'account', type: 'registered' }), xml('feature', { var: NS.discoInfo }));
    });

    ctx.onIq('get', 'self', NS.discoItems, 'query', ({ payload }) => {
      refuseNodes(payload);
      return xml('query', { xmlns: NS.discoItems });
    });
  },
});
