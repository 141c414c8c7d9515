// XEP-0388 Extensible SASL Profile (SASL2) 1.0 with XEP-0386 Bind2 0.4 on client streams: the
// <authentication/> feature (§2.1) with the server's mechanisms and the <inline/> features modules add,
// <authenticate/> with <initial-response/> and <user-agent/> (§2.3), <challenge/>/<response/> (§2.4), <abort/>,
// <success/> with <additional-data/> and <authorization-identifier/> and no stream restart (§2.6.1), <failure/>
// with the RFC 6120 §6.5 conditions (§2.6.2). No <continue/> tasks (§2.6.3). Bind2 (XEP-0386 §2-3): <bind/>
// inline with <tag/>, the resource made from the tag and the user-agent id, <bound/> with what the inline
// features (registered by modules: ctx.onBind2Inline) answered. Modules add SASL2 extensions (ctx.onSasl2Inline):
// XEP-0484 FAST tokens, XEP-0198 §5 resumption.
import { createHash, randomBytes } from 'node:crypto';
import type { LoginThrottle } from '../auth/throttle.js';
import { SaslError, StreamError } from '../errors.js';
import { Jid } from '../jid.js';
import type { LoginProtocol, LoginRecorder } from '../observability/login-metrics.js';
import { xml, type Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { decodeBase64Strict } from './sasl/base64.js';
import type { CredentialSource, MechanismContext, MechanismFactory } from './sasl/types.js';
import { offeredMechanisms } from './sasl/index.js';
import type { ClientStream, Sasl2Mechanism, Sasl2Request, Sasl2Step, StreamElementRegistry } from './stream-elements.js';
import type { StreamTransport } from './transport.js';

/** What the stream gives SASL2 (c2s-stream.ts). */
export interface Sasl2Host {
  readonly deps: {
    readonly config: { readonly domain: string };
    readonly credentials: CredentialSource;
    readonly throttle: LoginThrottle;
    readonly mechanisms: readonly MechanismFactory[];
    readonly streamElements: StreamElementRegistry;
    readonly logins: LoginRecorder;
  };
  readonly transport: StreamTransport;
  readonly phase: string;
  /** The login throttle's admission for this attempt (auth/throttle.ts). */
  admit(account: string | undefined): Promise<void>;
  /** A failure was sent: counts towards the stream's limit of attempts. */
  failed(condition: string): void;
  authenticated(username: string): void;
  /** The stream whose sends are collected into `into`. */
  capture(into: Element[]): ClientStream;
  /** The authenticated account's local part. */
  account(): string;
  /** Binds the resource; the full JID, or undefined when the stream lost the session meanwhile. Throws on a bad resource. */
  bind(resource: string): Promise<string | undefined>;
  /** 'session:bound', once <success/> is out. */
  bound(): Promise<void>;
  /** Holds what a resumed session writes until <success/> is out. */
  cork(): () => void;
  /** The post-authentication stream features, sent after <success/> when nothing was bound (no restart). */
  features(): Promise<void>;
}

/** Longest Bind2 tag kept in a resource (XEP-0386 §2.2 leaves the length to the server). */
const MAX_TAG_CHARS = 64;

export class Sasl2Login {
  /** `protocol`: 'fast' for a mechanism a module offers (XEP-0484 tokens), for the metrics. */
  private exchange: { request: Sasl2Request; mechanism: Sasl2Mechanism; protocol: LoginProtocol } | undefined;

  constructor(private readonly host: Sasl2Host) {}

  /** -PLUS only where the connection gives channel-binding data; the offer goes to SCRAM for XEP-0474 (H14). */
  private offer(): { mechanisms: MechanismFactory[]; context: MechanismContext } {
    const channelBinding = this.host.transport.channelBinding?.();
    const mechanisms = offeredMechanisms(this.host.deps.mechanisms, channelBinding !== undefined);
    const offered = { mechanisms: mechanisms.map((m) => m.name), channelBindings: channelBinding?.types ?? [] };
    return { mechanisms, context: channelBinding ? { channelBinding, offered } : { offered } };
  }

  /** <authentication/> (§2.1): every mechanism of legacy SASL, and the modules' inline features with Bind2's. */
  feature(): Element {
    const { deps, transport } = this.host;
    const authentication = xml('authentication', { xmlns: NS.sasl2 });
    for (const m of this.offer().mechanisms) authentication.cnode(xml('mechanism', null, m.name));
    const inline = xml('inline');
    const bind = xml('bind', { xmlns: NS.bind2 });
    const features = deps.streamElements.login.bind2Namespaces();
    if (features.length > 0) bind.cnode(xml('inline', null, ...features.map((ns) => xml('feature', { var: ns }))));
    inline.cnode(bind);
    for (const [, extension] of deps.streamElements.login.sasl2Extensions()) {
      const element = extension.feature?.({ secure: transport.secure, transport: transport.kind });
      if (element) inline.cnode(element);
    }
    authentication.cnode(inline);
    return authentication;
  }

  async handle(element: Element): Promise<void> {
    if (this.host.phase !== 'unauthenticated') return;
    switch (element.name) {
      case 'authenticate':
        return this.authenticate(element);
      case 'response':
        return this.response(element);
      case 'abort':
        return this.failure(new SaslError('aborted'));
      default:
        return this.failure(new SaslError('malformed-request', `<${element.name}/> is not a SASL2 element`));
    }
  }

  private async authenticate(element: Element): Promise<void> {
    if (this.exchange) return this.failure(new SaslError('malformed-request', 'an authentication is already in progress'));
    const { deps, transport } = this.host;
    const name = element.attrs.mechanism ?? '';
    const agent = element.getChild('user-agent');
    const request: Sasl2Request = {
      authenticate: element,
      mechanism: name,
      userAgent: {
        ...(agent?.attrs.id ? { id: agent.attrs.id } : {}),
        ...(agent?.getChildText('software') ? { software: agent.getChildText('software') ?? '' } : {}),
        ...(agent?.getChildText('device') ? { device: agent.getChildText('device') ?? '' } : {}),
      },
      transport: transport.kind,
      secure: transport.secure,
    };
    const gate = { admit: (account: string | undefined) => this.host.admit(account) };
    const offer = this.offer();
    let mechanism: Sasl2Mechanism | undefined = offer.mechanisms.find((m) => m.name === name)?.create(deps.credentials, gate, offer.context);
    const protocol: LoginProtocol = mechanism ? 'sasl2' : 'fast';
    for (const [, extension] of deps.streamElements.login.sasl2Extensions()) {
      mechanism ??= extension.mechanism?.(name, request, gate);
    }
    if (!mechanism) return this.failure(new SaslError('invalid-mechanism', `mechanism "${name}" is not offered`));
    const text = element.getChildText('initial-response');
    let initial: Buffer | null = null;
    if (text !== null && text !== undefined) {
      const decoded = decodeSasl2(text.trim());
      if (!decoded) return this.failure(new SaslError('incorrect-encoding'));
      initial = decoded;
    }
    this.exchange = { request, mechanism, protocol };
    const started = mechanism;
    await this.run(() => started.start(initial));
  }

  private async response(element: Element): Promise<void> {
    const exchange = this.exchange;
    if (!exchange) return this.failure(new SaslError('malformed-request', 'no authentication in progress'));
    const decoded = decodeSasl2(element.getText().trim());
    if (!decoded) return this.failure(new SaslError('incorrect-encoding'));
    await this.run(() => exchange.mechanism.step(decoded));
  }

  private async run(run: () => Promise<Sasl2Step>): Promise<void> {
    let step: Sasl2Step;
    try {
      step = await run();
    } catch (err) {
      if (err instanceof SaslError) return this.failure(err);
      throw err;
    }
    if (this.host.phase === 'closed') return;
    if (step.kind === 'challenge') {
      this.host.transport.send(xml('challenge', { xmlns: NS.sasl2 }, step.data.toString('base64')));
      return;
    }
    const expected = `${step.username}@${this.host.deps.config.domain}`;
    if (step.authzid && Jid.tryParse(step.authzid)?.toString() !== expected) return this.failure(new SaslError('invalid-authzid'));
    const exchange = this.exchange;
    this.exchange = undefined;
    if (!exchange) return;
    this.host.deps.logins.succeeded(exchange.protocol, exchange.request.mechanism);
    await this.succeed(exchange.request, step);
  }

  private async succeed(request: Sasl2Request, step: Extract<Sasl2Step, { kind: 'success' }>): Promise<void> {
    const { host } = this;
    host.authenticated(step.username);
    const extra: Element[] = [];
    const release = host.cork();
    try {
      // The modules' answers (a FAST token, an XEP-0198 resumption) before the bind: a resumed session binds nothing.
      for (const [, extension] of host.deps.streamElements.login.sasl2Extensions()) {
        if (extension.success) await extension.success(request, host.capture(extra));
        if (host.phase === 'closed') return;
      }
      let jid: string | undefined;
      const bind = host.phase === 'authenticated' ? request.authenticate.getChild('bind', NS.bind2) : undefined;
      if (bind) {
        const bound = await this.bind(bind, request);
        if (host.phase === 'closed') return;
        if (bound) {
          jid = bound.jid;
          extra.push(bound.element);
        }
      }
      const resumedJid = host.phase === 'bound' && !bind ? host.capture([]).session?.jid.toString() : undefined;
      const success = xml('success', { xmlns: NS.sasl2 });
      if (step.data && step.data.length > 0) success.cnode(xml('additional-data', null, step.data.toString('base64')));
      success.cnode(xml('authorization-identifier', null, jid ?? resumedJid ?? `${host.account()}@${host.deps.config.domain}`));
      for (const element of extra) success.cnode(element);
      host.transport.send(success);
    } finally {
      release();
    }
    if (host.phase === 'bound') await host.bound();
    else await host.features();
  }

  /** XEP-0386 §2.3: the resource, then each inline feature in order; their answers go in <bound/>. */
  private async bind(bind: Element, request: Sasl2Request): Promise<{ jid: string; element: Element } | undefined> {
    const { host } = this;
    const resource = bindResource(bind.getChildText('tag'), request.userAgent.id);
    let jid: string | undefined;
    try {
      jid = await host.bind(resource);
    } catch {
      host.capture([]).fail(new StreamError('internal-server-error', 'the generated resource is not valid'));
      return undefined;
    }
    if (!jid) return undefined;
    const answers: Element[] = [];
    const stream = host.capture(answers);
    for (const child of bind.children) {
      if (typeof child === 'string' || child.name === 'tag') continue;
      const handler = host.deps.streamElements.login.bind2Handler(child.attrs.xmlns);
      // §2.3: an inline feature the server did not announce is ignored.
      if (handler) await handler(child, stream);
      if (host.phase === 'closed') return undefined;
    }
    return { jid, element: xml('bound', { xmlns: NS.bind2 }, ...answers) };
  }

  /** A <failure/> without an exchange (SASL2 before TLS where TLS is required). */
  refuse(error: SaslError): void {
    this.failure(error);
  }

  private failure(error: SaslError): void {
    this.host.deps.logins.failed(this.exchange?.protocol ?? 'sasl2', this.exchange?.request.mechanism, error.condition);
    this.exchange = undefined;
    const failure = xml('failure', { xmlns: NS.sasl2 }, xml(error.condition, { xmlns: NS.sasl }));
    if (error.text) failure.cnode(xml('text', { 'xml:lang': 'en' }, error.text));
    this.host.transport.send(failure);
    this.host.failed(error.condition);
  }
}

/**
 * XEP-0386 §2.2: the client's tag, then a part the client cannot choose: stable for one user-agent id (its
 * next login takes the place of its last session), random without one.
 */
export function bindResource(tag: string | null | undefined, userAgentId: string | undefined): string {
  const prefix = [...(tag ?? '').replace(/[\s/@]/g, '')].slice(0, MAX_TAG_CHARS).join('') || 'xmpp';
  const suffix = userAgentId ? createHash('sha256').update(userAgentId).digest('base64url').slice(0, 8) : randomBytes(6).toString('base64url');
  return `${prefix}.${suffix}`;
}

/** SASL data (XEP-0388 §2.2): base64, '=' or empty for no data. */
function decodeSasl2(text: string): Buffer | undefined {
  return text === '=' || text === '' ? Buffer.alloc(0) : decodeBase64Strict(text);
}
