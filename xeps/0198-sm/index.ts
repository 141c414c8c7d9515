// XEP-0198 Stream Management (urn:xmpp:sm:3), version 1.6: the stream feature (§2), enabling (§3),
// acknowledgements (§4), resumption (§5) and error handling (§6) on client streams of one node.
// The core hands this module the stream's non-stanza elements (src/stream/stream-elements.ts) and lets it
// place a stage at the wire end of each session's output (src/sessions/output.ts; queue.ts here); a session
// whose connection drops is kept bound while the module holds its queue (StreamSession.keepOnDrop).
import { randomBytes } from 'node:crypto';
import { StreamError } from '../../src/errors.js';
import { defineModule, type ClientStream, type Outbound, type OutputStageHandle, type StreamSession } from '../../src/modules/api.js';
import { Jid } from '../../src/jid.js';
import { parseElement, xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { distance, parseCounter } from './counter.js';
import { FENCE_TOPIC, FORWARDED_TOPIC, Fence, TAKEOVER_MARGIN_MS, TAKEOVER_TOPIC, TAKEOVER_WAIT_MS, ownerOf, readForwarded, readTakeOverReply, readTakeOverRequest, type TakeOverReply } from './handover.js';
import { UnackedQueue, resent, type QueueState } from './queue.js';
import { smConfig } from './settings.js';

/** Unacknowledged stanzas after which the server asks the client for an <a/> (§4 leaves the policy open). */
const REQUEST_AFTER = 5;
/** While connected, the queue may pass max_unacked only until an <r/> has gone unanswered this long. */
const ACK_WAIT_MS = 30_000;

/** One session with stream management enabled. */
interface Managed {
  readonly session: StreamSession;
  readonly username: string;
  readonly queue: UnackedQueue;
  readonly stage: OutputStageHandle;
  /** The resumption id (previd), when resumption was enabled. */
  readonly id: string | undefined;
  /** session.handledCount at <enable/>: the server's 'h' counts from there (§4). */
  readonly inboundBase: number;
  /** When the outstanding <r/> was sent; undefined when none is. */
  requestedAt: number | undefined;
  expiry: NodeJS.Timeout | undefined;
  closing: boolean;
  /** Taken over from another node and not yet past the fence (handover.ts). */
  fence?: { readonly stage: Fence; readonly handle: OutputStageHandle } | undefined;
}

/** <failed/> with a stanza error condition (§6), and the server's 'h' when it is known. */
function failed(condition: string, h?: number): Element {
  return xml('failed', { xmlns: NS.sm, h }, xml(condition, { xmlns: NS.stanzas }));
}

/** §4: an 'h' acknowledging more stanzas than were sent is undefined-condition, with the counts. */
function countTooHigh(h: number, sent: number): StreamError {
  return new StreamError('undefined-condition', `h=${h} acknowledges more stanzas than were sent (${sent})`, undefined, xml('handled-count-too-high', { xmlns: NS.sm, h, 'send-count': sent }));
}

export default defineModule({
  name: 'stream-management',
  specs: [
    {
      id: 'XEP-0198',
      title: 'Stream Management',
      version: '1.6',
      scope: 'client streams: enable with and without resumption, r/a acknowledgements with 2^32 wrap-around, resume re-sending what the client did not acknowledge (with XEP-0203 delay stamps), also on another node of a cluster (the owner hands the session over, with its directed-presence recipients, active privacy list and MUC rooms), resumption timeout; an ended session\'s unacknowledged stanzas routed as undelivered; no resumption on BOSH',
      status: 'partial',
    },
  ],
  config: smConfig,
  capabilities: ['cluster'],
  setup(ctx) {
    const settings = ctx.settings;
    // Keyed by session object (hooks hand over BoundSession, the same objects).
    const managed = new Map<object, Managed>();
    const resumable = new Map<string, Managed>();

    const inboundH = (m: Managed): number => distance(m.inboundBase, m.session.handledCount);

    const forget = (m: Managed): void => {
      clearTimeout(m.expiry);
      managed.delete(m.session);
      if (m.id !== undefined && resumable.get(m.id) === m) resumable.delete(m.id);
    };

    /** Ends a managed session for real (its queue goes the undelivered way), outside the delivery under way. */
    const closeSoon = (m: Managed, error?: StreamError): void => {
      if (m.closing) return;
      m.closing = true;
      queueMicrotask(() => m.session.close(error));
    };

    const requestAck = (m: Managed): void => {
      if (m.requestedAt !== undefined || !m.session.connected) return;
      m.requestedAt = Date.now();
      m.session.sendStreamElement(xml('r', { xmlns: NS.sm }));
    };

    const enable = (element: Element, stream: ClientStream): void => {
      const session = stream.session;
      // §3: only after resource binding (or by resumption), and once per stream.
      if (!session || managed.has(session)) return stream.send(failed('unexpected-request'));
      const wantsResume = element.attrs.resume === 'true' || element.attrs.resume === '1';
      // BOSH sessions are not resumed (README): they already survive lost HTTP connections (XEP-0124 §14).
      const resume = wantsResume && stream.transport !== 'bosh';
      // previd = <node id, base64url>.<128 random bits>: unguessable, and names the node that holds the session.
      const id = resume ? `${Buffer.from(stream.node).toString('base64url')}.${randomBytes(16).toString('base64url')}` : undefined;
      // <enabled/> goes out before the stage counts anything: the client's count starts from it (§4).
      stream.send(xml('enabled', { xmlns: NS.sm, id, resume: resume ? 'true' : undefined, max: resume ? settings.resumeTimeout : undefined, location: resume ? settings.location : undefined }));
      manage(session, stream.username, id, session.handledCount);
    };

    /** Puts a session under stream management: its queue at the wire end of its output. */
    const manage = (session: StreamSession, username: string, id: string | undefined, inboundBase: number, taken?: QueueState): Managed => {
      // The callbacks run on later sends, once `m` exists.
      const queue = new UnackedQueue({
        limit: settings.maxUnacked,
        overflow: () => {
          const waited = m.requestedAt !== undefined && Date.now() - m.requestedAt > ACK_WAIT_MS;
          if (!m.session.connected || waited) closeSoon(m, new StreamError('policy-violation', `more than ${settings.maxUnacked} stanzas not acknowledged`));
          else requestAck(m);
        },
        queued: (unacked) => {
          if (unacked >= REQUEST_AFTER) requestAck(m);
        },
      });
      if (taken) queue.importState(taken);
      const m: Managed = {
        session,
        username,
        queue,
        stage: session.output.add(queue),
        id,
        inboundBase,
        requestedAt: undefined,
        expiry: undefined,
        closing: false,
      };
      managed.set(session, m);
      if (id !== undefined) resumable.set(id, m);
      session.keepOnDrop = id !== undefined;
      return m;
    };

    const acknowledge = (element: Element, stream: ClientStream): void => {
      const m = stream.session && managed.get(stream.session);
      if (!m) return stream.send(failed('unexpected-request'));
      const h = parseCounter(element.attrs.h);
      if (h === undefined) return stream.fail(new StreamError('invalid-xml', "<a/> needs an 'h' that is an unsignedInt"));
      if (!m.queue.acknowledge(h)) return stream.fail(countTooHigh(h, m.queue.sent));
      m.requestedAt = undefined;
      if (m.queue.unacked > m.queue.limit) requestAck(m);
    };

    const answerRequest = (stream: ClientStream): void => {
      const m = stream.session && managed.get(stream.session);
      if (!m) return stream.send(failed('unexpected-request'));
      stream.send(xml('a', { xmlns: NS.sm, h: inboundH(m) }));
    };

    const resume = async (element: Element, stream: ClientStream): Promise<void> => {
      if (stream.transport === 'bosh') return stream.send(failed('feature-not-implemented'));
      if (stream.session) return stream.send(failed('unexpected-request'));
      const h = parseCounter(element.attrs.h);
      const previd = element.attrs.previd;
      if (h === undefined || !previd) return stream.send(failed('bad-request'));
      // §5: unknown, expired, ended or another account's: the client binds afresh. Not here: maybe on another node.
      const m = resumable.get(previd) ?? (await takeOver(previd, stream));
      if (!m || m.username !== stream.username || m.closing) return stream.send(failed('item-not-found'));
      if (m.queue.tooHigh(h)) return stream.fail(countTooHigh(h, m.queue.sent));
      const attached = await stream.resume(m.session, () => {
        // An expiry or overflow close that came while the old stream let go found the session in between; it stays.
        m.closing = false;
        clearTimeout(m.expiry);
        m.expiry = undefined;
        m.requestedAt = undefined;
        m.queue.acknowledge(h);
        stream.send(xml('resumed', { xmlns: NS.sm, h: inboundH(m), previd }));
        // What the client did not acknowledge, then what came while it was away, in order (§5).
        for (const item of m.queue.pending()) m.stage.next(resent(item, ctx.domain));
        if (m.queue.unacked > 0) requestAck(m);
      });
      if (!attached) stream.send(failed('item-not-found'));
    };

    /** Hands this node's session `previd` to `node`; what the resuming node needs, or a refusal. */
    const handOver = async (body: unknown, node: string, replied: Promise<void>): Promise<TakeOverReply> => {
      const request = readTakeOverRequest(body);
      const m = request && resumable.get(request.previd);
      if (!request || !m || m.username !== request.account || m.closing) return { ok: false };
      const jid = m.session.jid.toString();
      // Until the reply is queued, what reaches the session waits here: the new node must have the session first.
      let waiting: Outbound[] | undefined = [];
      void replied.then(() => {
        const early = waiting ?? [];
        waiting = undefined;
        for (const stanza of early) forward(node, jid, stanza);
      });
      const taken = await m.session.handOver(
        node,
        (stanza) => (waiting ? waiting.push(stanza) : forward(node, jid, stanza)),
        () => {
          // Too late for the resuming node, or ended or closing meanwhile: it stays here.
          if (Date.now() > request.deadline || m.closing || managed.get(m.session) !== m) return undefined;
          const queue = m.queue.exportState();
          m.stage.remove();
          forget(m);
          return queue;
        },
      );
      if (!taken) return { ok: false };
      ctx.log.info({ jid, to: node }, 'stream management: session handed over to another node');
      return { ok: true, session: taken.state, queue: taken.exported, inboundBase: m.inboundBase };
    };

    /** What reaches a session after it was handed over goes to its new node, in order behind the hand-over reply. */
    const forward = (node: string, jid: string, stanza: Outbound): void => {
      const body = { jid, stanza: typeof stanza === 'string' ? stanza : stanza.toString() };
      void ctx.cluster.request(node, FORWARDED_TOPIC, body, TAKEOVER_WAIT_MS, () => undefined);
    };

    /** A stanza the owner forwarded: to the session past its fence (the owner applied the filters), else routed again. */
    const forwarded = (body: unknown): null => {
      const item = readForwarded(body);
      if (!item) {
        ctx.log.error('stream management: unreadable forwarded stanza; dropped');
        return null;
      }
      const session = ctx.sessions.get(item.jid);
      const m = session && managed.get(session);
      if (m?.fence) m.fence.handle.next(item.stanza);
      else if (session) session.sendText(item.stanza);
      else {
        try {
          const stanza = parseElement(item.stanza);
          const from = stanza.attrs.from !== undefined ? Jid.tryParse(stanza.attrs.from) : undefined;
          void ctx.send(stanza, from);
        } catch {
          ctx.log.error({ jid: item.jid }, 'stream management: unreadable forwarded stanza; dropped');
        }
      }
      return null;
    };

    /** The owner has forwarded all it will for what this node routed to it before: what the fence held goes out. */
    const lift = (m: Managed): void => {
      const fence = m.fence;
      if (!fence) return;
      m.fence = undefined;
      const held = fence.stage.release();
      fence.handle.remove();
      for (const stanza of held) m.session.output.send(stanza);
    };

    /**
     * The session `previd` is not here: ask the nodes that hold resources of this account (the node the previd
     * names first) to hand it over. Undefined when none has it or the owner does not answer within the bound.
     */
    const takeOver = async (previd: string, stream: ClientStream): Promise<Managed | undefined> => {
      const named = ownerOf(previd);
      if (named === undefined) return undefined;
      let nodes: string[];
      try {
        const records = await ctx.sessions.remote(`${stream.username}@${ctx.domain}`);
        nodes = [...new Set(records.map((r) => r.node))].filter((n) => n !== stream.node).sort((a, b) => Number(b === named) - Number(a === named));
      } catch (err) {
        ctx.log.warn({ err }, 'stream management: the session directory did not answer; resumption fails');
        return undefined;
      }
      for (const node of nodes) {
        let adopted: { m: Managed; registered: Promise<void> } | undefined;
        let refused = false;
        const body = { previd, account: stream.username, deadline: Date.now() + TAKEOVER_WAIT_MS - TAKEOVER_MARGIN_MS };
        // The reply is taken at once, inside the bus handler: stanzas the owner forwards after it find the session here.
        const inTime = await ctx.cluster.request(node, TAKEOVER_TOPIC, body, TAKEOVER_WAIT_MS, (reply) => {
          const read = readTakeOverReply(reply);
          if (typeof read === 'string') {
            ctx.log.error({ node, reason: read }, 'stream management: unreadable hand-over reply');
            refused = true;
          } else if (!read.ok) refused = true;
          else adopted = adopt(read, stream, previd, node);
        });
        if (adopted) {
          await adopted.registered;
          // A late reply left the session kept here; the client was already told <failed/>.
          return inTime ? adopted.m : undefined;
        }
        if (!inTime) {
          ctx.log.warn({ node, previd }, 'stream management: the owner of a session did not answer in time; resumption fails');
          return undefined;
        }
        if (!refused) return undefined;
      }
      return undefined;
    };

    /** Binds the handed-over session here, kept as after a dropped connection, with its queue. */
    const adopt = (reply: Extract<TakeOverReply, { ok: true }>, stream: ClientStream, previd: string, owner: string): { m: Managed; registered: Promise<void> } => {
      let prepared: Managed | undefined;
      const { session, registered } = stream.adopt(reply.session, (s) => {
        prepared = manage(s, stream.username, previd, reply.inboundBase, reply.queue);
      });
      const m = prepared;
      if (!m) throw new Error('adopt did not prepare the session');
      // After what the owner's other stages held (given to the session by adopt), before anything routed here.
      const fence = new Fence();
      m.fence = { stage: fence, handle: session.output.add(fence) };
      // Once the directory names this node: a stanza routed here to the owner by the record read before went
      // into the channel to the owner ahead of the fence request, so it comes back before the fence reply.
      void registered
        .then(() => ctx.cluster.request(owner, FENCE_TOPIC, { jid: reply.session.jid }, TAKEOVER_WAIT_MS, () => lift(m)))
        .finally(() => lift(m));
      return { m, registered };
    };

    ctx.cluster.onRequest(TAKEOVER_TOPIC, handOver);
    ctx.cluster.onRequest(FORWARDED_TOPIC, forwarded);
    ctx.cluster.onRequest(FENCE_TOPIC, () => ({}));

    ctx.hook('stream:features', (features, context) => (context.authenticated ? [...features, xml('sm', { xmlns: NS.sm })] : features));

    // §5 inline in XEP-0388 SASL2 (<resume/> in <authenticate/>, <resumed/> in <success/>) and §3 inline in XEP-0386
    // Bind2 (<enable/> in <bind/>, <enabled/> in <bound/>): the same handlers, their answers placed by the core.
    ctx.onSasl2Inline(NS.sm, {
      feature: (info) => (info.transport === 'bosh' ? undefined : xml('sm', { xmlns: NS.sm })),
      success: async (request, stream) => {
        const element = request.authenticate.getChild('resume', NS.sm);
        if (element) await resume(element, stream);
      },
    });
    ctx.onBind2Inline(NS.sm, (element, stream) => {
      if (element.name === 'enable') enable(element, stream);
    });

    ctx.onStreamElement(NS.sm, async (element, stream) => {
      switch (element.name) {
        case 'enable':
          return enable(element, stream);
        case 'a':
          return acknowledge(element, stream);
        case 'r':
          return answerRequest(stream);
        case 'resume':
          return resume(element, stream);
        default:
          return stream.fail(new StreamError('unsupported-stanza-type', `<${element.name}/> is not a stream management element`));
      }
    });

    ctx.hook('session:hibernating', (session) => {
      const m = managed.get(session);
      if (!m) return;
      m.requestedAt = undefined;
      // A close that found the session between streams (a resumption that failed) did nothing: the timer may close it.
      m.closing = false;
      clearTimeout(m.expiry);
      // §5: not resumed within the time <enabled/> announced: closed for real, its queue as undelivered.
      m.expiry = setTimeout(() => closeSoon(m), settings.resumeTimeout * 1000);
      m.expiry.unref();
    });

    ctx.hook('session:closed', (session) => {
      const m = managed.get(session);
      if (m) forget(m);
    });

    ctx.onStop(() => {
      for (const m of managed.values()) clearTimeout(m.expiry);
    });
  },
});
