// XEP-0045 across the nodes of a cluster (src/cluster/README.md). Each room is hosted by one node at a time
// (ctx.cluster.placement): that node keeps the room's state and gives its traffic one order; the other nodes forward
// the room's stanzas there. The host hands the copies for occupants on other nodes to those nodes, one bus
// message per node for each distinct stanza of a fan-out (a groupchat message: one per node, whatever the
// number of occupants there). The files here keep what that needs: which node holds each remote occupant's
// session (OccupantNodes), the batching of remote copies (RemoteFanout), and, on the occupant's side, which
// local sessions sit in rooms hosted elsewhere (RoomsAbroad), so that they leave when their session ends and
// are told (§11.2 status 332) when the hosting node dies.
import type { ClusterOperations, ModuleContext } from '../../src/modules/api.js';
import { Element, xml } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

/** The copies of one stanza for some sessions of one node; `stanza` is a snapshot without 'to'. */
interface Entry {
  readonly stanza: Element;
  readonly targets: string[];
}

interface NodeBatch {
  readonly entries: Entry[];
  /** The element the room handed over -> the index of its latest entry. */
  readonly bySource: Map<Element, number>;
  /** Full JID -> index of the last entry it is in (a copy may join an earlier entry only if nothing came after it for that JID). */
  readonly lastIndex: Map<string, number>;
}

/**
 * Collects the remote copies of one turn of the event loop and publishes them at its end, per node, in the
 * order the room produced them for each recipient. The room reuses one element for many recipients (only
 * 'to' changes), so a copy joins the entry of the same element when that keeps every recipient's order.
 * Each is published with `fallback`: a session that is no longer on the node this host believes (handed over
 * to another node by XEP-0198 resumption there) has its copy routed on from that node to where it is now
 * (src/cluster/README.md, "Channels and messages").
 */
export class RemoteFanout {
  private readonly batches = new Map<string, NodeBatch>();
  private scheduled = false;
  private closed = false;

  constructor(private readonly cluster: Pick<ClusterOperations, 'deliverToNode'>) {}

  add(node: string, fullJid: string, stanza: Element): void {
    if (this.closed) return;
    let batch = this.batches.get(node);
    if (batch === undefined) this.batches.set(node, (batch = { entries: [], bySource: new Map(), lastIndex: new Map() }));
    const index = batch.bySource.get(stanza);
    const entry = index === undefined ? undefined : batch.entries[index];
    if (index !== undefined && entry !== undefined && (batch.lastIndex.get(fullJid) ?? -1) < index) {
      entry.targets.push(fullJid);
      batch.lastIndex.set(fullJid, index);
    } else {
      const snapshot = new Element(stanza.name, { ...stanza.attrs });
      delete snapshot.attrs.to;
      snapshot.children = [...stanza.children];
      batch.entries.push({ stanza: snapshot, targets: [fullJid] });
      batch.bySource.set(stanza, batch.entries.length - 1);
      batch.lastIndex.set(fullJid, batch.entries.length - 1);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Publishes what was collected: per node, one bus message per entry. */
  flush(): void {
    this.scheduled = false;
    for (const [node, batch] of this.batches) {
      for (const entry of batch.entries) this.cluster.deliverToNode(node, entry.targets, entry.stanza, { readdress: true, fallback: true });
    }
    this.batches.clear();
  }

  /** The module stops: the cluster is gone or going, and other nodes learn of it from the registry. */
  close(): void {
    this.closed = true;
    this.batches.clear();
  }
}

/** On a room's host: the node of each occupant session that is not on this node. */
export class OccupantNodes {
  private readonly nodes = new Map<string, string>();

  get(fullJid: string): string | undefined {
    return this.nodes.get(fullJid);
  }

  has(fullJid: string): boolean {
    return this.nodes.has(fullJid);
  }

  set(fullJid: string, node: string): void {
    this.nodes.set(fullJid, node);
  }

  delete(fullJid: string): void {
    this.nodes.delete(fullJid);
  }

  /** The sessions that were on `node`. */
  on(node: string): string[] {
    const found: string[] = [];
    for (const [jid, n] of this.nodes) if (n === node) found.push(jid);
    return found;
  }

  /** Finds the node of a session held elsewhere from the session directory; undefined when none holds it. */
  async learn(ctx: Pick<ModuleContext, 'sessions'>, fullJid: string, bareJid: string): Promise<string | undefined> {
    const known = this.nodes.get(fullJid);
    if (known !== undefined) return known;
    const record = (await ctx.sessions.remote(bareJid)).find((r) => r.jid.toString() === fullJid);
    if (record !== undefined) this.nodes.set(fullJid, record.node);
    return record?.node;
  }
}

interface Stay {
  nick: string;
  host: string;
}

/** On an occupant's node: local sessions in rooms hosted on other nodes, as their presence to those rooms says. */
export class RoomsAbroad {
  /** Full JID -> room JID -> nickname and hosting node. */
  private readonly stays = new Map<string, Map<string, Stay>>();

  /** A local session's presence is on its way to `host`, which hosts the room. */
  note(fullJid: string, roomJid: string, nick: string, type: string | undefined, host: string): void {
    if (type === undefined) {
      let rooms = this.stays.get(fullJid);
      if (rooms === undefined) this.stays.set(fullJid, (rooms = new Map()));
      rooms.set(roomJid, { nick, host });
    } else if (type === 'unavailable') this.forget(fullJid, roomJid);
  }

  forget(fullJid: string, roomJid: string): void {
    const rooms = this.stays.get(fullJid);
    if (rooms === undefined) return;
    rooms.delete(roomJid);
    if (rooms.size === 0) this.stays.delete(fullJid);
  }

  /** The rooms a local session is in elsewhere, read only (a session handed over to another node takes them along). */
  staysOf(fullJid: string): Array<{ roomJid: string; nick: string; host: string }> {
    return [...(this.stays.get(fullJid) ?? [])].map(([roomJid, { nick, host }]) => ({ roomJid, nick, host }));
  }

  /** The rooms a session that ended was in elsewhere; it is forgotten. */
  leave(fullJid: string): Array<{ roomJid: string; nick: string }> {
    const rooms = this.stays.get(fullJid);
    this.stays.delete(fullJid);
    return [...(rooms ?? [])].map(([roomJid, { nick }]) => ({ roomJid, nick }));
  }

  /** The sessions in rooms `host` hosted, which are gone with it; they are forgotten. */
  hostDown(host: string): Array<{ fullJid: string; roomJid: string; nick: string }> {
    const lost: Array<{ fullJid: string; roomJid: string; nick: string }> = [];
    for (const [fullJid, rooms] of this.stays) {
      for (const [roomJid, stay] of rooms) {
        if (stay.host !== host) continue;
        lost.push({ fullJid, roomJid, nick: stay.nick });
        rooms.delete(roomJid);
      }
      if (rooms.size === 0) this.stays.delete(fullJid);
    }
    return lost;
  }
}

/**
 * The module's part of a session handed over to another node (XEP-0198 resumption there; src/cluster/README.md,
 * "Session hand-over"): every room the session is in, with its nickname and the node hosting the room.
 */
export interface HandedOverStay {
  readonly room: string;
  readonly nick: string;
  readonly host: string;
}

export interface MucHandOver {
  readonly rooms: HandedOverStay[];
}

/** A hand-over part read back from JSON: the well-formed stays, and how many entries were not (or -1: not a part at all). */
export function readHandOver(value: unknown): { stays: HandedOverStay[]; rejected: number } {
  if (typeof value !== 'object' || value === null || !('rooms' in value) || !Array.isArray(value.rooms)) return { stays: [], rejected: -1 };
  const stays: HandedOverStay[] = [];
  let rejected = 0;
  for (const entry of value.rooms as unknown[]) {
    if (typeof entry !== 'object' || entry === null) {
      rejected++;
      continue;
    }
    const { room, nick, host } = entry as Record<string, unknown>;
    if (typeof room === 'string' && room !== '' && typeof nick === 'string' && nick !== '' && typeof host === 'string' && host !== '') stays.push({ room, nick, host });
    else rejected++;
  }
  return { stays, rejected };
}

/** §11.2 (332) for one session: it is out of a room whose service went away with its node. */
export function serviceGonePresence(roomJid: string, nick: string, fullJid: string): Element {
  return xml(
    'presence',
    { from: `${roomJid}/${nick}`, to: fullJid, type: 'unavailable' },
    xml('x', { xmlns: NS.mucUser }, xml('item', { affiliation: 'none', role: 'none' }), xml('status', { code: 110 }), xml('status', { code: 332 })),
  );
}
