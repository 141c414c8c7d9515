// XEP-0199 XMPP Ping: answers pings to the server (§4.2) and pings clients that have been
// silent for a while (§4.1) to find connections that died without closing.
import { StanzaError, StreamError } from '../../src/errors.js';
import { defineModule } from '../../src/modules/api.js';
import { xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

export default defineModule({
  name: 'ping',
  specs: [{ id: 'XEP-0199', title: 'XMPP Ping', version: '2.0.1', scope: 'client-to-server pings; server pings idle clients and drops those that do not answer', status: 'complete' }],
  setup(ctx) {
    ctx.addFeature(NS.ping);
    ctx.onIq('get', 'host', NS.ping, 'ping', () => undefined);
    ctx.onIq('get', 'self', NS.ping, 'ping', () => undefined);

    const idleMs = ctx.config.c2s.pingInterval * 1000;
    const timeoutMs = ctx.config.c2s.pingTimeout * 1000;
    const inFlight = new Set<string>();
    ctx.every(Math.max(1000, Math.min(idleMs, 30_000) / 2), () => {
      const now = Date.now();
      for (const session of ctx.sessions.all()) {
        // A session kept for resumption (XEP-0198) has no connection to ping; its own timeout ends it.
        if (now - session.lastActivity < idleMs || inFlight.has(session.id) || session.connected === false) continue;
        inFlight.add(session.id);
        ctx
          .sendIq(xml('iq', { type: 'get', to: session.jid.toString() }, xml('ping', { xmlns: NS.ping })), timeoutMs)
          .catch((err: unknown) => {
            // Any answer, even an error, shows the client is there; only silence counts.
            if (err instanceof StanzaError && err.condition === 'remote-server-timeout' && ctx.sessions.get(session.jid.toString()) === session) {
              ctx.log.info({ jid: session.jid.toString() }, 'client did not answer a ping; closing');
              session.close(new StreamError('connection-timeout', 'no answer to ping'));
            }
          })
          .finally(() => inFlight.delete(session.id));
      }
    });
  },
});
