// Sessions on other nodes, as the router and the module API see them: where a JID is bound (the
// session directory, minus this node), and how a stanza gets there (one bus message per node, in
// order, through that node's outbox). A node that stops listening is given up for a while: its
// records count as absent, so the router's ordinary rules (other resources, offline storage, an
// error to the sender) take over until the sweeper has cleared it.
import type { Jid } from '../jid.js';
import type { Logger } from '../observability/log.js';
import type { SessionDirectory } from '../sessions/directory.js';
import type { SessionRecord } from '../sessions/types.js';
import type { Element } from '../xml/element.js';
import type { BusMessage, ClusterBus } from './bus.js';
import { NodeOutbox, RETRY_FOR_MS } from './outbox.js';

export interface DeliverOptions {
  /** Only to sessions carrying this session flag (roster pushes go to interested resources). */
  flag?: string;
  /** Each copy addressed ('to') to its session's full JID. */
  readdress?: boolean;
  /**
   * When the stanza reaches none of the targets (gone meanwhile, or their node is down), route it again
   * from scratch: the bare JID's other resources, offline storage, or an error to the sender.
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
}

/** Routes a stanza again on this node after its node was given up. */
export type Reroute = (stanza: Element, from: Jid, hops: number) => void;

/** How long a node that stopped listening stays given up, unless a message from it arrives first. */
export const GIVEN_UP_MS = 5000;

export interface ClusterSessionsDeps {
  nodeId: string;
  directory: SessionDirectory;
  bus: ClusterBus;
  log: Logger;
}

export class ClusterSessions implements RemoteSessions {
  private readonly outboxes = new Map<string, NodeOutbox>();
  private readonly givenUp = new Map<string, number>();
  private reroute: Reroute | undefined;

  constructor(private readonly deps: ClusterSessionsDeps) {}

  /** Where undeliverable stanzas go: the router's routeForwarded. */
  setReroute(reroute: Reroute): void {
    this.reroute = reroute;
  }

  async find(fullJid: string): Promise<SessionRecord | undefined> {
    try {
      const record = await this.deps.directory.find(fullJid);
      return record && this.elsewhere(record) ? record : undefined;
    } catch (err) {
      this.deps.log.warn({ err, jid: fullJid }, 'session directory unreachable; routing to local sessions only');
      return undefined;
    }
  }

  async resources(bareJid: string): Promise<SessionRecord[]> {
    try {
      return (await this.deps.directory.resources(bareJid)).filter((r) => this.elsewhere(r));
    } catch (err) {
      this.deps.log.warn({ err, jid: bareJid }, 'session directory unreachable; routing to local sessions only');
      return [];
    }
  }

  forward(node: string, stanza: Element, from: Jid, hops: number): void {
    const message: BusMessage = { kind: 'stanza', origin: this.deps.nodeId, mode: 'route', from: from.toString(), hops, targets: [], stanza };
    this.outbox(node).send(message, () => this.fallBack(stanza, from, hops));
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
    const message: BusMessage = {
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
    this.outbox(node).send(message, options.fallback ? () => this.fallBack(stanza, from, hops) : undefined);
  }

  /** Tells `node` to end its session `sid` on `jid` with `conflict`: the JID was bound again here. */
  closeRemote(node: string, jid: string, sid: string): void {
    this.outbox(node).send({ kind: 'close', origin: this.deps.nodeId, jid, sid });
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
      });
      this.outboxes.set(node, outbox);
    }
    return outbox;
  }

  private fallBack(stanza: Element, from: Jid, hops: number): void {
    if (this.reroute) this.reroute(stanza, from, hops);
    else this.deps.log.error({ stanza: stanza.toString().slice(0, 300) }, 'undeliverable stanza and no router to fall back to');
  }
}
