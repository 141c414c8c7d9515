// `ratatosk room list|destroy`: the MUC module's administration commands, on the persistent rooms
// (XEP-0045 §10.1.3) of its store. Through a running server, `room destroy` also asks the live MUC
// service, through the 'muc:destroy-room' hook (§10.9), to tell the occupants and forget the room.
import { ServerError } from '../../src/errors.js';
import { parseDomain, parseJid, requiredArg, servedDomain, stringOption, type JsonValue, type ModuleCommand } from '../../src/modules/api.js';
import './hooks.js';
import type { RoomStore, StoredRoom } from './store/types.js';

/** The default MUC service of a domain. */
export function defaultMucService(domain: string): string {
  return `conference.${domain}`;
}

function roomName(room: StoredRoom): string | undefined {
  const name = room.config['muc#roomconfig_roomname'];
  return typeof name === 'string' && name !== '' ? name : undefined;
}

function roomData(room: StoredRoom): JsonValue {
  const data: { [key: string]: JsonValue } = { jid: room.jid, createdAt: new Date(room.createdAt).toISOString() };
  const name = roomName(room);
  if (name !== undefined) data.name = name;
  if (room.subject !== undefined) data.subject = room.subject;
  return data;
}

export const roomList: ModuleCommand<RoomStore> = {
  name: 'room list',
  summary: 'List the persistent rooms of a MUC service.',
  usage: 'room list [--service <domain>]',
  details: ['One room a line: its JID, then a tab and its name when it has one.'],
  args: [],
  options: [{ name: 'service', takesValue: true, valueName: 'domain', summary: 'The MUC service (default conference.<domain>)' }],
  async run(ctx, input) {
    const asked = stringOption(input, 'service');
    const service = asked === undefined ? defaultMucService(servedDomain(ctx.config)) : parseDomain(asked, '--service');
    const rooms = await ctx.store.list(service);
    return {
      exitCode: 0,
      lines: rooms.map((r) => {
        const name = roomName(r);
        return name === undefined ? r.jid : `${r.jid}\t${name}`;
      }),
      data: { service, rooms: rooms.map(roomData) },
    };
  },
};

export const roomDestroy: ModuleCommand<RoomStore> = {
  name: 'room destroy',
  summary: 'Destroy a room: its configuration and affiliations are deleted.',
  usage: 'room destroy <room-jid> [--reason <text>]',
  details: [
    'Through a running server the live MUC service also tells the occupants (with the reason) and',
    'forgets the room; without one only the stored room is deleted.',
  ],
  args: [{ name: 'room-jid', required: true, summary: 'room@conference.<domain>' }],
  options: [{ name: 'reason', takesValue: true, valueName: 'text', summary: 'Told to the occupants of a live room' }],
  async run(ctx, input) {
    const raw = requiredArg(input, 'room-jid', this);
    const jid = parseJid(raw);
    if (jid.local === '' || !jid.isBare) throw new ServerError('INVALID_JID', `"${raw}" is not a room JID: give room@${defaultMucService(servedDomain(ctx.config))}`);
    const room = jid.toString();
    const reason = stringOption(input, 'reason');
    const wasLive = ctx.fire === undefined ? false : (await ctx.fire('muc:destroy-room', room, reason === '' ? undefined : reason)) === true;
    const wasStored = await ctx.store.delete(room);
    if (!wasLive && !wasStored) throw new ServerError('ROOM_NOT_FOUND', `no such room: ${room}`);
    return { exitCode: 0, lines: [`destroyed ${room}`], data: { jid: room, stored: wasStored, live: wasLive } };
  },
};
