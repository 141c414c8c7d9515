// One BOSH session (XEP-0124; XMPP over BOSH, XEP-0206): the request-id window and held requests (§8, §14),
// acknowledgements (§9), inactivity and pause (§10), overactivity and polling (§11, §12), termination (§13)
// and the response cache for broken connections (§14.3). To the c2s stream above it, a session is a
// StreamTransport like a TCP connection: payloads become onElement, xmpp:restart onStreamStart, and
// what the stream sends waits in an outbox for the next request the server holds.
import type { StreamError } from '../errors.js';
import type { Logger } from '../observability/log.js';
import { TokenBucket, UNSHAPED, type ReadRates } from '../stream/limits.js';
import type { StreamEvents, StreamTransport, Undelivered } from '../stream/transport.js';
import { Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import type { ParserLimits } from '../xml/parser.js';
import { DeadlineHeap, type DeadlineEntry } from './deadline-heap.js';
import {
  EMPTY_BODY, LEGACY_STATUS, RECOVERABLE_ERROR, attr, isTrue, parseRid, parseUnsigned, responseBody, terminateBody,
  xboshAttr, type BindingCondition, type RequestBody,
} from './bosh-body.js';

/** One HTTP request/response exchange, as the session sees it. */
export interface BoshReply {
  /** Answers the request; later calls do nothing. */
  send(body: string, contentType: string, status?: number): void;
  /** Closes the connection without an answer. */
  drop(): void;
  /** The client closed the connection before it was answered. */
  readonly gone: boolean;
  /** Called once when the connection closes before the answer. */
  onGone: (() => void) | undefined;
}

export interface BoshSessionOptions {
  sid: string;
  /** Seconds a request may be held (XEP-0124 §7.2 'wait'); 0 makes a polling session (§12). */
  wait: number;
  /** Requests held at once ('hold'). */
  hold: number;
  /** Simultaneous requests allowed, which is also the rid window (§11, §14.2). */
  requests: number;
  inactivity: number;
  polling: number;
  maxPause: number;
  /** The client asked for acknowledgements (§9) with ack='1'. */
  ack: boolean;
  /** No 'ver' in the session request: binding errors also carry their old HTTP status (§17.1). */
  legacy: boolean;
  contentType: string;
  /** The session creation response's attributes, serialised; authid is added once the stream has an id. */
  creationAttrs: string;
  remoteAddress: string;
  secure: boolean;
  limits: ParserLimits;
  /** Serialised stanzas waiting for a request before the client counts as not reading (back-pressure). */
  maxQueuedChars: number;
  /** Request bytes per second, before and after authentication (limits.read_rate*). */
  read?: ReadRates;
  log: Logger;
  onEnd(session: BoshSession): void;
}

interface OpenRequest {
  rid: number;
  reply: BoshReply;
  arrivedAt: number;
  /** When it must be answered: 'wait' after it was processed (held) or arrived (early). */
  deadline: number;
  /** No payloads and nothing else asked for: a poll. */
  empty: boolean;
}

/** A request that came before a lower rid still missing; processed once the gap is filled (§14.2). */
interface EarlyRequest extends OpenRequest {
  body: RequestBody;
}

/** An answer kept for a repeated rid (§14.3); at most 'requests' of them, newest first. */
interface CachedAnswer {
  readonly rid: number;
  readonly body: string;
  older: CachedAnswer | undefined;
}

type State = 'open' | 'closing' | 'ended';

/**
 * What a session keeps of its options. Sessions made with the same settings share one of these (the
 * endpoint's sessions usually all do), so an idle session holds one pointer instead of its own copy.
 */
interface SharedSettings {
  readonly wait: number;
  readonly hold: number;
  readonly requests: number;
  readonly inactivity: number;
  readonly polling: number;
  readonly maxPause: number;
  readonly contentType: string;
  readonly maxQueuedChars: number;
  readonly read: ReadRates;
  readonly log: Logger;
  readonly onEnd: (session: BoshSession) => void;
}

/** No requests, no stanzas: the shared empty list an idle session points at (never pushed to). */
const NONE: readonly never[] = Object.freeze([]);

/** Every session's deadline (its next answer, else its inactivity limit) under one timer. */
const deadlines = new DeadlineHeap();

export class BoshSession implements StreamTransport, DeadlineEntry {
  readonly sid: string;
  readonly remoteAddress: string;
  readonly secure: boolean;
  private readonly settings: SharedSettings;
  private readonly ack: boolean;
  private readonly legacy: boolean;
  private events: StreamEvents | undefined;
  private state: State = 'open';
  private limits: ParserLimits;
  private readonly readBucket: TokenBucket;
  private nextRid = 0;
  /** Processed requests not yet answered, in rid order. Replaced, never changed in place (see NONE). */
  private held: readonly OpenRequest[] = NONE;
  private early: readonly EarlyRequest[] = NONE;
  private outbox = '';
  /** What the outbox holds, as the stream sent it: handed back if the session ends before a request carries it. */
  private outboxStanzas: Undelivered[] = NONE as never[];
  /** The last responses by rid, resent when the client repeats a request (§14.3). */
  private cache: CachedAnswer | undefined;
  private creationRid: number | undefined;
  private creationAttrs: string;
  /** A server-side termination waiting for the client's next request, and the stanzas it carries. */
  private pendingTerminate: string | undefined;
  private pendingStanzas: readonly Undelivered[] = NONE;
  private inactivityMs: number;
  private lastAnswerAt = Date.now();
  private lastArrivalAt = 0;
  /** Arrival time of the last poll answered without payloads (§12). */
  private idlePollAt = -1;
  /** DeadlineEntry: set by the heap. */
  dueAt = Infinity;
  heapIndex = -1;
  private flushQueued = false;
  /** Made on first use: most sessions never log, and a pino child costs ~1 KiB per session. */
  private logger: Logger | undefined;

  constructor(options: BoshSessionOptions) {
    this.settings = sharedSettings(options);
    this.ack = options.ack;
    this.legacy = options.legacy;
    this.sid = options.sid;
    this.remoteAddress = options.remoteAddress;
    this.secure = options.secure;
    this.limits = options.limits;
    const read = this.settings.read;
    this.readBucket = new TokenBucket(read.preAuth.rate, read.preAuth.burst);
    this.creationAttrs = options.creationAttrs;
    this.inactivityMs = options.inactivity * 1000;
  }

  get kind(): 'bosh' {
    return 'bosh';
  }

  get canStartTls(): boolean {
    return false;
  }

  attach(events: StreamEvents): void {
    this.events = events;
  }

  /** The session creation request (§7.1): opens the stream; the answer carries the session's attributes. */
  start(rid: number, reply: BoshReply, header: Record<string, string>): void {
    const now = Date.now();
    this.creationRid = rid;
    this.nextRid = rid + 1;
    this.lastArrivalAt = now;
    this.hold({ rid, reply, arrivedAt: now, deadline: now + this.settings.wait * 1000, empty: false });
    this.events?.onStreamStart(header, 'body');
    this.afterRequest();
  }

  /** Every later request of the session. `bytes` is the body's size, to check each payload against the stanza cap. */
  handle(body: RequestBody, rid: number, reply: BoshReply, secure: boolean, bytes: number): void {
    // §19.1: once a session is secure, a request over an insecure connection is dropped, the session kept.
    if (this.secure && !secure) return reply.drop();
    if (this.state === 'ended') return this.refuse(reply, 'item-not-found');
    if (this.state === 'closing') return this.collectTerminate(reply);
    if (bytes > this.limits.maxStanzaBytes) {
      for (const payload of body.payloads) {
        if (Buffer.byteLength(payload.toString(), 'utf8') > this.limits.maxStanzaBytes) return this.terminate('policy-violation', reply, 'stanza too large');
      }
    }
    if (this.ack) this.forgetAcknowledged(body.attrs.ack);
    if (rid < this.nextRid) return this.repeated(rid, reply);
    if (rid >= this.nextRid + this.settings.requests) return this.terminate('item-not-found', reply, 'rid outside the window');
    const now = Date.now();
    if (rid > this.nextRid) {
      const existing = this.early.find((r) => r.rid === rid);
      if (existing) return this.supersede(existing, reply);
      const early: EarlyRequest = { rid, reply, arrivedAt: now, deadline: now + this.settings.wait * 1000, empty: false, body };
      this.early = [...this.early, early].sort((a, b) => a.rid - b.rid);
      this.watch(early);
      return this.reschedule();
    }
    this.process(body, rid, reply, now);
    for (let next = this.early[0]; next && next.rid === this.nextRid && this.state === 'open'; next = this.early[0]) {
      this.early = rest(this.early);
      this.process(next.body, next.rid, next.reply, next.arrivedAt);
    }
    this.afterRequest();
  }

  // ---- StreamTransport ----

  openStream(attrs: Record<string, string>): void {
    // The first header names the stream in the creation response (XEP-0206 §4, the obsolete 'authid');
    // a restart's header has nothing the client needs: its features follow.
    if (this.creationRid !== undefined && attrs.id !== undefined) this.creationAttrs += attr('authid', attrs.id);
  }

  send(stanza: Element): void {
    this.queue(serialise(stanza), stanza);
  }

  sendText(stanza: string): void {
    this.queue(stanza, stanza);
  }

  private queue(text: string, stanza: Undelivered): void {
    if (this.state !== 'open') return;
    this.outbox += text;
    if (this.outboxStanzas.length === 0) this.outboxStanzas = [stanza];
    else this.outboxStanzas.push(stanza);
    if (this.outbox.length > this.settings.maxQueuedChars) {
      this.log.warn({ remote: this.remoteAddress }, 'BOSH client is not collecting its stanzas; terminating');
      this.terminate('policy-violation', undefined, 'too many stanzas waiting for a request');
      return;
    }
    if (this.held.length > 0) this.scheduleFlush();
  }

  closeStream(error?: StreamError): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    // XEP-0206 §6: the stanzas still queued, then the stream error, under remote-stream-error.
    const stanzas = this.outboxStanzas;
    const payload = this.takeOutbox() + (error ? error.toElement(true).toString() : '');
    // A limit crossed ([limits]) is XEP-0124 §17.2's policy-violation; the stream error is in the payload too.
    const body = terminateBody(error ? (error.condition === 'policy-violation' ? 'policy-violation' : 'remote-stream-error') : undefined, payload);
    const open = [...this.held, ...this.early];
    if (open.length === 0) {
      // Kept until the client's next request collects it, or inactivity ends the session.
      this.pendingTerminate = body;
      this.pendingStanzas = stanzas;
      this.reschedule();
      return;
    }
    // §13: the oldest request carries the termination, the others are answered empty.
    this.held = NONE;
    this.early = NONE;
    open.forEach((request, i) => this.reply(request.reply, i === 0 ? body : EMPTY_BODY));
    this.end();
  }

  startTls(): void {
    throw new Error('STARTTLS is not available over BOSH');
  }

  restartStream(): void {
    // The client asks for the restart itself, with xmpp:restart (XEP-0206 §5).
  }

  /** Called once authenticated (larger stanzas): the read rate becomes limits.read_rate too. */
  setLimits(limits: Partial<ParserLimits>): void {
    this.limits = { ...this.limits, ...limits };
    this.readBucket.reconfigure(this.settings.read.authenticated.rate, this.settings.read.authenticated.burst);
  }

  /** Milliseconds a request body of `bytes` must wait to stay within the session's read rate (0: none). */
  readDelay(bytes: number): number {
    return this.readBucket.take(bytes);
  }

  /** The outbox, in characters: what waits for the client's next request. */
  queuedBytes(): number {
    return this.outbox.length;
  }

  destroy(): void {
    if (this.state === 'ended') return;
    for (const request of [...this.held, ...this.early]) request.reply.drop();
    this.held = NONE;
    this.early = NONE;
    this.end();
  }

  // ---- requests ----

  private process(body: RequestBody, rid: number, reply: BoshReply, arrivedAt: number): void {
    this.nextRid = rid + 1;
    this.forgetUnrepeatable();
    const attrs = body.attrs;
    const terminating = attrs.type === 'terminate';
    const restart = isTrue(xboshAttr(attrs, 'restart'));
    const pause = attrs.pause;
    const empty = body.payloads.length === 0 && !terminating && !restart && pause === undefined;
    if (empty && this.overactive(arrivedAt)) return this.terminate('policy-violation', reply, 'requests too frequent');
    this.lastArrivalAt = arrivedAt;
    this.inactivityMs = this.settings.inactivity * 1000;
    const request: OpenRequest = { rid, reply, arrivedAt, deadline: Date.now() + this.settings.wait * 1000, empty };
    this.hold(request);
    if (pause !== undefined) return this.pause(pause, reply);
    const events = this.events;
    if (!events) return;
    // XEP-0206 §5: a restart request's payloads are ignored.
    if (restart) events.onStreamStart(streamHeader(attrs), 'body');
    else {
      const share = Math.ceil(body.size / Math.max(1, body.payloads.length));
      for (const payload of body.payloads) {
        if (this.state !== 'open') return;
        events.onElement(payload, share);
      }
    }
    // §13: the payloads of a termination request are processed first; the stream then closes after them.
    if (terminating && this.state === 'open') events.onStreamEnd();
  }

  /** §10: answer everything at once, without payloads, and allow a longer silence until the next request. */
  private pause(value: string, reply: BoshReply): void {
    const seconds = parseUnsigned(value, NaN);
    if (Number.isNaN(seconds)) return this.terminate('bad-request', reply, "'pause' must be a number of seconds");
    this.inactivityMs = Math.min(seconds, this.settings.maxPause) * 1000;
    const held = this.held;
    this.held = NONE;
    // The pause response is not kept for resending (§14.3).
    for (const request of held) this.answer(request, '', request.reply !== reply);
  }

  /** §11, §12: empty requests closer together than 'polling' while others are unanswered, or polls with nothing to collect. */
  private overactive(now: number): boolean {
    if (now - this.lastArrivalAt >= this.settings.polling * 1000) return false;
    if (this.isPolling()) return this.idlePollAt === this.lastArrivalAt;
    return this.held.length + 1 >= this.settings.requests;
  }

  private isPolling(): boolean {
    return this.settings.wait === 0 || this.settings.hold === 0;
  }

  /** A rid already received (§14.3): answered before, or still open and now superseded by this copy. */
  private repeated(rid: number, reply: BoshReply): void {
    const open = this.held.find((r) => r.rid === rid);
    if (open) return this.supersede(open, reply);
    let cached = this.cache;
    while (cached && cached.rid !== rid) cached = cached.older;
    if (cached) return this.reply(reply, cached.body);
    this.terminate('item-not-found', reply, 'the response to that rid is no longer available');
  }

  /** §14.3: the earlier copy gets a recoverable error; the answer goes to the latest. */
  private supersede(request: OpenRequest, reply: BoshReply): void {
    const previous = request.reply;
    previous.onGone = undefined;
    request.reply = reply;
    this.watch(request);
    this.reply(previous, RECOVERABLE_ERROR);
  }

  private hold(request: OpenRequest): void {
    this.held = this.held.length === 0 ? [request] : [...this.held, request];
    this.watch(request);
  }

  private watch(request: OpenRequest): void {
    request.reply.onGone = () => {
      // A connection that died at the head of the line is answered (empty) at once, so the next one can be.
      if (this.held[0] === request) this.flush();
    };
  }

  /**
   * §14.3: a client has at most 'requests' requests open, so once rid R has arrived no rid at or below
   * R - requests can come again, and its cached answer can go (an idle session would otherwise keep the
   * answers of its login, stream features and all, for as long as it lives). This also bounds the cache to
   * 'requests' answers: only rids below nextRid are ever answered.
   */
  private forgetUnrepeatable(): void {
    const lowestRepeatable = this.nextRid - this.settings.requests;
    this.cache = keepCached(this.cache, (rid) => rid >= lowestRepeatable);
  }

  private forgetAcknowledged(value: string | undefined): void {
    const acked = parseRid(value);
    if (acked === undefined) return;
    this.cache = keepCached(this.cache, (rid) => rid > acked);
  }

  // ---- answers ----

  private afterRequest(): void {
    this.scheduleFlush();
    this.reschedule();
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    // Stanzas the stream sends while it works through the request's payloads leave in one body.
    setImmediate(BoshSession.flushSession, this);
  }

  /** setImmediate's callback, shared by all sessions (a bound closure each would cost memory per session). */
  private static flushSession(this: void, session: BoshSession): void {
    session.flush();
  }

  /** Answers held requests in rid order: with queued stanzas, when over 'hold', at their deadline, or if gone. */
  private flush(): void {
    this.flushQueued = false;
    if (this.state !== 'open') return;
    const hold = this.isPolling() ? 0 : this.settings.hold;
    const now = Date.now();
    for (let first = this.held[0]; first; first = this.held[0]) {
      if (first.reply.gone) this.answer(first, '');
      else if (this.outbox !== '') this.answer(first, this.takeOutbox());
      else if (this.held.length > hold || first.deadline <= now) this.answer(first, '');
      else break;
      this.held = rest(this.held);
    }
    this.reschedule();
  }

  private answer(request: OpenRequest, payload: string, keep = true): void {
    let attrs = '';
    if (request.rid === this.creationRid) {
      attrs = this.creationAttrs;
      this.creationRid = undefined;
      this.creationAttrs = '';
    } else if (this.ack && this.nextRid - 1 !== request.rid) {
      // §9.1, simple form: the highest rid received with none missing below it, when it is not this one.
      attrs = attr('ack', this.nextRid - 1);
    }
    // An idle session's answers are all the same empty body: one string for all of them.
    const body = attrs === '' && payload === '' ? EMPTY_BODY : responseBody(attrs, payload);
    if (keep) {
      this.cache = { rid: request.rid, body, older: keepCached(this.cache, (rid) => rid !== request.rid) };
      this.forgetUnrepeatable();
    }
    if (request.empty && payload === '') this.idlePollAt = request.arrivedAt;
    this.lastAnswerAt = Date.now();
    this.reply(request.reply, body);
  }

  private reply(reply: BoshReply, body: string, status = 200): void {
    reply.onGone = undefined;
    reply.send(body, this.settings.contentType, status);
  }

  private takeOutbox(): string {
    const out = this.outbox;
    this.outbox = '';
    this.outboxStanzas = NONE as never[];
    return out;
  }

  // ---- endings ----

  /** A request naming this session that could not be read (malformed, too large, no rid): §17.2 ends the session. */
  reject(condition: BindingCondition, reply: BoshReply, secure: boolean, text: string): void {
    if (this.secure && !secure) return reply.drop();
    if (this.state === 'ended') return this.refuse(reply, 'item-not-found');
    this.terminate(condition, reply, text);
  }

  /** A terminal binding error (§17.2) on `reply` and every open request; the stream learns the connection is gone. */
  private terminate(condition: BindingCondition, reply: BoshReply | undefined, text: string): void {
    this.log.debug({ condition, text }, 'terminating BOSH session');
    const body = terminateBody(condition);
    const status = this.legacy ? LEGACY_STATUS[condition] ?? 200 : 200;
    if (reply) this.reply(reply, body, status);
    for (const request of [...this.held, ...this.early]) if (request.reply !== reply) this.reply(request.reply, body, status);
    this.held = NONE;
    this.early = NONE;
    this.end();
  }

  private refuse(reply: BoshReply, condition: BindingCondition): void {
    this.reply(reply, terminateBody(condition), this.legacy ? LEGACY_STATUS[condition] ?? 200 : 200);
  }

  private collectTerminate(reply: BoshReply): void {
    this.reply(reply, this.pendingTerminate ?? terminateBody(undefined));
    this.pendingStanzas = NONE;
    this.end();
  }

  /**
   * The session is over. Stanzas no response carried (a queue the client never came back for, a
   * termination it never collected) go back to the stream, which routes them again (XEP-0206 leaves
   * them to the server: offline storage or an error, as for any resource that went away).
   */
  private end(): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    deadlines.cancel(this);
    const undelivered = [...this.pendingStanzas, ...this.outboxStanzas];
    this.outbox = '';
    this.outboxStanzas = NONE as never[];
    this.pendingTerminate = undefined;
    this.pendingStanzas = NONE;
    this.cache = undefined;
    this.settings.onEnd(this);
    this.events?.onDisconnect(undelivered);
  }

  // ---- the one timer: the earliest deadline of an open request, else the inactivity limit ----

  private reschedule(): void {
    if (this.state === 'ended') return;
    let at = this.held[0]?.deadline ?? Infinity;
    for (const request of this.early) if (request.deadline < at) at = request.deadline;
    if (at === Infinity) at = this.lastAnswerAt + this.inactivityMs;
    if (at !== this.dueAt) deadlines.schedule(this, at);
  }

  private get log(): Logger {
    // The sid is the session's only credential: log a prefix.
    this.logger ??= this.settings.log.child({ bosh: this.sid.slice(0, 8) });
    return this.logger;
  }

  /** DeadlineEntry: the earliest deadline has come (the heap has taken the session out). */
  onDue(): void {
    if (this.state === 'ended') return;
    const now = Date.now();
    if (this.held.length === 0 && this.early.length === 0) {
      if (now < this.lastAnswerAt + this.inactivityMs) return this.reschedule();
      // §10: every request answered and none for the inactivity period: the client is gone.
      this.log.debug('BOSH session inactive; ending it');
      return this.end();
    }
    for (let i = this.early.length - 1; i >= 0; i--) {
      const request = this.early[i] as EarlyRequest;
      if (request.deadline > now) continue;
      // The rid before it never came: the client is to resend both (§17.3).
      this.early = this.early.filter((r) => r !== request);
      this.reply(request.reply, RECOVERABLE_ERROR);
    }
    this.flush();
  }
}

/** The stream header a session request or restart request stands for (XEP-0206 §3, §5). */
export function streamHeader(attrs: Record<string, string>): Record<string, string> {
  const header: Record<string, string> = { version: xboshAttr(attrs, 'version') ?? '1.0' };
  if (attrs.to !== undefined) header.to = attrs.to;
  if (attrs.from !== undefined) header.from = attrs.from;
  if (attrs['xml:lang'] !== undefined) header['xml:lang'] = attrs['xml:lang'];
  return header;
}

/** A stanza in a response body: unqualified stanzas are declared jabber:client (XEP-0206 §2). */
function serialise(stanza: Element): string {
  if (stanza.attrs.xmlns === undefined && !stanza.name.includes(':')) {
    // A shallow copy leaves a stanza shared with other recipients as it is.
    const qualified = new Element(stanza.name, { ...stanza.attrs, xmlns: NS.client });
    qualified.children = stanza.children;
    return qualified.toString();
  }
  return stanza.toString();
}

/** The list without its first element; the shared empty list when nothing is left. */
function rest<T>(list: readonly T[]): readonly T[] {
  return list.length <= 1 ? NONE : list.slice(1);
}

/** The cached answers whose rid passes `keep`, newest first (unchanged entries are reused). */
function keepCached(cache: CachedAnswer | undefined, keep: (rid: number) => boolean): CachedAnswer | undefined {
  if (!cache) return undefined;
  const older = keepCached(cache.older, keep);
  if (!keep(cache.rid)) return older;
  cache.older = older;
  return cache;
}

const settingsCache = new WeakMap<(session: BoshSession) => void, Map<string, SharedSettings>>();
/** Distinct settings kept per endpoint; 'content' is the client's choice, so the count is capped. */
const MAX_SHARED_SETTINGS = 64;

/** The settings object for `options`, shared with earlier sessions of the same endpoint that had the same ones. */
function sharedSettings(options: BoshSessionOptions): SharedSettings {
  const read = options.read ?? UNSHAPED.read;
  const { wait, hold, requests, inactivity, polling, maxPause, contentType, maxQueuedChars, log, onEnd } = options;
  const key = `${wait} ${hold} ${requests} ${inactivity} ${polling} ${maxPause} ${maxQueuedChars} ${contentType}`;
  let byKey = settingsCache.get(onEnd);
  if (!byKey) settingsCache.set(onEnd, (byKey = new Map()));
  const known = byKey.get(key);
  if (known && known.log === log && known.read === read) return known;
  const settings: SharedSettings = { wait, hold, requests, inactivity, polling, maxPause, contentType, maxQueuedChars, read, log, onEnd };
  if (known || byKey.size < MAX_SHARED_SETTINGS) byKey.set(key, settings);
  return settings;
}
