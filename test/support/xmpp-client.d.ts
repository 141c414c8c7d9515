// Just enough typing of @xmpp/client (which ships none) for the tests.
declare module '@xmpp/client' {
  import type { Element } from 'ltx';
  import type { EventEmitter } from 'node:events';

  export interface XmppJid {
    toString(): string;
    bare(): XmppJid;
    local: string;
    domain: string;
    resource: string;
  }

  export interface SaslFactory {
    _mechs: Array<{ name: string; mech: unknown }>;
  }

  export interface IqCaller {
    request(stanza: Element, timeout?: number): Promise<Element>;
    get(child: Element, to?: string, timeout?: number): Promise<Element>;
    set(child: Element, to?: string, timeout?: number): Promise<Element>;
  }

  /** Answers iq requests to this client (xmpp.js answers the rest with service-unavailable). */
  export interface IqCallee {
    get(ns: string, name: string, handler: (context: { stanza: Element; element: Element }) => Element | Promise<Element>): void;
    set(ns: string, name: string, handler: (context: { stanza: Element; element: Element }) => Element | Promise<Element>): void;
  }

  /** @xmpp/stream-management's state (XEP-0198): 'resumed', 'ack' and 'fail' events. */
  export interface StreamManagement extends EventEmitter {
    enabled: boolean;
    /** The resumption id from <enabled/>; empty without one. */
    id: string;
    inbound: number;
    outbound: number;
  }

  export interface XmppClient extends EventEmitter {
    jid: XmppJid | null;
    status: string;
    saslFactory: SaslFactory;
    iqCaller: IqCaller;
    iqCallee: IqCallee;
    reconnect: { stop(): void; reconnect(): Promise<void> };
    streamManagement: StreamManagement;
    /** The transport's socket wrapper; its own `socket` is the Node socket (TCP, TLS) or the WebSocket. */
    socket: unknown;
    start(): Promise<XmppJid>;
    stop(): Promise<void>;
    send(...stanzas: Element[]): Promise<void>;
    write(data: string): Promise<void>;
  }

  export interface ClientOptions {
    service: string;
    domain?: string;
    username?: string;
    password?: string;
    resource?: string;
    timeout?: number;
  }

  export function client(options: ClientOptions): XmppClient;
  export function xml(name: string, attrs?: Record<string, string> | null, ...children: Array<Element | string>): Element;
}
