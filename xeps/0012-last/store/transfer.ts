// Last activity in `ratatosk export`/`import`: on its account's line, { timestamp (ms since 1970), status? }.
import type { ModuleTransfer, TransferValue } from '../../../src/modules/api.js';
import type { LastActivity, LastActivityStore } from './types.js';

function parseLast(data: unknown): LastActivity | string {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'expected an object with timestamp and an optional status';
  const { timestamp, status, ...rest } = data as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}`;
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0) return 'timestamp: expected milliseconds since 1970';
  if (status !== undefined && typeof status !== 'string') return 'status: expected a string';
  return status === undefined ? { timestamp } : { timestamp, status };
}

export const lastActivityTransfer: ModuleTransfer<LastActivityStore> = {
  async exportAccount(store, username) {
    const last = await store.get(username);
    if (last === undefined) return undefined;
    const data: { [key: string]: TransferValue } = { timestamp: last.timestamp };
    if (last.status !== undefined) data.status = last.status;
    return data;
  },
  checkAccount: (data) => {
    const last = parseLast(data);
    return typeof last === 'string' ? last : undefined;
  },
  async importAccount(store, username, data) {
    const last = parseLast(data);
    if (typeof last !== 'string') await store.set(username, last);
  },
};
