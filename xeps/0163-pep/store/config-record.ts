// A node's configuration as both back ends keep it (JSON / msgpack), read back with validation.
import { ServerError } from '../../../src/errors.js';
import type { AccessModel, NodeConfig, SendLastItem } from './types.js';

const ACCESS: readonly string[] = ['presence', 'open', 'whitelist'] satisfies AccessModel[];
const SEND_LAST: readonly string[] = ['never', 'on_sub', 'on_sub_and_presence'] satisfies SendLastItem[];

export function configRecord(config: NodeConfig): Record<string, string | number | boolean> {
  return { accessModel: config.accessModel, maxItems: config.maxItems, sendLastPublishedItem: config.sendLastPublishedItem, notifyRetract: config.notifyRetract };
}

export function parseConfig(value: unknown, what: string): NodeConfig {
  const record = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
  if (typeof record !== 'object' || record === null) throw new ServerError('STORE_CORRUPT', `${what} is not valid`);
  const { accessModel, maxItems, sendLastPublishedItem, notifyRetract } = record as Record<string, unknown>;
  if (typeof accessModel !== 'string' || !ACCESS.includes(accessModel) || typeof maxItems !== 'number' || typeof sendLastPublishedItem !== 'string'
    || !SEND_LAST.includes(sendLastPublishedItem) || typeof notifyRetract !== 'boolean') {
    throw new ServerError('STORE_CORRUPT', `${what} is not valid`);
  }
  return { accessModel: accessModel as AccessModel, maxItems, sendLastPublishedItem: sendLastPublishedItem as SendLastItem, notifyRetract };
}
