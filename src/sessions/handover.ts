// What moves with a client session when another node of the cluster takes it over (XEP-0198 resumption
// on another node, issue #15; the protocol is in src/cluster/README.md, "Session hand-over"). The owning
// node builds it in StreamSession.handOver; the taking node binds the session from it (ClientStream.adopt).
// It crosses the bus as JSON, so what arrives is checked field by field before it is trusted.
import { Jid } from '../jid.js';

export interface HandedOverPresence {
  readonly available: boolean;
  readonly priority: number;
  /** The last broadcast presence, serialised. */
  readonly stanza?: string;
}

export interface SessionState {
  /** The full JID: the session keeps it on the new node. */
  readonly jid: string;
  /** The session id the directory record carries; kept too. */
  readonly sid: string;
  /** Stanzas handled from the client (StreamSession.handledCount). */
  readonly handled: number;
  readonly presence: HandedOverPresence;
  /** BoundSession.flags: what modules marked on the session (roster requested, carbons enabled...). */
  readonly flags: readonly string[];
  /**
   * Stanzas the session's output stages held and had not yet written (a stage that exports its own state,
   * as XEP-0198's queue, is not among them), oldest first, serialised: the new node gives them to the session.
   */
  readonly held: readonly string[];
  /** What modules keep of the session outside `flags` (handover-parts.ts), by module name. */
  readonly modules: Readonly<Record<string, unknown>>;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');

/** The state, or a reason it is not one. */
export function readSessionState(value: unknown): SessionState | string {
  if (!isObject(value)) return 'not an object';
  const { jid, sid, handled, presence, flags, held, modules } = value;
  if (typeof jid !== 'string' || Jid.tryParse(jid)?.isBare !== false) return 'jid is not a full JID';
  if (typeof sid !== 'string' || sid === '') return 'no sid';
  if (typeof handled !== 'number' || !Number.isInteger(handled) || handled < 0 || handled >= 2 ** 32) return 'bad handled count';
  if (!isObject(presence) || typeof presence.available !== 'boolean' || typeof presence.priority !== 'number' || !Number.isInteger(presence.priority)) return 'bad presence';
  if (presence.stanza !== undefined && typeof presence.stanza !== 'string') return 'bad presence stanza';
  if (!isStrings(flags) || !isStrings(held)) return 'bad flags or held stanzas';
  // A node of an earlier version sends none.
  if (modules !== undefined && !isObject(modules)) return 'bad module state';
  return {
    jid,
    sid,
    handled,
    presence: { available: presence.available, priority: presence.priority, ...(presence.stanza !== undefined ? { stanza: presence.stanza } : {}) },
    flags,
    held,
    modules: modules ?? {},
  };
}
