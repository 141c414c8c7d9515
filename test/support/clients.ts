// Real third-party clients for the tests: xmpp.js (@xmpp/client) over TCP, direct TLS and WebSocket.
import { client, type XmppClient } from '@xmpp/client';
import type { Element } from 'ltx';
import type { TestServer } from './server.js';

import { WebSocket } from 'ws';
import { Mailbox } from './mailbox.js';

// Node 20 has no global WebSocket; xmpp.js's WebSocket transport expects the browser's API, which ws provides.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

// The test server's certificate is self-signed; the clients must accept it.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

export type ClientTransport = 'tcp' | 'tls' | 'websocket';
export type ClientMechanism = 'SCRAM-SHA-1' | 'PLAIN';

export interface ClientOptions {
  transport: ClientTransport;
  username: string;
  password: string;
  resource?: string;
  mechanism?: ClientMechanism;
}

export interface TestClient {
  readonly xmpp: XmppClient;
  readonly jid: string;
  /** Resolves with the next incoming stanza that matches. */
  next(match: (stanza: Element) => boolean, timeoutMs?: number): Promise<Element>;
  stop(): Promise<void>;
}

/** What a client needs of a server: its ports and domain (a TestServer, or a node in another process). */
export type ClientTarget = Pick<TestServer, 'ports' | 'domain'>;

export function serviceUrl(server: ClientTarget, transport: ClientTransport): string {
  if (transport === 'tcp') return `xmpp://127.0.0.1:${server.ports.c2s}`;
  if (transport === 'tls') return `xmpps://127.0.0.1:${server.ports.c2sTls}`;
  return `ws://127.0.0.1:${server.ports.http}/xmpp-websocket`;
}

export async function connect(server: ClientTarget, options: ClientOptions): Promise<TestClient> {
  const xmpp = client({
    service: serviceUrl(server, options.transport),
    domain: server.domain,
    username: options.username,
    password: options.password,
    ...(options.resource ? { resource: options.resource } : {}),
  });
  xmpp.reconnect.stop();
  if (options.mechanism) {
    const wanted = options.mechanism;
    xmpp.saslFactory._mechs = xmpp.saslFactory._mechs.filter((m) => m.name === wanted);
  }
  const mailbox = new Mailbox<Element>();
  xmpp.on('stanza', (stanza: Element) => {
    mailbox.deliver(stanza);
  });
  xmpp.on('error', () => undefined);
  const jid = await xmpp.start();
  return {
    xmpp,
    jid: jid.toString(),
    next: (match, timeoutMs) => mailbox.next(match, timeoutMs),
    async stop() {
      if (xmpp.status !== 'offline') await xmpp.stop().catch(() => undefined);
    },
  };
}
