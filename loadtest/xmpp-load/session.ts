// One simulated user: the session Tsung's scenarios script (loadtest/tsung/login.xml.part), over WebSocket
// (RFC 7395), BOSH (XEP-0124, XEP-0206) or TCP (RFC 6120), one round trip at a time as a real client does:
//
//   stream header -> features -> SASL PLAIN (RFC 6120 §6, RFC 4616) -> success -> restart -> features
//   -> bind (RFC 6120 §7) -> legacy session (RFC 3921 §3) -> roster get (RFC 6121 §2.2) -> initial presence
//
// then it stays connected: it answers iq get/set (XEP-0199 pings, roster pushes) with a result, hands chat
// messages to the run (which times them) and counts what else arrives. The wires, the inbox and SASL are the
// login benchmark's (loadtest/bench/login-client.ts); BOSH is bosh-wire.ts.
import { performance } from 'node:perf_hooks';
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { authenticate, describe, Inbox, nextElement, openStream, tcpWire, websocketWire, type Wire } from '../bench/login-client.js';
import { boshWire, type BoshTarget } from './bosh-wire.js';

export type LoadTransport = 'websocket' | 'bosh' | 'tcp';

export interface LoadTarget {
  transport: LoadTransport;
  host: string;
  /** The HTTP port (/xmpp-websocket and /http-bind); for TCP the c2s port. */
  port: number;
  domain: string;
  /** A login not through by then fails. */
  timeoutMs: number;
  /** A login whose roster result has another number of items fails (a server that lost the rosters). */
  rosterSize?: number | undefined;
  /** BOSH only. */
  bosh: Omit<BoshTarget, 'host' | 'port' | 'domain'>;
  /**
   * XEP-0198: enable stream management (with resumption) right after bind, as Conversations does, answer the
   * server's <r/>, and ask for an ack after every chat message sent.
   */
  streamManagement?: boolean;
  /** With stream management: ask for an ack after every Nth chat message sent (1: after each, as Conversations). */
  ackEvery?: number;
  /**
   * Without stream management: an XEP-0199 ping to the server after every chat message, one element in and one out
   * per message as an <r/>/<a/> pair is (the cost of that traffic alone, to set beside stream management's).
   */
  pingAfterMessage?: boolean;
}

const SM = 'urn:xmpp:sm:3';
const isStanza = (el: Element): boolean => el.name === 'message' || el.name === 'presence' || el.name === 'iq';

/** Milliseconds of the login, from the connect. `login` is Tsung's transaction: SASL through the session result. */
export interface LoginTimings {
  features: number;
  login: number;
  total: number;
}

export interface SessionEvents {
  /** A chat message with a body arrived (`at` from performance.now()). */
  onChat(body: string, at: number): void;
  /** A message of type error came back (the router bounced one of ours). */
  onBounce(stanza: Element): void;
  /** The connection ended without the run asking for it. */
  onLost(session: LoadSession, reason: string): void;
  /** Sees every stanza after login first (loadtest/soak: MUC presence and groupchat); true: handled. */
  onStanza?(session: LoadSession, stanza: Element): boolean;
}

export class LoadSession {
  private closing = false;
  private lostReason: string | undefined;
  /** Stanzas received after login, by kind. */
  readonly received = { presence: 0, iq: 0, other: 0 };
  /** XEP-0198 counters while stream management is on: stanzas handled and sent, acks the server gave. */
  readonly sm = { enabled: false, inbound: 0, outbound: 0, acked: 0, acks: 0, ackEvery: 1, chatsSinceRequest: 0 };

  private constructor(
    private readonly wire: Wire,
    readonly jid: string,
    readonly bare: string,
    /** Bare JIDs of the roster items. */
    readonly contacts: readonly string[],
    readonly timings: LoginTimings,
    private readonly events: SessionEvents,
    sm?: { inbound: number; outbound: number; ackEvery: number },
    private readonly pingAfterMessage = false,
  ) {
    if (sm) Object.assign(this.sm, { enabled: true, ...sm });
  }

  static async login(target: LoadTarget, username: string, password: string, resource: string, events: SessionEvents): Promise<LoadSession> {
    const start = performance.now();
    const inbox = new Inbox();
    let session: LoadSession | undefined;
    let connected!: () => void;
    let notConnected!: (err: Error) => void;
    const connecting = new Promise<void>((resolve, reject) => {
      connected = resolve;
      notConnected = reject;
    });
    // Stanzas that are not the awaited answer (a contact's presence, a ping) while the login waits.
    const early: Element[] = [];
    const onClose = (err: Error): void => {
      inbox.fail(err);
      notConnected(err);
      session?.markLost(err.message);
    };
    const wire =
      target.transport === 'bosh'
        ? boshWire({ host: target.host, port: target.port, domain: target.domain, ...target.bosh }, inbox, () => connected(), onClose)
        : target.transport === 'tcp'
          ? tcpWire({ transport: 'tcp', host: target.host, port: target.port, domain: target.domain, mechanism: 'PLAIN', timeoutMs: target.timeoutMs }, inbox, () => connected(), onClose)
          : websocketWire({ transport: 'websocket', host: target.host, port: target.port, domain: target.domain, mechanism: 'PLAIN', timeoutMs: target.timeoutMs }, inbox, () => connected(), onClose);
    const timer = setTimeout(() => onClose(new Error(`login timed out after ${target.timeoutMs} ms`)), target.timeoutMs);

    // XEP-0198 §4: once <enabled/> arrived, every stanza the server sends counts; its <r/> is answered at once.
    let sm: { inbound: number; outbound: number; ackEvery: number } | undefined;
    try {
      const expect = async (what: string): Promise<Element> => {
        for (;;) {
          const element = await nextElement(inbox, what);
          if (sm && element.name === 'r' && element.attrs.xmlns === SM) {
            wire.send(xml('a', { xmlns: SM, h: String(sm.inbound) }));
            continue;
          }
          if (sm && isStanza(element)) sm.inbound++;
          return element;
        }
      };
      const expectIq = async (id: string): Promise<Element> => {
        for (;;) {
          const element = await expect(`the answer to iq ${id}`);
          if (element.name === 'iq' && element.attrs.id === id) {
            if (element.attrs.type !== 'result') throw new Error(`iq ${id} failed: ${describe(element)}`);
            return element;
          }
          early.push(element);
        }
      };
      const openAndFeatures = (): Promise<Element> => openStream(wire, inbox);

      await connecting;
      const features = await openAndFeatures();
      const featuresAt = performance.now() - start;
      const offered = features.getChild('mechanisms', NS.sasl)?.getChildren('mechanism').map((m) => m.getText()) ?? [];
      if (!offered.includes('PLAIN')) throw new Error(`PLAIN not offered (offered: ${offered.join(' ') || 'none'})`);
      const loginStart = performance.now();
      await authenticate('PLAIN', wire, expect, username, password);
      wire.restart();
      const bindFeatures = await openAndFeatures();
      if (!bindFeatures.getChild('bind', NS.bind)) throw new Error(`no <bind/> in ${describe(bindFeatures)}`);
      wire.send(xml('iq', { type: 'set', id: 'bind' }, xml('bind', { xmlns: NS.bind }, xml('resource', null, resource))));
      const jid = (await expectIq('bind')).getChild('bind', NS.bind)?.getChildText('jid');
      if (!jid) throw new Error('bind result without a JID');
      wire.send(xml('iq', { type: 'set', id: 'sess' }, xml('session', { xmlns: NS.session })));
      await expectIq('sess');
      const loggedInAt = performance.now();
      if (target.streamManagement) {
        if (!bindFeatures.getChild('sm', SM)) throw new Error(`stream management not offered in ${describe(bindFeatures)}`);
        wire.send(xml('enable', { xmlns: SM, resume: 'true' }));
        for (;;) {
          const element = await expect('<enabled/>');
          if (element.attrs.xmlns === SM && element.name === 'enabled') break;
          if (element.attrs.xmlns === SM && element.name === 'failed') throw new Error(`stream management refused: ${describe(element)}`);
          early.push(element);
        }
        sm = { inbound: 0, outbound: 0, ackEvery: Math.max(1, target.ackEvery ?? 1) };
      }
      wire.send(xml('iq', { type: 'get', id: 'roster' }, xml('query', { xmlns: NS.roster })));
      if (sm) sm.outbound++;
      const roster = (await expectIq('roster')).getChild('query', NS.roster);
      const contacts = roster?.getChildren('item').map((item) => item.attrs.jid ?? '').filter((j) => j !== '') ?? [];
      if (target.rosterSize !== undefined && contacts.length !== target.rosterSize) {
        throw new Error(`roster of ${contacts.length} items, ${target.rosterSize} expected`);
      }
      clearTimeout(timer);

      const timings = { features: featuresAt, login: loggedInAt - loginStart, total: performance.now() - start };
      const bare = jid.split('/')[0] ?? jid;
      session = new LoadSession(wire, jid, bare, contacts, timings, events, sm, target.pingAfterMessage === true);
      const idle = session;
      inbox.passive = (item) => {
        if (item.kind === 'element') idle.onElement(item.element);
      };
      // Already counted (or sent before stream management was on) by `expect`.
      for (const element of early) idle.onStanza(element);
      idle.send(xml('presence'));
      return session;
    } catch (err) {
      clearTimeout(timer);
      wire.destroy();
      throw err;
    }
  }

  /** Why the connection ended, if it did without the run asking. */
  get lost(): string | undefined {
    return this.lostReason;
  }

  sendChat(to: string, id: string, body: string): void {
    this.send(xml('message', { to, type: 'chat', id }, xml('body', null, body)));
    if (this.pingAfterMessage) this.send(xml('iq', { type: 'get', id: `p${id}` }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    if (this.sm.enabled && ++this.sm.chatsSinceRequest >= this.sm.ackEvery) {
      this.sm.chatsSinceRequest = 0;
      this.requestAck();
    }
  }

  /** XEP-0198 §4: asks the server to acknowledge what it has handled. */
  requestAck(): void {
    if (this.sm.enabled) this.wire.send(xml('r', { xmlns: SM }));
  }

  /** Any stanza (presence updates, MUC joins and groupchat from loadtest/soak). */
  sendStanza(stanza: Element): void {
    this.send(stanza);
  }

  private send(stanza: Element): void {
    if (this.sm.enabled) this.sm.outbound++;
    this.wire.send(stanza);
  }

  /** Logs out the way a client does; the connection then closes. */
  close(): void {
    this.closing = true;
    this.wire.close();
  }

  destroy(): void {
    this.closing = true;
    this.wire.destroy();
  }

  private markLost(reason: string): void {
    if (this.closing || this.lostReason !== undefined) return;
    this.lostReason = reason;
    this.events.onLost(this, reason);
  }

  /** An element in the idle phase: XEP-0198's <r/> and <a/>, or a stanza (counted while stream management is on). */
  private onElement(el: Element): void {
    if (this.sm.enabled && el.attrs.xmlns === SM) {
      if (el.name === 'r') this.wire.send(xml('a', { xmlns: SM, h: String(this.sm.inbound) }));
      else if (el.name === 'a') {
        this.sm.acks++;
        this.sm.acked = Number(el.attrs.h);
      } else this.received.other++;
      return;
    }
    if (this.sm.enabled && isStanza(el)) this.sm.inbound++;
    this.onStanza(el);
  }

  private onStanza(el: Element): void {
    if (this.events.onStanza?.(this, el)) return;
    if (el.name === 'message') {
      if (el.attrs.type === 'error') return this.events.onBounce(el);
      const body = el.getChildText('body');
      if (body !== null) return this.events.onChat(body, performance.now());
      this.received.other++;
    } else if (el.name === 'iq') {
      this.received.iq++;
      if (el.attrs.type === 'get' || el.attrs.type === 'set') this.send(xml('iq', { type: 'result', id: el.attrs.id, to: el.attrs.from }));
    } else if (el.name === 'presence') this.received.presence++;
    else this.received.other++;
  }
}
