// XEP-0092 Software Version: the server's name and version (§2). The operating system is left
// out on purpose (§5 security considerations).
import { defineModule } from '../../src/modules/api.js';
import { xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

export default defineModule({
  name: 'version',
  specs: [{ id: 'XEP-0092', title: 'Software Version', version: '1.1', scope: 'name and version of the server; no OS', status: 'complete' }],
  setup(ctx) {
    ctx.addFeature(NS.version);
    ctx.onIq('get', 'host', NS.version, 'query', () =>
      xml('query', { xmlns: NS.version }, xml('name', null, ctx.server.name), xml('version', null, ctx.server.version)),
    );
  },
});
