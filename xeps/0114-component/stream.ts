// XEP-0114 Jabber Component Protocol §3 (version 1.6): one external component's stream, from the
// stream header through the SHA-1 handshake to stanza exchange. The connection (parser, limits, writes,
// stream errors and closing per RFC 6120 §4.4 and §4.9) is the core's TCP stream; this is what XEP-0114 adds.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { StreamError } from '../../src/errors.js';
import { Jid } from '../../src/jid.js';
import {
  Backlog, checkStreamNamespaces, type BacklogLimits, type ModuleContext, type StreamEvents, type StreamTransport, type Undelivered,
} from '../../src/modules/api.js';
import { Element, parseElement } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

type Logger = ModuleContext['log'];

/** The header's namespace declarations (§3 Example 2), for the transport. */
export const COMPONENT_HEADER_NAMESPACES = { 'xmlns:stream': NS.stream, xmlns: NS.component } as const;
const STANZA_NAMES = new Set(['message', 'presence', 'iq']);
/**
 * Default namespaces a stanza may arrive in. XEP-0114 says jabber:component:accept, but component
 * libraries (Strophe.js's component transport among them) write jabber:client on their stanzas.
 */
const STANZA_NAMESPACES = new Set<string>([NS.component, NS.client]);
/** Content namespaces that must not reach the component: its stream's default namespace applies instead. */
const CONTENT_NAMESPACES = new Set<string>([NS.component, NS.client, NS.server]);

export interface ComponentStreamDeps {
  /** Component domain → shared secret. */
  readonly secrets: ReadonlyMap<string, string>;
  readonly serverDomain: string;
  /** The stanza size cap once the handshake succeeded (before it, the transport's own). */
  readonly maxStanzaBytes: number;
  readonly handshakeTimeoutMs: number;
  /** Stanzas read but not yet routed, and their bytes, before the component counts as flooding. */
  readonly backlog: BacklogLimits;
  readonly log: Logger;
  /** Makes this stream the one serving `domain`; false when another stream already does. */
  claim(domain: string, stream: ComponentStream): boolean;
  /** The stream no longer serves its domain (it closed). */
  release(domain: string, stream: ComponentStream): void;
  /** Routes a stanza the component sent, from an address in its domain. */
  route(stanza: Element, from: Jid): Promise<void>;
  /** Stanzas for the component that its connection never wrote: routed again now that it is gone. */
  undelivered(stanzas: readonly Element[]): void;
}

type Phase = 'header' | 'handshake' | 'ready' | 'closed';

/** XEP-0114 §3: hex(SHA1(stream id + shared secret)), lowercase. */
export function handshakeDigest(streamId: string, secret: string): string {
  return createHash('sha1').update(streamId + secret, 'utf8').digest('hex');
}

export class ComponentStream implements StreamEvents {
  /** The stream id the handshake is computed over (Example 2's `id`). */
  readonly id = randomBytes(12).toString('hex');
  private phase: Phase = 'header';
  private headerSent = false;
  private disconnected = false;
  private readonly gone: Promise<void>;
  private markGone: () => void = () => undefined;
  /** The domain the header named; served once the handshake succeeds. */
  private domain: string | undefined;
  private serving = false;
  private readonly backlog: Backlog;
  private queue: Promise<void> = Promise.resolve();
  private readonly handshakeTimer: NodeJS.Timeout;
  private readonly log: Logger;

  /** `transport`: a TCP stream whose header carries COMPONENT_HEADER_NAMESPACES; attach it to this stream. */
  constructor(private readonly transport: StreamTransport, private readonly deps: ComponentStreamDeps) {
    this.log = deps.log.child({ stream: this.id, remote: transport.remoteAddress });
    this.gone = new Promise((resolve) => (this.markGone = resolve));
    this.backlog = new Backlog(deps.backlog);
    this.handshakeTimer = setTimeout(() => this.fail(new StreamError('connection-timeout', 'no handshake in time')), deps.handshakeTimeoutMs);
    this.handshakeTimer.unref();
  }

  /** The domain this stream serves, once authenticated. */
  get servedDomain(): string | undefined {
    return this.serving ? this.domain : undefined;
  }

  /** Writes a stanza routed to the component's domain, keeping its 'from' and 'to'. */
  send(stanza: Element): void {
    if (this.phase !== 'ready') return;
    this.transport.send(withoutContentNamespace(stanza));
  }

  /** Closes the stream with an error (RFC 6120 §4.9): the header first if none was sent yet. */
  fail(error: StreamError): void {
    if (this.phase === 'closed') return;
    if (!this.headerSent) this.sendHeader(this.deps.serverDomain);
    this.log.debug({ condition: error.condition, text: error.text, domain: this.domain }, 'closing component stream with error');
    this.close(error);
  }

  /** Closes cleanly (RFC 6120 §4.4). */
  end(): void {
    if (this.phase === 'closed') return;
    if (!this.headerSent) this.sendHeader(this.deps.serverDomain);
    this.close();
  }

  /** Resolves once the connection is gone, dropping it if the peer does not close within `graceMs`. */
  closed(graceMs: number): Promise<void> {
    if (this.disconnected) return Promise.resolve();
    const timer = setTimeout(() => this.transport.destroy(), graceMs);
    return this.gone.then(() => clearTimeout(timer));
  }

  // ---- §3 steps 1-2: the stream header ----

  onStreamStart(attrs: Record<string, string>, name: string): void {
    if (this.phase !== 'header') return;
    const error = this.checkHeader(name, attrs);
    if (error) return this.fail(error);
    const domain = this.domain as string;
    this.sendHeader(domain);
    this.phase = 'handshake';
    this.log.debug({ domain }, 'component stream opened');
  }

  private checkHeader(name: string, attrs: Record<string, string>): StreamError | undefined {
    const namespaces = checkStreamNamespaces(name, attrs, NS.component);
    if (namespaces) return namespaces;
    const to = attrs.to;
    let domain: string | undefined;
    try {
      domain = to === undefined ? undefined : Jid.normaliseDomain(to.trim());
    } catch {
      domain = undefined;
    }
    if (domain === undefined || !this.deps.secrets.has(domain)) {
      return new StreamError('host-unknown', to === undefined ? "the stream header needs 'to', the component's domain" : `no component ${to} is configured here`);
    }
    this.domain = domain;
    return undefined;
  }

  private sendHeader(from: string): void {
    this.headerSent = true;
    this.transport.openStream({ from, id: this.id });
  }

  // ---- §3 steps 3-4: the handshake, then stanzas ----

  /** `bytes`: the element's size as received, for limits.max_backlog_bytes. */
  onElement(element: Element, bytes = 0): void {
    if (this.phase === 'closed') return;
    if (this.phase === 'handshake') return this.handshake(element);
    if (this.phase === 'header') return this.fail(new StreamError('not-well-formed', 'expected a stream header'));
    const flooding = this.backlog.refuse(bytes);
    if (flooding) return this.fail(flooding);
    this.backlog.add(bytes);
    // RFC 6120 §10.1: stanzas from one stream are processed in the order received.
    this.queue = this.queue
      .then(() => this.handleStanza(element))
      .catch((err: unknown) => {
        this.log.error({ err }, 'unexpected error on component stream');
        this.fail(new StreamError('internal-server-error'));
      })
      .finally(() => this.backlog.done());
  }

  private handshake(element: Element): void {
    if (element.name !== 'handshake' || element.attrs.xmlns !== NS.component) {
      return this.fail(new StreamError('not-authorized', 'send <handshake/> first'));
    }
    const domain = this.domain as string;
    const secret = this.deps.secrets.get(domain) ?? '';
    const expected = Buffer.from(handshakeDigest(this.id, secret), 'utf8');
    const received = Buffer.from(element.getText().trim().toLowerCase(), 'utf8');
    if (received.length !== expected.length || !timingSafeEqual(received, expected)) {
      this.log.info({ domain }, 'component handshake failed');
      return this.fail(new StreamError('not-authorized', 'the handshake does not match the shared secret'));
    }
    if (!this.deps.claim(domain, this)) {
      this.log.info({ domain }, 'component already connected; refusing the new connection');
      return this.fail(new StreamError('conflict', `${domain} is already connected`));
    }
    this.serving = true;
    clearTimeout(this.handshakeTimer);
    this.phase = 'ready';
    this.transport.setLimits({ maxStanzaBytes: this.deps.maxStanzaBytes });
    this.transport.send(new Element('handshake'));
    this.log.info({ domain }, 'component connected');
  }

  private async handleStanza(element: Element): Promise<void> {
    if (this.phase !== 'ready') return;
    if (element.name === 'stream:error') {
      this.log.info({ error: element.toString().slice(0, 500) }, 'component sent a stream error');
      return this.end();
    }
    if (!STANZA_NAMES.has(element.name) || !STANZA_NAMESPACES.has(element.attrs.xmlns ?? '')) {
      return this.fail(new StreamError('unsupported-stanza-type', `<${element.name}/> is not a stanza`));
    }
    const domain = this.domain as string;
    const { from, to } = element.attrs;
    // Between a server and a component, as between servers (RFC 6120 §4.9.3.7), both addresses are required.
    if (from === undefined || to === undefined) {
      return this.fail(new StreamError('improper-addressing', `a stanza from a component needs '${from === undefined ? 'from' : 'to'}'`));
    }
    const sender = Jid.tryParse(from);
    if (!sender || sender.domain !== domain) {
      return this.fail(new StreamError('invalid-from', `'from' must be an address at ${domain}`));
    }
    delete element.attrs.xmlns;
    await this.deps.route(element, sender);
  }

  onStreamEnd(): void {
    this.log.debug({ domain: this.domain }, 'component closed the stream');
    this.end();
  }

  /** The parser's errors (not-well-formed, restricted-xml, a stanza over the size cap...). */
  onStreamError(error: StreamError): void {
    this.fail(error);
  }

  // ---- the connection ----

  private close(error?: StreamError): void {
    this.phase = 'closed';
    this.stopServing();
    this.transport.closeStream(error);
  }

  onDisconnect(undelivered: readonly Undelivered[] = []): void {
    if (this.phase !== 'closed') this.log.debug({ domain: this.domain }, 'component connection dropped');
    this.phase = 'closed';
    this.disconnected = true;
    this.stopServing();
    this.markGone();
    const stanzas = undelivered.map(asStanza).filter((stanza): stanza is Element => stanza !== undefined);
    if (stanzas.length > 0) this.deps.undelivered(stanzas);
  }

  private stopServing(): void {
    clearTimeout(this.handshakeTimer);
    if (!this.serving || this.domain === undefined) return;
    this.serving = false;
    this.deps.release(this.domain, this);
    this.log.info({ domain: this.domain }, 'component disconnected');
  }
}

/** An element or text the transport did not write, if it is a stanza (the text may be a header or a nonza). */
function asStanza(item: Undelivered): Element | undefined {
  let element: Element;
  try {
    element = typeof item === 'string' ? parseElement(item) : item;
  } catch {
    return undefined;
  }
  return STANZA_NAMES.has(element.name) ? element : undefined;
}

/** The stanza as the component sees it: in its stream's default namespace, children shared. */
function withoutContentNamespace(stanza: Element): Element {
  const xmlns = stanza.attrs.xmlns;
  if (xmlns === undefined || !CONTENT_NAMESPACES.has(xmlns)) return stanza;
  const { xmlns: _dropped, ...attrs } = stanza.attrs;
  const copy = new Element(stanza.name, attrs);
  copy.children = stanza.children;
  return copy;
}
