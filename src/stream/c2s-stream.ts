// The client-to-server stream (RFC 6120 §4 streams, §5 STARTTLS, §6 SASL, §7 resource binding,
// §8.1.2.1 'from' stamping; RFC 3921 §3 legacy session establishment), independent of transport.
import { randomBytes } from 'node:crypto';
import type { LoginThrottle, LoginTicket } from '../auth/throttle.js';
import type { Config } from '../config/types.js';
import { SaslError, StanzaError, StreamError, bounce } from '../errors.js';
import type { CoreHooks } from '../hooks/core-hooks.js';
import type { HookBus } from '../hooks/bus.js';
import { Jid } from '../jid.js';
import type { Logger } from '../observability/log.js';
import type { LoginRecorder } from '../observability/login-metrics.js';
import type { StanzaTraffic } from '../observability/stanza-traffic.js';
import type { Router } from '../router/router.js';
import type { SessionState } from '../sessions/handover.js';
import type { LocalSessionRegistry } from '../sessions/local-registry.js';
import { OutputPipeline, type Outbound } from '../sessions/output.js';
import type { BoundSession, SessionPresence, StreamSession, TransportKind } from '../sessions/types.js';
import { StoreUnavailableError } from '../storage/types.js';
import { Element, parseElement, xml } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { Backlog, MAX_BACKLOG_ITEMS } from './backlog.js';
import { TokenBucket } from './limits.js';
import { checkStreamNamespaces } from './stream-header.js';
import { decodeBase64Strict } from './sasl/base64.js';
import type { CredentialSource, MechanismContext, MechanismFactory, SaslMechanism, SaslStep } from './sasl/types.js';
import { ChannelBindingTypeError, offeredMechanisms } from './sasl/index.js';
import type { ClientStream, StreamElementRegistry } from './stream-elements.js';
import { Sasl2Login, type Sasl2Host } from './sasl2.js';
import type { StreamEvents, StreamTransport, Undelivered } from './transport.js';
import { reroute } from './undelivered.js';

export interface C2sDeps {
  config: Config;
  log: Logger;
  router: Router;
  sessions: LocalSessionRegistry;
  hooks: HookBus<CoreHooks>;
  credentials: CredentialSource;
  throttle: LoginThrottle;
  mechanisms: readonly MechanismFactory[];
  /** Handlers of top-level elements that are not stanzas (stream-elements.ts), by namespace. */
  streamElements: StreamElementRegistry;
  /** The metrics' stanza counts and login counts (src/observability). */
  traffic: StanzaTraffic;
  logins: LoginRecorder;
}

/** SASL attempts allowed on one stream before it is closed (RFC 6120 §6.4.5 suggests 2 to 5). */
const MAX_SASL_ATTEMPTS = 5;
/** How long a session handed over to another node forwards what reaches it here, at most (README of src/cluster). */
const HANDED_OVER_FORWARD_MS = 30_000;

type Phase = 'unauthenticated' | 'authenticated' | 'bound' | 'closed';

export class C2sStream implements StreamEvents {
  readonly id = randomBytes(12).toString('base64url');
  private phase: Phase = 'unauthenticated';
  private awaitingHeader = true;
  private headerSent = false;
  private username: string | undefined;
  private sasl: SaslMechanism | undefined;
  /** The login throttle's admission of the exchange under way. */
  private loginTicket: LoginTicket | undefined;
  private saslFailures = 0;
  /** A -PLUS attempt named a channel-binding type this connection lacks (MechanismContext.bindingTypeRefused). */
  private bindingTypeRefused = false;
  private session: ClientSession | undefined;
  /** The bound session once it was taken out of routing: what its undelivered stanzas were for. */
  private ended: ClientSession | undefined;
  /** The ended session's output kept what it sent until acknowledged: the connection's leftovers are among what it released. */
  private endedKeptOutput = false;
  /** The session this stream's dropped connection left bound, until it is resumed elsewhere or closed. */
  private hibernated: ClientSession | undefined;
  /** What stream-level handlers see of this stream; made on first use. */
  private control: ClientStream | undefined;
  /** The work items waiting in `queue`, and their bytes. */
  private readonly backlog: Backlog;
  /** limits.stanza_rate: over it, a stanza waits until this time (ms) before it is processed. */
  private readonly stanzaRate: TokenBucket;
  private notBefore = 0;
  private queue: Promise<void> = Promise.resolve();
  /** Dropped once cleared: an idle session should not keep a spent timer and its closure. */
  private authTimer: NodeJS.Timeout | undefined;
  private streamLog: Logger | undefined;

  /** `onBound`: called once when the stream has bound a resource (no longer counted as pre-authentication). */
  constructor(private readonly transport: StreamTransport, private readonly deps: C2sDeps, private readonly onBound?: () => void) {
    this.stanzaRate = new TokenBucket(deps.config.limits.stanzaRate, deps.config.limits.stanzaBurst);
    this.backlog = new Backlog({ maxItems: MAX_BACKLOG_ITEMS, maxBytes: deps.config.limits.maxBacklogBytes });
    this.authTimer = setTimeout(() => this.fail(new StreamError('connection-timeout', 'no authenticated session in time')), deps.config.c2s.authTimeout * 1000);
    this.authTimer.unref();
  }

  /** The stream's logger, made when first needed: most streams never log, and a child logger per idle session adds up. */
  private get log(): Logger {
    this.streamLog ??= this.deps.log.child({ stream: this.id, transport: this.transport.kind, remote: this.transport.remoteAddress });
    return this.streamLog;
  }

  /** Debug lines come on every login and logout: the stream's child logger is made only if they are written. */
  private debug(message: string, fields?: Record<string, unknown>): void {
    if (!this.deps.log.isLevelEnabled('debug')) return;
    if (fields) this.log.debug(fields, message);
    else this.log.debug(message);
  }

  get boundSession(): BoundSession | undefined {
    return this.session;
  }

  /** Where the session counts the stanzas it is given (the metrics). */
  get traffic(): StanzaTraffic {
    return this.deps.traffic;
  }

  // ---- events from the transport ----

  onStreamStart(attrs: Record<string, string>, name: string): void {
    if (this.phase === 'closed') return;
    if (!this.awaitingHeader) return this.fail(new StreamError('not-well-formed', 'unexpected stream header'));
    this.awaitingHeader = false;
    const error = this.checkHeader(attrs, name);
    this.sendHeader(attrs.from);
    if (error) return this.fail(error);
    this.enqueue(async () => {
      if (this.phase !== 'closed') this.transport.send(await this.streamFeatures());
    });
  }

  /** `bytes`: the element's size as received (the transport's count; an estimate when it has none). */
  onElement(element: Element, bytes = 0): void {
    if (this.phase === 'closed') return;
    if (this.session) this.session.lastActivity = Date.now();
    const flooding = this.backlog.refuse(bytes);
    if (flooding) return this.fail(flooding);
    // limits.stanza_rate: a stanza over the rate is delayed like a shaper would, not refused (RFC 6120 §10.1
    // keeps the order, so every later one waits behind it).
    const wait = this.stanzaRate.take(1);
    if (wait > 0) {
      const notBefore = (this.notBefore = Math.max(this.notBefore, Date.now() + wait));
      // Stop reading meanwhile, so that a flood waits in the client's socket rather than in our memory.
      this.transport.holdReading?.(notBefore - Date.now());
      return this.enqueue(async () => {
        const ms = notBefore - Date.now();
        if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
        if (this.phase !== 'closed') await this.handle(element);
      }, bytes);
    }
    if (this.backlog.empty && this.phase === 'bound' && !this.awaitingHeader) {
      // Nothing is waiting: start at once rather than a promise hop later. Only once bound, where handling
      // a stanza never restarts the stream (and so never resets the parser that is calling us).
      this.backlog.add(bytes);
      let work: Promise<void> | undefined;
      try {
        work = this.handleBound(element);
      } catch (err) {
        this.workFailed(err);
        return;
      }
      // Handled to the end already (a chat message to a session here): no promise, and the backlog is empty again.
      if (work === undefined) this.backlog.done();
      else this.queue = work.then(this.workDone, this.workFailed);
      return;
    }
    this.enqueue(() => this.handle(element), bytes);
  }

  /** Runs stream work strictly in arrival order (RFC 6120 §10.1: in-order processing). */
  private enqueue(work: () => Promise<void> | void, bytes = 0): void {
    this.backlog.add(bytes);
    this.queue = this.queue.then(work).then(this.workDone, this.workFailed);
  }

  private readonly workDone = (): void => {
    this.backlog.done();
  };

  private readonly workFailed = (err: unknown): void => {
    this.backlog.done();
    this.log.error({ err }, 'unexpected error on stream');
    this.fail(new StreamError('internal-server-error'));
  };

  onStreamEnd(): void {
    if (this.phase === 'closed') return;
    this.debug('client closed the stream');
    // After the stanzas that came before the close (RFC 6120 §4.4; a BOSH terminate body's payloads, XEP-0124 §13).
    this.enqueue(() => this.end());
  }

  onStreamError(error: StreamError): void {
    this.fail(error);
  }

  onDisconnect(undelivered: readonly Undelivered[] = []): void {
    const session = this.session;
    // No closing handshake, and the session can be resumed: it stays bound without a connection. What the
    // connection could not write is kept by the output stage that waits for acknowledgements.
    if (this.phase === 'bound' && session?.keepOnDrop && session.output.acknowledged) return this.hibernate(session);
    if (this.phase !== 'closed') this.debug('connection dropped');
    this.phase = 'closed';
    this.detach();
    if (!this.endedKeptOutput) this.returnUndelivered(undelivered);
  }

  private hibernate(session: ClientSession): void {
    this.debug('connection dropped; session kept for resumption');
    this.phase = 'closed';
    this.session = undefined;
    this.hibernated = session;
    session.unplug();
    void this.deps.hooks.emit('session:hibernating', session);
  }

  /** Stanzas that did not reach the client of a session that ended go back into routing (undelivered.ts). */
  returnUndelivered(items: readonly Undelivered[]): void {
    const ended = this.ended;
    if (!ended || items.length === 0) return;
    reroute(items, { id: ended.id, jid: ended.jid, priority: ended.presence.available ? ended.presence.priority : -129 }, { router: this.deps.router, sessions: this.deps.sessions, log: this.log });
  }

  /**
   * Takes the session out of routing the moment the stream starts closing, so nothing is routed
   * to a connection that is going away, and tells modules it ended (unavailable presence...).
   */
  private detach(): void {
    clearTimeout(this.authTimer);
    this.authTimer = undefined;
    const session = this.session;
    if (!session) return;
    this.session = undefined;
    this.endSession(session);
  }

  /** Out of routing, modules told, and what the output stages held routed again (undelivered.ts). */
  private endSession(session: ClientSession): void {
    this.ended = session;
    session.detached = true;
    this.deps.sessions.remove(session);
    void this.deps.hooks.emit('session:closed', session);
    this.endedKeptOutput = session.output.acknowledged;
    this.returnUndelivered(session.output.release());
  }

  /** close() of a session bound to this stream: a kept session ends for real; otherwise the stream closes. */
  closeSession(session: ClientSession, error: StreamError | undefined): void {
    if (this.hibernated !== session) return this.closeWith(error);
    this.hibernated = undefined;
    this.debug('kept session closed', { condition: error?.condition });
    this.endSession(session);
  }

  /**
   * The session is being resumed on another stream: this one lets go of it (closing its connection with
   * `conflict` if it was still open) and finishes the work it had accepted, so the count of handled stanzas
   * the new stream reports is final.
   */
  async letGo(session: ClientSession): Promise<void> {
    if (this.hibernated === session) this.hibernated = undefined;
    if (this.session === session && this.phase !== 'closed') {
      this.session = undefined;
      this.phase = 'closed';
      clearTimeout(this.authTimer);
      this.authTimer = undefined;
      session.unplug();
      this.transport.closeStream(new StreamError('conflict', 'the session was resumed on another connection'));
    }
    await this.queue;
  }

  /** A stanza reached a session kept without a connection: listeners learn of it ('session:stanza-held'). */
  heldWhileAway(session: ClientSession, stanza: Outbound): void {
    if (this.deps.hooks.has('session:stanza-held')) void this.deps.hooks.emit('session:stanza-held', session, stanza);
  }

  /** Binds a session another node handed over, on a stream of its own that keeps it as after a dropped connection. */
  private adopt(state: SessionState, prepare: (session: StreamSession) => void): { session: StreamSession; registered: Promise<void> } {
    const session = new C2sStream(this.transport, this.deps).keepAdopted(state);
    const replaced = this.deps.sessions.add(session);
    if (replaced) replaced.close(new StreamError('conflict', 'replaced by a session resumed from another node'));
    prepare(session);
    for (const stanza of state.held) session.sendText(stanza);
    this.debug('session taken over from another node', { jid: state.jid, session: state.sid });
    void this.deps.hooks.emit('session:hibernating', session);
    const registered = (async () => {
      await this.deps.hooks.emit('session:binding', session);
      await this.deps.hooks.emit('session:bound', session);
    })();
    return { session, registered };
  }

  /** This stream only keeps `state`'s session, as if its connection had dropped. */
  private keepAdopted(state: SessionState): ClientSession {
    clearTimeout(this.authTimer);
    this.authTimer = undefined;
    this.phase = 'closed';
    const jid = Jid.parse(state.jid);
    this.username = jid.local;
    const session = new ClientSession(this, this.transport, jid, state.sid);
    session.unplug();
    session.handledCount = state.handled;
    session.presence.available = state.presence.available;
    session.presence.priority = state.presence.priority;
    if (state.presence.stanza !== undefined) {
      try {
        session.presence.stanza = parseElement(state.presence.stanza);
      } catch {
        this.log.warn({ jid: state.jid }, 'handed-over presence is not XML; the session keeps none');
      }
    }
    for (const flag of state.flags) session.flags.add(flag);
    this.deps.streamElements.handOver.adoptAll(session, state.modules, (module, err) =>
      this.log.warn({ err, module, jid: state.jid }, 'a module could not take back its state of a session handed over from another node'),
    );
    this.hibernated = session;
    return session;
  }

  /** A session handed over to node `to` leaves the registry without 'session:closed': it lives on there. */
  forgetMoved(session: ClientSession, to: string): void {
    if (this.deps.sessions.remove(session)) void this.deps.hooks.emit('session:handed-over', session, to);
  }

  /** What modules keep of a session being handed over (src/sessions/handover-parts.ts). */
  exportModuleState(session: ClientSession): Record<string, unknown> {
    return this.deps.streamElements.handOver.exportAll(session, (module, err) =>
      this.log.warn({ err, module, jid: session.jid.toString() }, 'a module could not give its state of a session handed over; it stays behind'),
    );
  }

  /** A resumption took the session from this stream and then failed (its new stream died): it is kept again. */
  keepAgain(session: ClientSession): void {
    if (session.detached) return;
    this.hibernated = session;
    session.unplug();
    void this.deps.hooks.emit('session:hibernating', session);
  }

  // ---- closing ----

  /** Closes the stream with an error (RFC 6120 §4.9): the header first if none was sent yet. */
  fail(error: StreamError): void {
    if (this.phase === 'closed') return;
    if (!this.headerSent) this.sendHeader(undefined);
    this.debug('closing stream with error', { condition: error.condition, text: error.text });
    this.phase = 'closed';
    this.detach();
    this.transport.closeStream(error);
  }

  /** Closes cleanly (RFC 6120 §4.4). */
  end(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.detach();
    this.transport.closeStream();
  }

  // ---- stream header and features ----

  private checkHeader(attrs: Record<string, string>, name: string): StreamError | undefined {
    if (this.transport.kind === 'tcp') {
      const error = checkStreamNamespaces(name, attrs, NS.client);
      if (error) return error;
    } else if (this.transport.kind === 'websocket' && (name !== 'open' || attrs.xmlns !== NS.framing)) {
      // BOSH has no header element: its transport checked the <body/> that stands for one (XEP-0206 §3).
      return new StreamError('invalid-namespace', `the stream must open with <open xmlns='${NS.framing}'/>`);
    }
    const version = attrs.version;
    if (version === undefined || !/^1\.\d+$/.test(version)) return new StreamError('unsupported-version', 'version 1.0 is required');
    const to = attrs.to;
    if (to !== undefined && Jid.tryParse(to)?.toString() !== this.deps.config.domain) return new StreamError('host-unknown', `this server serves ${this.deps.config.domain}`);
    return undefined;
  }

  private sendHeader(clientFrom: string | undefined): void {
    // RFC 6120 §4.3.3: a restarted stream gets a new ID; the first one also names the stream in logs.
    const id = this.headerSent ? randomBytes(12).toString('base64url') : this.id;
    this.headerSent = true;
    const attrs: Record<string, string> = { from: this.deps.config.domain, id, version: '1.0', 'xml:lang': 'en' };
    const from = Jid.tryParse(clientFrom);
    if (from && !from.isDomain) attrs.to = from.toString();
    this.transport.openStream(attrs);
  }

  private authAllowed(): boolean {
    return this.transport.secure || !this.deps.config.c2s.requireTls;
  }

  private features(): Element {
    const features = xml('stream:features');
    if (this.phase === 'unauthenticated') {
      if (this.transport.canStartTls) features.cnode(xml('starttls', { xmlns: NS.tls }, this.deps.config.c2s.requireTls ? xml('required') : undefined));
      if (this.authAllowed()) {
        const mechanisms = xml('mechanisms', { xmlns: NS.sasl });
        const offer = this.saslOffer();
        for (const m of offer.mechanisms) mechanisms.cnode(xml('mechanism', null, m.name));
        features.cnode(mechanisms);
        const bindings = offer.context.channelBinding?.types;
        // XEP-0440 §2: the channel-binding types the -PLUS mechanisms accept on this connection.
        if (bindings) features.cnode(xml('sasl-channel-binding', { xmlns: NS.saslChannelBinding }, ...bindings.map((type) => xml('channel-binding', { type }))));
        if (this.deps.config.c2s.sasl2) features.cnode(this.sasl2Login().feature());
      }
      return features;
    }
    features.cnode(xml('bind', { xmlns: NS.bind }));
    features.cnode(xml('session', { xmlns: NS.session }, xml('optional')));
    return features;
  }

  private async streamFeatures(): Promise<Element> {
    const features = this.features();
    const extra = await this.deps.hooks.fold('stream:features', [], {
      authenticated: this.phase !== 'unauthenticated',
      transport: this.transport.kind,
      secure: this.transport.secure,
    });
    for (const f of extra) features.cnode(f);
    return features;
  }

  // ---- element handling by phase ----

  private async handle(element: Element): Promise<void> {
    if (this.phase === 'closed') return;
    if (this.awaitingHeader) return this.fail(new StreamError('not-well-formed', 'expected a new stream header'));
    if (this.phase === 'unauthenticated') return this.handleUnauthenticated(element);
    if (this.phase === 'authenticated') return this.handleUnbound(element);
    return this.handleBound(element);
  }

  private async handleUnauthenticated(element: Element): Promise<void> {
    const ns = element.attrs.xmlns;
    if (element.name === 'starttls' && ns === NS.tls) return this.startTls();
    if (ns === NS.sasl) {
      if (element.name === 'auth') return this.saslAuth(element);
      if (element.name === 'response') return this.saslResponse(element);
      if (element.name === 'abort') return this.saslFailure(new SaslError('aborted'));
    }
    if (ns === NS.sasl2 && this.deps.config.c2s.sasl2) {
      if (!this.authAllowed()) return this.sasl2Login().refuse(new SaslError('encryption-required', 'negotiate TLS first'));
      return this.sasl2Login().handle(element);
    }
    if (element.name === 'iq' && (ns === undefined || ns === NS.client)) {
      let reply: Element | undefined;
      try {
        reply = await this.deps.hooks.fire('c2s:preauth-iq', element, { remoteAddress: this.transport.remoteAddress, secure: this.transport.secure, transport: this.transport.kind });
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        reply = bounce(element, new StanzaError('internal-server-error', 'storage is temporarily unavailable; try again later', 'wait'));
      }
      if (reply) return this.transport.send(reply);
    }
    this.fail(new StreamError('not-authorized', 'authenticate first'));
  }

  private startTls(): void {
    if (!this.transport.canStartTls) {
      this.transport.send(xml('failure', { xmlns: NS.tls }));
      return this.fail(new StreamError('policy-violation', 'STARTTLS is not available on this connection'));
    }
    this.transport.send(xml('proceed', { xmlns: NS.tls }));
    this.awaitingHeader = true;
    this.transport.startTls();
  }

  private async saslAuth(element: Element): Promise<void> {
    if (!this.authAllowed()) return this.saslFailure(new SaslError('encryption-required', 'negotiate TLS first'));
    const name = element.attrs.mechanism ?? '';
    const offer = this.saslOffer();
    const factory = offer.mechanisms.find((m) => m.name === name);
    if (!factory) {
      // RFC 6120 §6.5.4: a -PLUS mechanism needs a TLS channel to bind to.
      const needsTls = !this.transport.secure && this.deps.mechanisms.some((m) => m.name === name && m.needsChannelBinding);
      return this.saslFailure(needsTls ? new SaslError('encryption-required', `${name} needs TLS (channel binding)`) : new SaslError('invalid-mechanism', `mechanism "${name}" is not offered`));
    }
    const text = element.getText().trim();
    let initial: Buffer | null = null;
    if (text === '=') initial = Buffer.alloc(0);
    else if (text !== '') {
      const decoded = decodeBase64(text);
      if (!decoded) return this.saslFailure(new SaslError('incorrect-encoding'));
      initial = decoded;
    }
    this.loginTicket = undefined;
    // The throttle decides once the mechanism knows the username, before any credential is read.
    const gate = {
      admit: async (account: string | undefined): Promise<void> => {
        this.loginTicket = await this.deps.throttle.admit(this.transport.remoteAddress, account);
      },
    };
    this.sasl = factory.create(this.deps.credentials, gate, offer.context);
    await this.saslRun(() => (this.sasl as SaslMechanism).start(initial));
  }

  /**
   * The SASL mechanisms offered on this connection (-PLUS only where it gives channel-binding data) and
   * what a mechanism learns of it: the channel binding, and the offer itself for XEP-0474.
   */
  private saslOffer(): { mechanisms: MechanismFactory[]; context: MechanismContext } {
    const channelBinding = this.transport.channelBinding?.();
    const mechanisms = offeredMechanisms(this.deps.mechanisms, channelBinding !== undefined);
    const offered = { mechanisms: mechanisms.map((m) => m.name), channelBindings: channelBinding?.types ?? [] };
    return { mechanisms, context: channelBinding ? { channelBinding, offered, bindingTypeRefused: this.bindingTypeRefused } : { offered } };
  }

  private async saslResponse(element: Element): Promise<void> {
    const mechanism = this.sasl;
    if (!mechanism) return this.saslFailure(new SaslError('malformed-request', 'no authentication in progress'));
    const decoded = decodeBase64(element.getText().trim());
    if (!decoded) return this.saslFailure(new SaslError('incorrect-encoding'));
    await this.saslRun(() => mechanism.step(decoded));
  }

  private async saslRun(run: () => Promise<SaslStep>): Promise<void> {
    let step: SaslStep;
    try {
      step = await run();
    } catch (err) {
      if (err instanceof SaslError) return this.saslFailure(err);
      throw err;
    }
    if (this.phase === 'closed') return;
    if (step.kind === 'challenge') {
      this.transport.send(xml('challenge', { xmlns: NS.sasl }, step.data.toString('base64')));
      return;
    }
    const expected = `${step.username}@${this.deps.config.domain}`;
    if (step.authzid && Jid.tryParse(step.authzid)?.toString() !== expected) return this.saslFailure(new SaslError('invalid-authzid'));
    this.deps.logins.succeeded('sasl', this.sasl?.name);
    this.sasl = undefined;
    // The SASL2 offer in the features made one; it serves only the unauthenticated phase (~2 KiB per session).
    this.sasl2State = undefined;
    this.username = step.username;
    this.loginTicket?.succeeded();
    this.loginTicket = undefined;
    this.transport.send(xml('success', { xmlns: NS.sasl }, step.data && step.data.length > 0 ? step.data.toString('base64') : undefined));
    this.phase = 'authenticated';
    this.awaitingHeader = true;
    this.transport.setLimits({ maxStanzaBytes: this.deps.config.c2s.maxStanzaSize });
    this.transport.restartStream();
    this.debug('authenticated', { user: step.username });
  }

  private saslFailure(error: SaslError): void {
    if (error instanceof ChannelBindingTypeError) this.bindingTypeRefused = true;
    this.deps.logins.failed('sasl', this.sasl?.name, error.condition);
    this.sasl = undefined;
    // An admitted attempt already counts as a failure until it succeeds (auth/throttle.ts).
    this.loginTicket = undefined;
    // The stream may have ended while the mechanism worked (a stream error meanwhile): nothing more is written.
    if (this.phase === 'closed') return;
    this.transport.send(error.toElement());
    if (error.condition !== 'aborted' && ++this.saslFailures >= MAX_SASL_ATTEMPTS) this.fail(new StreamError('policy-violation', 'too many failed authentication attempts'));
  }

  // ---- SASL2 (XEP-0388) with Bind2 (XEP-0386): sasl2.ts runs the exchange through these ----

  private sasl2State: Sasl2Login | undefined;

  private sasl2Login(): Sasl2Login {
    if (this.sasl2State) return this.sasl2State;
    const phase = (): Phase => this.phase;
    const host: Sasl2Host = {
      deps: this.deps,
      transport: this.transport,
      get phase() {
        return phase();
      },
      admit: async (account) => {
        this.loginTicket = await this.deps.throttle.admit(this.transport.remoteAddress, account);
      },
      failed: (condition) => {
        this.loginTicket = undefined;
        if (condition !== 'aborted' && ++this.saslFailures >= MAX_SASL_ATTEMPTS) this.fail(new StreamError('policy-violation', 'too many failed authentication attempts'));
      },
      authenticated: (username) => {
        this.username = username;
        this.loginTicket?.succeeded();
        this.loginTicket = undefined;
        this.phase = 'authenticated';
        // The exchange under way holds its own reference; the stream needs none past this phase.
        this.sasl2State = undefined;
        this.transport.setLimits({ maxStanzaBytes: this.deps.config.c2s.maxStanzaSize });
        this.debug('authenticated with SASL2', { user: username });
      },
      capture: (into) => this.capturing(into),
      account: () => this.account(),
      bind: async (resource) => {
        const jid = Jid.of(this.username ?? '', this.deps.config.domain, resource);
        const session = await this.bindSession(jid);
        return session?.jid.toString();
      },
      bound: async () => {
        const session = this.session;
        if (session) await this.deps.hooks.emit('session:bound', session);
      },
      cork: () => this.corkOutput(),
      features: async () => {
        if (this.phase === 'authenticated') this.transport.send(await this.streamFeatures());
      },
    };
    this.sasl2State = new Sasl2Login(host);
    return this.sasl2State;
  }

  /** The stream as handlers see it, except that what they send is collected (inside SASL2's <success/> or <bound/>). */
  private capturing(into: Element[]): ClientStream {
    const control = this.streamControl();
    return {
      id: control.id,
      transport: control.transport,
      node: control.node,
      get username() {
        return control.username;
      },
      get session() {
        return control.session;
      },
      send: (element) => {
        into.push(element);
      },
      fail: control.fail,
      resume: control.resume,
      adopt: control.adopt,
    };
  }

  /** While SASL2 builds <success/>, what a resumed session writes waits behind it; the returned function releases it. */
  private corkOutput(): () => void {
    const real = this.transport;
    const held: Outbound[] = [];
    let corked = true;
    const corkedTransport: StreamTransport = Object.create(real, {
      send: { value: (element: Element) => (corked ? held.push(element) : real.send(element)) },
      sendText: { value: (text: string) => (corked ? held.push(text) : real.sendText(text)) },
    }) as StreamTransport;
    this.plugTransport = corkedTransport;
    return () => {
      corked = false;
      this.plugTransport = undefined;
      if (this.session?.connected) this.session.plug(this, real);
      for (const item of held) {
        if (typeof item === 'string') real.sendText(item);
        else real.send(item);
      }
    };
  }

  /** The connection a session resumed on this stream writes to (corked during SASL2). */
  private plugTransport: StreamTransport | undefined;

  /** Binds `jid` on this stream; undefined when the stream lost it meanwhile. The bind result is the caller's. */
  private async bindSession(jid: Jid): Promise<ClientSession | undefined> {
    const session = new ClientSession(this, this.transport, jid, this.id);
    const replaced = this.deps.sessions.add(session);
    if (replaced) {
      this.log.info({ jid: jid.toString() }, 'resource conflict: replacing the older session');
      replaced.close(new StreamError('conflict', 'replaced by a new connection with the same resource'));
    }
    this.session = session;
    this.phase = 'bound';
    clearTimeout(this.authTimer);
    this.authTimer = undefined;
    this.onBound?.();
    await this.deps.hooks.emit('session:binding', session);
    return this.session === session ? session : undefined;
  }

  private async handleUnbound(element: Element): Promise<void> {
    if (!isStanza(element) && (await this.streamElement(element))) return;
    const bind = element.name === 'iq' && element.attrs.type === 'set' ? element.getChild('bind', NS.bind) : undefined;
    if (!bind) return this.fail(new StreamError('not-authorized', 'bind a resource first'));
    const requested = bind.getChildText('resource')?.trim();
    let jid: Jid;
    try {
      jid = Jid.of(this.username ?? '', this.deps.config.domain, requested || randomBytes(9).toString('base64url'));
    } catch {
      this.transport.send(bounce(element, new StanzaError('bad-request', 'invalid resource')));
      return;
    }
    // The result goes out once the session is registered (in a cluster: in the shared directory, with the session
    // it displaced on another node told to close), so a client that holds its JID is the one routed to.
    const session = await this.bindSession(jid);
    if (!session) return;
    this.transport.send(xml('iq', { type: 'result', id: element.attrs.id }, xml('bind', { xmlns: NS.bind }, xml('jid', null, jid.toString()))));
    await this.deps.hooks.emit('session:bound', session);
  }

  /** Undefined when the element was handled to the end at once; else a promise of the rest. */
  private handleBound(element: Element): Promise<void> | undefined {
    const session = this.session;
    if (!session) return undefined;
    if (!isStanza(element)) return this.handleBoundElement(element);
    this.deps.traffic.in(element.name);
    const handling = this.handleStanza(session, element);
    if (handling !== undefined) return handling.then(() => session.countHandled());
    session.countHandled();
    return undefined;
  }

  /** A top-level element that is not a stanza, once bound: its namespace's handler, else the stream ends. */
  private async handleBoundElement(element: Element): Promise<void> {
    if (await this.streamElement(element)) return;
    this.fail(new StreamError('unsupported-stanza-type', `<${element.name}/> is not a stanza`));
  }

  private handleStanza(session: ClientSession, element: Element): Promise<void> | undefined {
    const to = element.attrs.to;
    // RFC 3921 §3 addresses the session request to the server; Tsung and others leave 'to' out.
    if (element.name === 'iq' && element.attrs.type === 'set' && (to === undefined || Jid.tryParse(to)?.toString() === this.deps.config.domain)) {
      // Answers to stanzas go through the session's output like any stanza (stream management counts them).
      if (element.getChild('session', NS.session)) {
        session.send(xml('iq', { type: 'result', id: element.attrs.id, from: to }));
        return undefined;
      }
      if (element.getChild('bind', NS.bind)) {
        session.send(bounce(element, new StanzaError('not-allowed', 'a resource is already bound')));
        return undefined;
      }
    }
    const from = element.attrs.from;
    if (from !== undefined) {
      const claimed = Jid.tryParse(from);
      if (!claimed || !(claimed.equals(session.jid) || claimed.equals(session.jid.bare()))) {
        this.fail(new StreamError('invalid-from', `'from' must be ${session.jid.toString()}`));
        return undefined;
      }
    }
    return this.deps.router.fromClient(session, element);
  }

  // Called by the session object for afterwards-initiated closes.
  closeWith(error: StreamError | undefined): void {
    if (error) this.fail(error);
    else this.end();
  }

  // ---- stream-level elements (stream-elements.ts) ----

  /** Hands a non-stanza element to the handler of its namespace; false when there is none. */
  private async streamElement(element: Element): Promise<boolean> {
    const handler = this.deps.streamElements.lookup(element.attrs.xmlns);
    if (!handler) return false;
    await handler(element, this.streamControl());
    return true;
  }

  private streamControl(): ClientStream {
    if (this.control) return this.control;
    const username = (): string => this.account();
    const session = (): StreamSession | undefined => this.session;
    this.control = {
      id: this.id,
      transport: this.transport.kind,
      node: this.deps.config.nodeId,
      get username() {
        return username();
      },
      get session() {
        return session();
      },
      send: (element) => {
        if (this.phase !== 'closed') this.transport.send(element);
      },
      fail: (error) => this.fail(error),
      resume: (session, attached) => this.resume(session, attached),
      adopt: (state, prepare) => this.adopt(state, prepare),
    };
    return this.control;
  }

  /** The authenticated account's local part as JIDs carry it (SASL gives the name as the client typed it). */
  private account(): string {
    try {
      return Jid.normaliseLocal(this.username ?? '');
    } catch {
      return this.username ?? '';
    }
  }

  private async resume(session: BoundSession, attached: (session: StreamSession) => void): Promise<boolean> {
    if (this.phase !== 'authenticated' || !(session instanceof ClientSession) || session.detached) return false;
    if (session.jid.local !== this.account()) return false;
    await session.stream.letGo(session);
    if (this.phase !== 'authenticated' || session.detached) {
      session.stream.keepAgain(session);
      return false;
    }
    session.plug(this, this.plugTransport ?? this.transport);
    this.session = session;
    this.phase = 'bound';
    clearTimeout(this.authTimer);
    this.authTimer = undefined;
    this.onBound?.();
    this.debug('session resumed', { jid: session.jid.toString(), session: session.id });
    attached(session);
    await this.deps.hooks.emit('session:resumed', session);
    return true;
  }

}

/** RFC 6120 §8: message, presence and iq in the content namespace; anything else at the top level is not a stanza. */
function isStanza(element: Element): boolean {
  const name = element.name;
  if (name !== 'message' && name !== 'presence' && name !== 'iq') return false;
  const xmlns = element.attrs.xmlns;
  return xmlns === undefined || xmlns === NS.client;
}

/** SASL data (RFC 6120 §6.4.2): '=' is an empty response; otherwise strict base64 only. */
function decodeBase64(text: string): Buffer | undefined {
  return text === '=' ? Buffer.alloc(0) : decodeBase64Strict(text);
}

/** A bound resource: what the router and modules see of a client stream. It may move to another stream (resumption). */
class ClientSession implements StreamSession {
  readonly startedAt = Date.now();
  readonly presence: SessionPresence = { available: false, priority: 0 };
  readonly flags = new Set<string>();
  readonly output: OutputPipeline;
  lastActivity = Date.now();
  keepOnDrop = false;
  handledCount = 0;
  /** Out of the registry: whatever still reaches it (a delivery that was under way) is routed again. */
  detached = false;
  /** Handed over to another node (handOver): everything given to the session goes there. */
  private forwarding: ((stanza: Outbound) => void) | undefined;
  private forwardingTimer: NodeJS.Timeout | undefined;
  /** The node the session was handed over to (handOver). */
  private movedTo = '';
  /** The connection stanzas are written to; none while the session is kept for resumption. */
  private edge: StreamTransport | undefined;
  private kind: TransportKind;
  private address: string;

  constructor(public stream: C2sStream, edge: StreamTransport, readonly jid: Jid, readonly id: string) {
    this.edge = edge;
    this.kind = edge.kind;
    this.address = edge.remoteAddress;
    this.output = new OutputPipeline((stanza) => this.write(stanza));
  }

  get transport(): TransportKind {
    return this.kind;
  }

  get remoteAddress(): string {
    return this.address;
  }

  get connected(): boolean {
    return this.edge !== undefined;
  }

  /** Moves the session onto a new stream and connection (resumption). */
  plug(stream: C2sStream, edge: StreamTransport): void {
    this.stream = stream;
    this.edge = edge;
    this.kind = edge.kind;
    this.address = edge.remoteAddress;
    this.lastActivity = Date.now();
  }

  /** Leaves the connection: stanzas go through the output stages, which keep what they need, and no further. */
  unplug(): void {
    this.edge = undefined;
  }

  countHandled(): void {
    this.handledCount = (this.handledCount + 1) >>> 0;
  }

  send(stanza: Element): void {
    if (this.forwarding) return this.forwarding(stanza);
    if (this.detached) return this.stream.returnUndelivered([stanza]);
    if (this.edge === undefined) this.stream.heldWhileAway(this, stanza);
    this.stream.traffic.out(stanza.name);
    this.output.send(stanza);
  }

  sendText(stanza: string): void {
    if (this.forwarding) return this.forwarding(stanza);
    if (this.detached) return this.stream.returnUndelivered([stanza]);
    if (this.edge === undefined) this.stream.heldWhileAway(this, stanza);
    this.stream.traffic.outText(stanza);
    this.output.send(stanza);
  }

  sendStreamElement(element: Element): void {
    this.edge?.send(element);
  }

  close(error?: StreamError): void {
    if (this.forwarding) {
      clearTimeout(this.forwardingTimer);
      return this.stream.forgetMoved(this, this.movedTo);
    }
    this.stream.closeSession(this, error);
  }

  async handOver<T>(to: string, forward: (stanza: Outbound) => void, exportStages: () => T | undefined): Promise<{ state: SessionState; exported: T } | undefined> {
    if (this.detached || this.forwarding) return undefined;
    const stream = this.stream;
    await stream.letGo(this);
    // Ended, or resumed on another stream here, while the old stream let go.
    if (this.detached || this.forwarding || this.stream !== stream || this.connected) return undefined;
    const exported = exportStages();
    if (exported === undefined) {
      stream.keepAgain(this);
      return undefined;
    }
    const held = this.output.release().map((stanza) => (typeof stanza === 'string' ? stanza : stanza.toString()));
    this.forwarding = forward;
    this.movedTo = to;
    this.detached = true;
    // The new node's directory registration ends this (a `close` order); should it never come, forwarding still ends.
    this.forwardingTimer = setTimeout(() => this.close(), HANDED_OVER_FORWARD_MS);
    this.forwardingTimer.unref();
    const { available, priority, stanza } = this.presence;
    const state: SessionState = {
      jid: this.jid.toString(),
      sid: this.id,
      handled: this.handledCount,
      presence: { available, priority, ...(stanza ? { stanza: stanza.toString() } : {}) },
      flags: [...this.flags],
      held,
      modules: stream.exportModuleState(this),
    };
    return { state, exported };
  }

  private write(stanza: Outbound): void {
    const edge = this.edge;
    if (!edge) return;
    if (typeof stanza === 'string') edge.sendText(stanza);
    else edge.send(stanza);
  }
}
