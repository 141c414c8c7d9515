// The [muc] configuration table: where the service lives and the limits it enforces (ratatosk.example.toml
// documents each key). Checked with the rest of the configuration at load and at start (src/modules/config.ts).
import { configTypes, moduleConfig } from '../../src/modules/api.js';

const { integer, domain } = configTypes;
const MAX_BYTES = 64 * 1024 * 1024;

export interface MucSettings {
  /** The service's domain; default conference.<domain>. */
  readonly domain: string;
  /** Most occupants one room may hold (a room's own muc#roomconfig_maxusers may be lower). */
  readonly maxOccupants: number;
  /** Most rooms one user may own at once: live temporary rooms plus persistent rooms. */
  readonly maxRoomsPerUser: number;
  /** Most messages of discussion history a room keeps and sends on entry (caps maxstanzas). */
  readonly maxHistory: number;
  /** Most characters of history a room keeps, counted over the serialised stanzas. */
  readonly historyMaxChars: number;
  /** Messages per second one occupant may send through a room, and the burst allowed above that rate. */
  readonly messageRate: number;
  readonly messageBurst: number;
}

export const mucConfig = moduleConfig({
  section: 'muc',
  shape: {
    /** Default: conference.<domain>. */
    domain: domain.optional(),
    max_occupants: integer(1, 1_000_000).default(5000),
    max_rooms_per_user: integer(0, 1_000_000).default(10),
    max_history: integer(0, 10_000).default(50),
    history_max_chars: integer(0, MAX_BYTES).default(262144),
    message_rate: integer(1, 1_000_000).default(10),
    message_burst: integer(1, 1_000_000).default(20),
  },
  resolve: (t, server): MucSettings => ({
    domain: t.domain ?? `conference.${server.domain}`,
    maxOccupants: t.max_occupants,
    maxRoomsPerUser: t.max_rooms_per_user,
    maxHistory: t.max_history,
    historyMaxChars: t.history_max_chars,
    messageRate: t.message_rate,
    messageBurst: t.message_burst,
  }),
  // A reload (SIGHUP, `ratatosk reload`) applies every limit; the service's domain needs a restart.
  reloadable: ['max_occupants', 'max_rooms_per_user', 'max_history', 'history_max_chars', 'message_rate', 'message_burst'],
  // The service's domain is its own: the server's domain or another module's (a component's) is a start error.
  domains: (settings) => [{ path: ['domain'], domain: settings.domain }],
});
