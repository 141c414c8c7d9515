// XEP-0198 Stream Management (urn:xmpp:sm:3), version 1.6: the stream feature (§2), enabling (§3),
// acknowledgements (§4), resumption (§5) and error handling (§6) on client streams of one node.
// The core hands this module the stream's non-stanza elements (src/stream/stream-elements.ts) and lets it
// place a stage at the wire end of each session's output (src/sessions/output.ts; queue.ts here); a session
// whose connection drops is kept bound while the module holds its queue (StreamSession.keepOnDrop).
import { randomBytes } from 'node:crypto';
import { StreamError } from '../../src/errors.js';
import { defineModule, type ClientStream, type OutputStageHandle, type StreamSession } from '../../src/modules/api.js';
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { distance, parseCounter } from './counter.js';
import { UnackedQueue, resent } from './queue.js';
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
      scope: 'client streams on one node: enable with and without resumption, r/a acknowledgements with 2^32 wrap-around, resume re-sending what the client did not acknowledge (with XEP-0203 delay stamps), resumption timeout; an ended session\'s unacknowledged stanzas routed as undelivered; no resumption on BOSH; not yet across nodes',
      status: 'partial',
    },
  ],
  config: smConfig,
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
      // <enabled/> goes out before the stage counts anything: the client's count starts from it (§4).
      stream.send(xml('enabled', { xmlns: NS.sm, id, resume: resume ? 'true' : undefined, max: resume ? settings.resumeTimeout : undefined, location: resume ? settings.location : undefined }));
      const m: Managed = {
        session,
        username: stream.username,
        queue,
        stage: session.output.add(queue),
        id,
        inboundBase: session.handledCount,
        requestedAt: undefined,
        expiry: undefined,
        closing: false,
      };
      managed.set(session, m);
      if (id !== undefined) resumable.set(id, m);
      session.keepOnDrop = resume;
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
      // §5: unknown, expired, ended or another account's: the client binds afresh.
      const m = resumable.get(previd);
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

    ctx.hook('stream:features', (features, context) => (context.authenticated ? [...features, xml('sm', { xmlns: NS.sm })] : features));

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
