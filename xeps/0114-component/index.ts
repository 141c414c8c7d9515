// XEP-0114 Jabber Component Protocol (version 1.6): external components connect on their own TCP
// port (§3), authenticate with the SHA-1 handshake and then serve one domain each: the router hands
// them every stanza to that domain, and what they send is routed like any other stanza.
import net from 'node:net';
import { ServerError, StanzaError, StreamError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import { defineModule, MAX_BACKLOG_ITEMS, plainTcpStream, type ModuleContext } from '../../src/modules/api.js';
import { componentConfig } from './settings.js';
import { COMPONENT_HEADER_NAMESPACES, ComponentStream } from './stream.js';

/** Gives a peer that ignores our </stream:stream> this long at shutdown. */
const SHUTDOWN_GRACE_MS = 1000;
const UNLIMITED = { rate: Infinity, burst: Infinity };

/** The listener's actual port per server configuration, for tests that ask for a free port (0). */
const boundPorts = new WeakMap<ModuleContext['config'], number>();

/** The port the component listener of the server with this configuration is bound to, if it runs. */
export function componentListenerPort(config: ModuleContext['config']): number | undefined {
  return boundPorts.get(config);
}

export default defineModule({
  name: 'component',
  specs: [
    {
      id: 'XEP-0114',
      title: 'Jabber Component Protocol',
      version: '1.6',
      scope: 'jabber:component:accept: handshake, routing to and from the component domain, stream errors; no jabber:component:connect',
      status: 'complete',
    },
  ],
  config: componentConfig,
  async setup(ctx) {
    const listen = ctx.settings;
    const { components } = listen;
    if (components.length === 0) return;
    if (listen.port < 0) {
      ctx.log.warn({ components: components.map((c) => c.domain) }, 'components are configured but component.port is -1: none can connect');
      return;
    }

    const secrets = new Map(components.map((c) => [c.domain, c.secret]));
    const connected = new Map<string, ComponentStream>();
    const streams = new Set<ComponentStream>();

    components.forEach((entry, index) => {
      try {
        // Registered for as long as the module runs, so a stanza to a component that is not
        // connected is answered with service-unavailable rather than remote-server-not-found.
        ctx.addDomain(entry.domain, (stanza) => {
          const stream = connected.get(entry.domain);
          if (!stream) throw new StanzaError('service-unavailable', `${entry.domain} is not connected`);
          stream.send(stanza);
        });
      } catch (err) {
        throw new ServerError('CONFIG_INVALID', `components[${index}].domain: ${entry.domain} is already served by another module (${String(err)})`);
      }
      ctx.addItem(entry.name === undefined ? { jid: entry.domain } : { jid: entry.domain, name: entry.name });
    });

    const log = ctx.log;
    const { c2s, limits } = ctx.config;
    // The c2s stream's parser limits and output cap. Not its read rates: a component serves a whole domain.
    const transportOptions = {
      log,
      limits: { maxStanzaBytes: c2s.preAuthMaxStanzaSize, maxDepth: c2s.maxDepth },
      keepaliveSeconds: c2s.tcpKeepalive,
      shaping: { read: { preAuth: UNLIMITED, authenticated: UNLIMITED }, maxOutputBytes: limits.maxOutputBytes },
      headerNamespaces: COMPONENT_HEADER_NAMESPACES,
    };
    const deps = {
      secrets,
      serverDomain: ctx.domain,
      maxStanzaBytes: c2s.maxStanzaSize,
      backlog: { maxItems: MAX_BACKLOG_ITEMS, maxBytes: limits.maxBacklogBytes },
      handshakeTimeoutMs: listen.handshakeTimeout * 1000,
      log,
      claim(domain: string, stream: ComponentStream): boolean {
        if (connected.has(domain)) return false;
        connected.set(domain, stream);
        return true;
      },
      release(domain: string, stream: ComponentStream): void {
        if (connected.get(domain) === stream) connected.delete(domain);
      },
      route: (stanza: Parameters<typeof ctx.send>[0], from: Parameters<typeof ctx.send>[1]) => ctx.send(stanza, from),
      // Routed again, they reach the component's domain handler, which bounces them while it is not connected.
      undelivered(stanzas: readonly Parameters<typeof ctx.send>[0][]): void {
        for (const stanza of stanzas) {
          const from = Jid.tryParse(stanza.attrs.from) ?? ctx.serverJid;
          ctx.send(stanza, from).catch((err: unknown) => log.error({ err }, 'rerouting a stanza the component did not take'));
        }
      },
    };

    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      const transport = plainTcpStream(socket, transportOptions);
      const stream = new ComponentStream(transport, deps);
      streams.add(stream);
      socket.once('close', () => streams.delete(stream));
      transport.attach(stream);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: listen.host, port: listen.port }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      throw new ServerError('LISTEN_FAILED', `component.port: cannot listen on ${listen.host}:${listen.port}: ${err instanceof Error ? err.message : String(err)}`);
    });
    server.on('error', (err) => log.error({ err }, 'component listener error'));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : listen.port;
    boundPorts.set(ctx.config, port);
    log.info({ host: listen.host, port, components: components.map((c) => c.domain) }, 'component listener ready');

    ctx.onStop(async () => {
      boundPorts.delete(ctx.config);
      const closing = new Promise<void>((resolve) => server.close(() => resolve()));
      const open = [...streams];
      for (const stream of open) stream.fail(new StreamError('system-shutdown'));
      await Promise.all(open.map((stream) => stream.closed(SHUTDOWN_GRACE_MS)));
      await closing;
    });
  },
});
