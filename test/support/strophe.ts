// Strophe.js (the library under Converse.js and many web clients) as a third-party test client.
// Its Node entry wires @xmldom/xmldom and ws in as the browser's DOM and WebSocket. WebSocket now;
// BOSH needs only its service URL, so the same helper serves the BOSH tests.
import { Strophe } from 'strophe.js';
import type { TestServer } from './server.js';
import { installXmlHttpRequest } from './xhr.js';
import { Mailbox } from './mailbox.js';

// Strophe's BOSH transport posts with XMLHttpRequest, which Node lacks.
installXmlHttpRequest();

export type StropheTransport = 'websocket' | 'bosh';
export type StropheMechanism = 'SCRAM-SHA-512' | 'SCRAM-SHA-384' | 'SCRAM-SHA-256' | 'SCRAM-SHA-1' | 'PLAIN';

/** The part of the (xmldom) DOM element Strophe hands to handlers that the tests use. */
export interface StropheElement {
  readonly tagName: string;
  getAttribute(name: string): string | null;
  getElementsByTagName(name: string): ArrayLike<StropheElement>;
  readonly textContent: string | null;
}

export interface StropheOptions {
  transport: StropheTransport;
  username: string;
  password: string;
  resource?: string;
  /** Only these SASL mechanisms are offered to the server (default: all Strophe knows). */
  mechanisms?: StropheMechanism[];
  /** Overrides the service URL derived from the transport. */
  service?: string;
  timeoutMs?: number;
  /** BOSH 'wait' asked for, in seconds (Strophe's default is 60). */
  wait?: number;
}

export interface StropheClient {
  readonly connection: InstanceType<typeof Strophe.Connection>;
  /** The full JID the server bound. */
  readonly jid: string;
  /** The raw data Strophe wrote and read (WebSocket frames or BOSH bodies), in order. */
  readonly sent: readonly string[];
  readonly received: readonly string[];
  /** Sends XML built with Strophe's builders ($msg, $pres, $iq). */
  send(stanza: Parameters<InstanceType<typeof Strophe.Connection>['send']>[0]): void;
  /** Resolves with the next incoming stanza that matches. */
  next(match: (stanza: StropheElement) => boolean, timeoutMs?: number): Promise<StropheElement>;
  stop(): Promise<void>;
}

/** Authentication failed: `condition` is the SASL failure condition (RFC 6120 §6.5), e.g. not-authorized. */
export class StropheAuthError extends Error {
  constructor(readonly condition: string) {
    super(`authentication failed: ${condition}`);
    this.name = 'StropheAuthError';
  }
}

const MECHANISMS = {
  'SCRAM-SHA-512': Strophe.SASLSHA512,
  'SCRAM-SHA-384': Strophe.SASLSHA384,
  'SCRAM-SHA-256': Strophe.SASLSHA256,
  'SCRAM-SHA-1': Strophe.SASLSHA1,
  PLAIN: Strophe.SASLPlain,
} as const;

/** Where Strophe connects; the BOSH path is the conventional /http-bind. */
export function stropheService(server: Pick<TestServer, 'ports'>, transport: StropheTransport): string {
  return transport === 'websocket' ? `ws://127.0.0.1:${server.ports.http}/xmpp-websocket` : `http://127.0.0.1:${server.ports.http}/http-bind`;
}

const statusName = (status: number): string => Object.entries(Strophe.Status).find(([, v]) => v === status)?.[0] ?? String(status);

/** The condition of a SASL <failure/> (its first child element), if Strophe passed one. */
function failureCondition(elem: unknown): string | undefined {
  const failure = elem as Partial<{ childNodes: ArrayLike<{ nodeType: number; nodeName: string }> }> | undefined;
  const children = failure?.childNodes;
  if (!children) return undefined;
  for (let i = 0; i < children.length; i++) {
    const child = children[i];
    if (child && child.nodeType === 1 && child.nodeName !== 'text') return child.nodeName;
  }
  return undefined;
}

export async function connectStrophe(server: Pick<TestServer, 'ports' | 'domain'>, options: StropheOptions): Promise<StropheClient> {
  Strophe.setLogLevel(Strophe.LogLevel.FATAL);
  const connection = new Strophe.Connection(options.service ?? stropheService(server, options.transport), {
    ...(options.mechanisms ? { mechanisms: options.mechanisms.map((m) => MECHANISMS[m]) } : {}),
  });
  const sent: string[] = [];
  const received: string[] = [];
  connection.rawOutput = (data: string) => void sent.push(data);
  connection.rawInput = (data: string) => void received.push(data);

  const mailbox = new Mailbox<StropheElement>();
  connection.addHandler((stanza: StropheElement) => {
    mailbox.deliver(stanza);
    return true;
  }, null, null, null, null, null);

  const statusListeners = new Set<(status: number, condition: string | null, elem: unknown) => void>();
  const full = `${options.username}@${server.domain}${options.resource ? `/${options.resource}` : ''}`;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`Strophe did not connect within ${options.timeoutMs ?? 10_000} ms`));
      connection.reset();
    }, options.timeoutMs ?? 10_000);
    const settle = (error?: Error): void => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    connection.connect(full, options.password, (status: number, condition: string | null, elem?: unknown) => {
      for (const listener of statusListeners) listener(status, condition, elem);
      if (status === Strophe.Status.CONNECTED) settle();
      else if (status === Strophe.Status.AUTHFAIL) settle(new StropheAuthError(condition ?? failureCondition(elem) ?? 'unknown'));
      else if (status === Strophe.Status.CONNFAIL || status === Strophe.Status.ERROR || status === Strophe.Status.CONNTIMEOUT) {
        settle(new Error(`Strophe failed to connect: ${statusName(status)} ${condition ?? ''}`.trim()));
      }
    }, options.wait);
  });

  return {
    connection,
    jid: connection.jid,
    sent,
    received,
    send: (stanza) => connection.send(stanza),
    next: (match, timeoutMs) => mailbox.next(match, timeoutMs),
    async stop() {
      if (!connection.connected) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 3000);
        statusListeners.add((status) => {
          if (status !== Strophe.Status.DISCONNECTED) return;
          clearTimeout(timer);
          resolve();
        });
        connection.disconnect('test finished');
      });
    },
  };
}
