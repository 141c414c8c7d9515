// XEP-0115 Entity Capabilities (version 1.6.0) for the server itself: its caps in the stream features
// after authentication (§6.3), and disco#info on the caps node '<node>#<ver>' (§6.2). Caps that clients
// put in their presence pass through untouched. The verification string is in ver.ts (§5.1).
import { defineModule } from '../../src/modules/api.js';
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { setupClientCaps } from './client-caps.js';
import { capsInput, verificationString } from './ver.js';

/** §4: "A URI that uniquely identifies a software application". */
export const CAPS_NODE = 'https://ratatosk.example/caps';

export default defineModule({
  name: 'caps',
  specs: [{ id: 'XEP-0115', title: 'Entity Capabilities', version: '1.6.0', scope: 'the server’s own caps (sha-1) in the stream features after authentication and on its caps node; local clients’ caps resolved by disco#info once per ver (verified sha-1 cached) for +notify', status: 'complete' }],
  setup(ctx) {
    // §7: an entity that supports caps says so in disco#info, and the feature is part of the hash.
    ctx.addFeature(NS.caps);

    // Computed at first use, when every module has registered its features; computed again only if
    // what disco#info answers has changed since (a module stopped or started).
    let known: { input: string; ver: string } | undefined;
    const currentVer = (): string => {
      const identities = ctx.disco.identities();
      const features = ctx.disco.features();
      const input = capsInput(identities, features);
      if (known?.input !== input) known = { input, ver: verificationString(identities, features) };
      return known.ver;
    };

    ctx.hook('stream:features', (features, context) => {
      if (!context.authenticated) return features;
      return [...features, xml('c', { xmlns: NS.caps, hash: 'sha-1', node: CAPS_NODE, ver: currentVer() })];
    });

    // §6.2: the caps node answers exactly what the server's disco#info answers, with the node echoed.
    ctx.hook('disco:info-node', (node): Element | undefined => {
      if (node !== `${CAPS_NODE}#${currentVer()}`) return undefined;
      const query = xml('query', { xmlns: NS.discoInfo, node });
      for (const id of ctx.disco.identities()) query.cnode(xml('identity', { category: id.category, type: id.type, name: id.name }));
      for (const feature of ctx.disco.features()) query.cnode(xml('feature', { var: feature }));
      return query;
    });

    setupClientCaps(ctx);
  },
});
