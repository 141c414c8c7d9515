// Sessions on other nodes, as the router and the module API see them: where a JID is bound (the
// session directory, minus this node), and how a stanza gets there (one bus message per node, in
// order, through that node's outbox). A node that stops listening is given up for a while: its
// records count as absent, so the router's ordinary rules (other resources, offline storage, an
// error to the sender) take over until the sweeper has cleared it.
// A directory read that fails (Redis failing over) is no answer: the read is made again until Redis answers
// and the directory can be believed (directory-gate.ts), for at most the fail-over bound; then the stanza is
// refused with a 'wait' error (RFC 6120 §8.3.2) rather than routed as if the user had no resource.
import { StanzaError } from '../errors.js';
import type { Jid } from '../jid.js';
import type { Logger } from '../observability/log.js';
import type { SessionDirectory } from '../sessions/directory.js';
import type { SessionRecord } from '../sessions/types.js';
import type { Element } from '../xml/element.js';
import { randomBytes } from 'node:crypto';
import type { AckMessage, CallMessage, OutboundMessage, ClusterBus } from './bus.js';
import { OPEN_GATE, type DirectoryGate } from './directory-gate.js';
import { NodeOutbox, REDIS_OUTAGE_MS, RETRY_FOR_MS, type GiveUpReason } from './outbox.js';

export interface DeliverOptions {
  /** Only to sessions carrying this session flag (roster pushes go to interested resources). */
  flag?: string;
  /** Each copy addressed ('to') to its session's full JID. */
  readdress?: boolean;
  /**
   * When the stanza reaches none of the targets (gone meanwhile, or their node is down), route it again
   * from scratch: the bare JID's other resources, offline storage, or an error to the sender. With
   * `readdress` it is per target and on the receiving node only: each target not bound there (a session handed
   * over to another node, XEP-0198 resumption there) gets its copy, addressed to it, routed again from there
   * (the directory names the node that holds it now); a message this node gives up is logged, not rerouted
   * (README.md, "Channels and messages").
   */
  fallback?: boolean;
}

/** What the router needs of the other nodes; absent on a single node. */
export interface RemoteSessions {
  /** The record of a full JID bound on another live node. */
  find(fullJid: string): Promise<SessionRecord | undefined>;
  /** A user's resources on other live nodes. */
  resources(bareJid: string): Promise<SessionRecord[]>;
  /** Has `node` route the stanza as if it had arrived there (it holds the full JID it is addressed to). */
  forward(node: string, stanza: Element, from: Jid, hops: number): void;
  /** Hands the stanza to these sessions on other nodes: one message per node, carrying its list of targets. */
  deliver(targets: readonly SessionRecord[], stanza: Element, from: Jid, hops: number, options?: DeliverOptions): void;
  /** The same for a list of full JIDs known to be on `node`: one bus message. */
  deliverTo(node: string, fullJids: readonly string[], stanza: Element, from: Jid, hops: number, options?: DeliverOptions): void;
  /**
   * Asks `node`'s handler of `topic` (answer()); `onReply` runs with the reply inside the bus handler, before
   * any later message from that node is handed on, even when it comes after `timeoutMs` (a late reply). Resolves
   * true when the reply came in time, false when it did not (or the node is not listening).
   */
  request(node: string, topic: string, body: unknown, timeoutMs: number, onReply: (reply: unknown) => void): Promise<boolean>;
  /**
   * Answers requests of `topic` from other nodes; the reply is what `handler` resolves to. `replied` resolves once
   * the reply is queued for that node: what this node sends it afterwards arrives after the reply. Returns the remover.
   */
  answer(topic: string, handler: RequestHandler): () => void;
}

export type RequestHandler = (body: unknown, from: string, replied: Promise<void>) => unknown;

/** How long a request that timed out still waits for a late reply (whose onReply must still run). */
const LATE_REPLY_MS = 60_000;

interface PendingCall {
  readonly onReply: (reply: unknown) => void;
  settle(inTime: boolean): void;
}

/** What becomes of a stanza its node could not be given. */
export interface Fallbacks {
  /** Routes it again on this node after its node was given up. */
  reroute(stanza: Element, from: Jid, hops: number): void;
  /** Bounces it to its sender (unless it is an error or a result). */
  refuse(stanza: Element, from: Jid, error: StanzaError): void;
}

/** How long a node that stopped listening stays given up, unless a message from it arrives first. */
export const GIVEN_UP_MS = 5000;

export interface ClusterSessionsDeps {
  nodeId: string;
  directory: SessionDirectory;
  bus: ClusterBus;
  log: Logger;
  /** How long a stanza waits for Redis (directory reads, publishes, acknowledgements); REDIS_OUTAGE_MS by default. */
  waitMs?: number;
  /** When directory answers can be believed; always by default. */
  gate?: DirectoryGate;
  /** Whether a full JID is bound on this node: a record of it elsewhere is then not another resource (a session being handed over). */
  isLocal?: (fullJid: string) => boolean;
}

const FIRST_READ_RETRY_MS = 25;
const MAX_READ_RETRY_MS = 250;

/** What the sender of a stanza hears when Redis did not come back within the bound. */
export function redisOutageError(): StanzaError {
  return new StanzaError('internal-server-error', 'the cluster cannot reach Redis; try again shortly', 'wait');
}

export class ClusterSessions implements RemoteSessions {
  private readonly outboxes = new Map<string, NodeOutbox>();
  private readonly givenUp = new Map<string, number>();
  private fallbacks: Fallbacks | undefined;
  private readonly waitMs: number;
  private readonly gate: DirectoryGate;
  private readonly calls = new Map<string, PendingCall>();
  private readonly answerers = new Map<string, RequestHandler>();

  constructor(private readonly deps: ClusterSessionsDeps) {
    this.waitMs = deps.waitMs ?? REDIS_OUTAGE_MS;
    this.gate = deps.gate ?? OPEN_GATE;
  }

  /** Where undeliverable stanzas go: the router. */
  setFallbacks(fallbacks: Fallbacks): void {
    this.fallbacks = fallbacks;
  }

  async find(fullJid: string): Promise<SessionRecord | undefined> {
    const record = await this.read(() => this.deps.directory.find(fullJid), fullJid);
    return record && this.elsewhere(record) ? record : undefined;
  }

  async resources(bareJid: string): Promise<SessionRecord[]> {
    const isLocal = this.deps.isLocal;
    return (await this.read(() => this.deps.directory.resources(bareJid), bareJid)).filter((r) => this.elsewhere(r) && !isLocal?.(r.jid.toString()));
  }

  /**
   * A directory read whose answer can be believed: made again while Redis fails or the directory is being
   * rebuilt after a reconnection, for at most the bound; then the stanza is refused with a 'wait' error.
   */
  private async read<T>(ask: () => Promise<T>, jid: string): Promise<T> {
    const gate = this.gate;
    if (gate.open) {
      const epoch = gate.epoch;
      try {
        const answer = await ask();
        if (gate.open && gate.epoch === epoch) return answer;
      } catch (err) {
        this.deps.log.warn({ err: err instanceof Error ? err.message : String(err), jid }, 'session directory unreachable; the stanza waits for Redis');
      }
    }
    const until = Date.now() + this.waitMs;
    let delay = FIRST_READ_RETRY_MS;
    for (;;) {
      await gate.whenOpen(until);
      const epoch = gate.epoch;
      if (gate.open) {
        try {
          const answer = await ask();
          if (gate.open && gate.epoch === epoch) return answer;
        } catch {
          // Still failing over; try again below.
        }
      }
      if (Date.now() >= until) {
        this.deps.log.warn({ jid, waitedMs: this.waitMs }, 'session directory did not answer within the fail-over bound; the stanza is refused');
        throw redisOutageError();
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, MAX_READ_RETRY_MS);
    }
  }

  /** An acknowledgement from a node this node sent to. */
  acknowledged(ack: AckMessage): void {
    if (ack.boot !== this.deps.bus.boot) return;
    this.outboxes.get(ack.origin)?.acked(ack.upTo);
  }

  forward(node: string, stanza: Element, from: Jid, hops: number): void {
    const message: OutboundMessage = { kind: 'stanza', origin: this.deps.nodeId, mode: 'route', from: from.toString(), hops, targets: [], stanza };
    this.outbox(node).send(message, (reason) => this.fallBack(stanza, from, hops, reason));
  }

  deliver(targets: readonly SessionRecord[], stanza: Element, from: Jid, hops: number, options: DeliverOptions = {}): void {
    const byNode = new Map<string, string[]>();
    for (const target of targets) {
      if (target.node === this.deps.nodeId) continue;
      const list = byNode.get(target.node);
      if (list) list.push(target.jid.toString());
      else byNode.set(target.node, [target.jid.toString()]);
    }
    for (const [node, jids] of byNode) this.deliverTo(node, jids, stanza, from, hops, options);
  }

  deliverTo(node: string, fullJids: readonly string[], stanza: Element, from: Jid, hops: number, options: DeliverOptions = {}): void {
    const message: OutboundMessage = {
      kind: 'stanza',
      origin: this.deps.nodeId,
      mode: 'deliver',
      from: from.toString(),
      hops,
      targets: fullJids,
      ...(options.flag !== undefined ? { flag: options.flag } : {}),
      ...(options.readdress ? { readdress: true } : {}),
      ...(options.fallback ? { fallback: true } : {}),
      stanza,
    };
    // A readdressed fan-out's fallback is the receiving node's (inbound.ts); given up here, it is only logged, as before.
    this.outbox(node).send(message, options.fallback && !options.readdress ? (reason) => this.fallBack(stanza, from, hops, reason) : undefined);
  }

  /** Tells `node` to end its session `sid` on `jid` with `conflict`: the JID was bound again here. */
  closeRemote(node: string, jid: string, sid: string): void {
    this.outbox(node).send({ kind: 'close', origin: this.deps.nodeId, jid, sid });
  }

  request(node: string, topic: string, body: unknown, timeoutMs: number, onReply: (reply: unknown) => void): Promise<boolean> {
    const call = randomBytes(9).toString('base64url');
    return new Promise<boolean>((resolve) => {
      let settled = false;
      const settle = (inTime: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(inTime);
      };
      const timer = setTimeout(() => {
        settle(false);
        const forget = setTimeout(() => this.calls.delete(call), LATE_REPLY_MS);
        forget.unref();
      }, timeoutMs);
      timer.unref();
      this.calls.set(call, { onReply, settle });
      const message: CallMessage = { kind: 'call', origin: this.deps.nodeId, topic, call, reply: false, body };
      this.outbox(node).send(message, () => {
        this.calls.delete(call);
        settle(false);
      });
    });
  }

  answer(topic: string, handler: RequestHandler): () => void {
    if (this.answerers.has(topic)) throw new Error(`cluster requests on ${topic} already have a handler`);
    this.answerers.set(topic, handler);
    return () => {
      if (this.answerers.get(topic) === handler) this.answerers.delete(topic);
    };
  }

  /** A request or a reply from another node. */
  called(message: CallMessage): void {
    this.heardFrom(message.origin);
    if (message.reply) {
      const pending = this.calls.get(message.call);
      if (!pending) {
        this.deps.log.error({ topic: message.topic, from: message.origin }, 'reply to a request this node no longer waits for; dropped');
        return;
      }
      this.calls.delete(message.call);
      try {
        pending.onReply(message.body);
      } finally {
        pending.settle(true);
      }
      return;
    }
    const handler = this.answerers.get(message.topic);
    let markReplied = (): void => undefined;
    const replied = new Promise<void>((resolve) => (markReplied = resolve));
    const reply = (body: unknown): void => {
      this.outbox(message.origin).send({ kind: 'call', origin: this.deps.nodeId, topic: message.topic, call: message.call, reply: true, body });
      markReplied();
    };
    if (!handler) {
      this.deps.log.warn({ topic: message.topic, from: message.origin }, 'request on a topic nobody answers here');
      return reply(null);
    }
    void (async () => handler(message.body, message.origin, replied))().then(reply, (err: unknown) => {
      this.deps.log.error({ err, topic: message.topic, from: message.origin }, 'cluster request handler failed');
      reply(null);
    });
  }

  /** A message from `node` arrived: it listens again. */
  heardFrom(node: string): void {
    this.givenUp.delete(node);
  }

  /** Resolves when nothing waits to be published, or after `timeoutMs`. */
  async idle(timeoutMs: number): Promise<void> {
    const all = Promise.all([...this.outboxes.values()].map((o) => o.idle()));
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }

  private elsewhere(record: SessionRecord): boolean {
    if (record.node === this.deps.nodeId) return false;
    const until = this.givenUp.get(record.node);
    if (until === undefined) return true;
    if (Date.now() < until) return false;
    this.givenUp.delete(record.node);
    return true;
  }

  private outbox(node: string): NodeOutbox {
    let outbox = this.outboxes.get(node);
    if (!outbox) {
      outbox = new NodeOutbox(node, {
        log: this.deps.log,
        publish: (to, message) => this.deps.bus.publish(to, message),
        onGiveUp: (to) => this.givenUp.set(to, Date.now() + GIVEN_UP_MS),
        retryFor: (to) => ((this.givenUp.get(to) ?? 0) > Date.now() ? 0 : RETRY_FOR_MS),
        redisOutageMs: this.waitMs,
        boot: this.deps.bus.boot,
      });
      this.outboxes.set(node, outbox);
    }
    return outbox;
  }

  /**
   * A node that stopped listening is gone: the stanza is routed again here (another resource, offline
   * storage). Redis that did not carry it within the bound says nothing about the recipient: the sender
   * hears of it (RFC 6121 §8 leaves an undeliverable stanza to an error, never to silence).
   */
  private fallBack(stanza: Element, from: Jid, hops: number, reason: GiveUpReason): void {
    if (!this.fallbacks) this.deps.log.error({ stanza: stanza.toString().slice(0, 300) }, 'undeliverable stanza and no router to fall back to');
    else if (reason === 'not-listening') this.fallbacks.reroute(stanza, from, hops);
    else this.fallbacks.refuse(stanza, from, redisOutageError());
  }
}
