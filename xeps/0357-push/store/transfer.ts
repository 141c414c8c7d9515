// Push registrations in `ratatosk export`/`import`: on the account's line, an array of
// { jid, node, options?, includeBody, resource?, enabledAt (ms since 1970) }. Counts are not moved: they
// start again at the next absence.
import type { ModuleTransfer, TransferValue } from '../../../src/modules/api.js';
import type { NewRegistration, PushStore } from './types.js';

const FIELDS = new Set(['jid', 'node', 'options', 'includeBody', 'resource', 'enabledAt']);

function parseRegistration(data: unknown, index: number): NewRegistration | string {
  const at = `registration ${index + 1}`;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return `${at}: expected an object`;
  const record = data as { [key: string]: unknown };
  const unknown = Object.keys(record).filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) return `${at}: unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}`;
  const { jid, node, options, includeBody, resource, enabledAt } = record;
  if (typeof jid !== 'string' || jid === '') return `${at}: jid: expected a JID`;
  if (typeof node !== 'string' || node === '') return `${at}: node: expected a node name`;
  if (options !== undefined && typeof options !== 'string') return `${at}: options: expected a serialised form`;
  if (typeof includeBody !== 'boolean') return `${at}: includeBody: expected a boolean`;
  if (resource !== undefined && typeof resource !== 'string') return `${at}: resource: expected a string`;
  if (typeof enabledAt !== 'number' || !Number.isFinite(enabledAt) || enabledAt < 0) return `${at}: enabledAt: expected milliseconds since 1970`;
  return { jid, node, includeBody, enabledAt, ...(options === undefined ? {} : { options }), ...(resource === undefined ? {} : { resource }) };
}

function parseAll(data: unknown): NewRegistration[] | string {
  if (!Array.isArray(data)) return 'expected an array of registrations';
  const parsed: NewRegistration[] = [];
  for (const [i, item] of data.entries()) {
    const r = parseRegistration(item, i);
    if (typeof r === 'string') return r;
    parsed.push(r);
  }
  return parsed;
}

export const pushTransfer: ModuleTransfer<PushStore> = {
  async exportAccount(store, username) {
    const registrations = await store.list(username);
    if (registrations.length === 0) return undefined;
    return registrations.map((r): TransferValue => {
      const out: { [key: string]: TransferValue } = { jid: r.jid, node: r.node, includeBody: r.includeBody, enabledAt: r.enabledAt };
      if (r.options !== undefined) out.options = r.options;
      if (r.resource !== undefined) out.resource = r.resource;
      return out;
    });
  },
  checkAccount: (data) => {
    const parsed = parseAll(data);
    return typeof parsed === 'string' ? parsed : undefined;
  },
  async importAccount(store, username, data) {
    const parsed = parseAll(data);
    if (typeof parsed === 'string') return;
    for (const registration of parsed) await store.enable(username, registration);
  },
};
