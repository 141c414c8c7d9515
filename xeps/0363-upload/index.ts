// XEP-0363 HTTP File Upload (v1.1.0): the service upload.<domain> ([upload], settings.ts) in the server's
// disco#items, with identity store/file, the feature and the max-file-size form (§3); slot requests (§4,
// errors §5, request.ts); PUT, GET and HEAD on the HTTP port under /upload/ (§6, http.ts) with URLs signed per
// slot (slots.ts, §8: 128 random bits in every URL); files on disk with a per-user quota and expiry (files.ts).
import { StanzaError } from '../../src/errors.js';
import { defineModule } from '../../src/modules/api.js';
import { xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { UploadFiles } from './files.js';
import { uploadHttp } from './http.js';
import { requestSlot } from './request.js';
import { UPLOAD_PATH, uploadConfig } from './settings.js';
import { loadSecret } from './slots.js';

const PURGE_INTERVAL_MS = 3_600_000;

export default defineModule({
  name: 'upload',
  specs: [
    {
      id: 'XEP-0363',
      title: 'HTTP File Upload',
      version: '1.1.0',
      scope: 'service upload.<domain> in disco#items with max-file-size; slots for users of the server with a size cap and a per-user quota (file-too-large, resource-constraint with retry); signed PUT URLs checked for expiry, size and type; GET and HEAD with type, length, cache and security headers; files on local disk (a shared volume in a cluster), expired after expire_days',
      status: 'complete',
    },
  ],
  depends: ['disco'],
  config: uploadConfig,
  async setup(ctx) {
    const settings = ctx.settings;
    const files = new UploadFiles(settings.directory);
    await files.open();
    const secret = await loadSecret(settings.directory, settings.secret);
    const publicUrl = (): string => {
      if (settings.publicUrl !== undefined) return settings.publicUrl;
      const port = ctx.httpPort();
      if (port === undefined) throw new StanzaError('service-unavailable', 'the HTTP port is disabled and [upload] public_url is not set');
      return `http://${settings.publicHost.includes(':') ? `[${settings.publicHost}]` : settings.publicHost}:${port}${UPLOAD_PATH}`;
    };

    if (settings.publicUrl === undefined && !['localhost', '127.0.0.1', '::1'].includes(settings.publicHost)) {
      ctx.log.warn({ host: settings.publicHost }, 'upload: slots carry plain http:// URLs on the HTTP port; behind a TLS proxy set [upload] public_url or http.public_websocket_url');
    }
    ctx.addHttpRoute(UPLOAD_PATH, uploadHttp({ settings, files, secret, log: ctx.log }));
    ctx.addDomain(settings.domain, async (stanza, from) => {
      if (stanza.name === 'iq') return ctx.dispatchIq(stanza, from);
      // The service takes no messages; presence to it is ignored (it has none to give).
      if (stanza.name === 'message' && stanza.attrs.type !== 'error') throw new StanzaError('service-unavailable', 'the upload service takes slot requests (iq) only');
    });
    ctx.onIq('get', { domain: settings.domain, to: 'service' }, NS.httpUpload, 'request', ({ payload, from }) =>
      requestSlot({ settings, files, secret, serverDomain: ctx.domain, publicUrl }, payload, from, Date.now()),
    );

    ctx.addItem({ jid: settings.domain, name: 'HTTP File Upload' });
    ctx.addIdentity({ category: 'store', type: 'file', name: 'HTTP File Upload' }, settings.domain);
    ctx.addFeature(NS.httpUpload, settings.domain);
    // §3: the size cap as an XEP-0128 form of the service's disco#info.
    ctx.addDiscoProvider(settings.domain, {
      info: ({ to, node }) =>
        to.local === '' && to.resource === '' && node === undefined
          ? {
              identities: [],
              features: [],
              forms: [
                xml(
                  'x',
                  { xmlns: NS.dataForms, type: 'result' },
                  xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', null, NS.httpUpload)),
                  xml('field', { var: 'max-file-size' }, xml('value', null, String(settings.maxFileSize))),
                ),
              ],
            }
          : undefined,
    });

    const purge = async (): Promise<void> => {
      const removed = await files.purge(Date.now() - settings.expireDays * 86_400_000);
      if (removed > 0) ctx.log.info({ removed }, 'upload: expired files removed');
    };
    await purge();
    ctx.every(PURGE_INTERVAL_MS, purge);
  },
});
