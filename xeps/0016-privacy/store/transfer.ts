// Privacy lists and the block list in `ratatosk export`/`import`: on the account's line,
// { lists: { <name>: [items] }, default?: <name>, blocked?: [JIDs] } (items as PrivacyItem).
import type { ModuleTransfer, TransferValue } from '../../../src/modules/api.js';
import type { PrivacyItem, PrivacyModuleStores } from './types.js';

interface PrivacyData {
  lists: Record<string, PrivacyItem[]>;
  default?: string;
  blocked: string[];
}

const ITEM_KEYS = new Set(['type', 'value', 'action', 'order', 'message', 'iq', 'presenceIn', 'presenceOut']);
const TYPES = new Set(['jid', 'group', 'subscription']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseItem(value: unknown, at: string): PrivacyItem | string {
  if (!isObject(value)) return `${at}: expected an object`;
  const unknown = Object.keys(value).filter((k) => !ITEM_KEYS.has(k));
  if (unknown.length > 0) return `${at}: unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}`;
  const { type, value: matched, action, order, message, iq, presenceIn, presenceOut } = value;
  if (type !== undefined && (typeof type !== 'string' || !TYPES.has(type))) return `${at}.type: expected jid, group or subscription`;
  if ((type === undefined) !== (matched === undefined) || (matched !== undefined && typeof matched !== 'string')) return `${at}.value: a string exactly when type is given`;
  if (action !== 'allow' && action !== 'deny') return `${at}.action: expected allow or deny`;
  if (typeof order !== 'number' || !Number.isSafeInteger(order) || order < 0) return `${at}.order: expected a non-negative integer`;
  const flags = { message, iq, presenceIn, presenceOut };
  for (const [name, flag] of Object.entries(flags)) if (typeof flag !== 'boolean') return `${at}.${name}: expected true or false`;
  const item: PrivacyItem = { action, order, message: message === true, iq: iq === true, presenceIn: presenceIn === true, presenceOut: presenceOut === true };
  if (typeof type === 'string' && typeof matched === 'string') {
    item.type = type as NonNullable<PrivacyItem['type']>;
    item.value = matched;
  }
  return item;
}

function parsePrivacy(data: unknown): PrivacyData | string {
  if (!isObject(data)) return 'expected an object with lists, default and blocked';
  const { lists, default: chosen, blocked, ...rest } = data;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}`;
  const parsed: PrivacyData = { lists: {}, blocked: [] };
  if (lists !== undefined) {
    if (!isObject(lists)) return 'lists: expected an object of list name to items';
    for (const [name, items] of Object.entries(lists)) {
      if (name === '') return 'lists: a list needs a name';
      if (!Array.isArray(items)) return `lists.${name}: expected a list of items`;
      const out: PrivacyItem[] = [];
      for (const [i, raw] of items.entries()) {
        const item = parseItem(raw, `lists.${name}[${i}]`);
        if (typeof item === 'string') return item;
        out.push(item);
      }
      parsed.lists[name] = out;
    }
  }
  if (chosen !== undefined) {
    if (typeof chosen !== 'string' || parsed.lists[chosen] === undefined) return 'default: expected the name of one of the lists';
    parsed.default = chosen;
  }
  if (blocked !== undefined) {
    if (!Array.isArray(blocked) || !blocked.every((j): j is string => typeof j === 'string' && j !== '')) return 'blocked: expected a list of JIDs';
    parsed.blocked = blocked;
  }
  return parsed;
}

export const privacyTransfer: ModuleTransfer<PrivacyModuleStores> = {
  async exportAccount({ privacy, blocklist }, username) {
    const { lists, default: chosen } = await privacy.names(username);
    const blocked = await blocklist.list(username);
    if (lists.length === 0 && blocked.length === 0) return undefined;
    const out: { [key: string]: TransferValue } = {};
    const byName: { [name: string]: TransferValue } = {};
    for (const name of lists) byName[name] = ((await privacy.getList(username, name)) ?? []).map((item) => ({ ...item }));
    out.lists = byName;
    if (chosen !== undefined) out.default = chosen;
    out.blocked = blocked;
    return out;
  },
  checkAccount: (data) => {
    const parsed = parsePrivacy(data);
    return typeof parsed === 'string' ? parsed : undefined;
  },
  async importAccount({ privacy, blocklist }, username, data) {
    const parsed = parsePrivacy(data);
    if (typeof parsed === 'string') return;
    for (const [name, items] of Object.entries(parsed.lists)) await privacy.setList(username, name, items);
    if (parsed.default !== undefined) await privacy.setDefault(username, parsed.default);
    if (parsed.blocked.length > 0) await blocklist.block(username, parsed.blocked);
  },
};
