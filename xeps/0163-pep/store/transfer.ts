// PEP in `ratatosk export`/`import`: on its account's line, the account's nodes, each with its configuration
// and its items oldest first: { "<node>": { "config": {...}, "items": [{ "id", "publisher", "payload" }] } }.
import type { ModuleTransfer, TransferValue } from '../../../src/modules/api.js';
import { parseElement } from '../../../src/xml/element.js';
import { configRecord, parseConfig } from './config-record.js';
import type { PepStore } from './types.js';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nodesProblem(data: unknown): string | undefined {
  if (!isObject(data)) return 'expected an object of node name to { config, items }';
  for (const [node, value] of Object.entries(data)) {
    if (node === '' || !isObject(value) || !Array.isArray(value.items)) return `${JSON.stringify(node)}: expected { config, items: [...] }`;
    try {
      parseConfig(value.config, `the configuration of ${node}`);
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
    for (const item of value.items) {
      if (!isObject(item) || typeof item.id !== 'string' || typeof item.publisher !== 'string' || typeof item.payload !== 'string') return `${node}: an item needs id, publisher and payload strings`;
      try {
        parseElement(item.payload);
      } catch {
        return `${node}: the payload of item ${JSON.stringify(item.id)} is not well-formed XML`;
      }
    }
  }
  return undefined;
}

export const pepTransfer: ModuleTransfer<PepStore> = {
  async exportAccount(store, username) {
    const nodes = await store.nodes(username);
    if (nodes.length === 0) return undefined;
    const data: { [node: string]: TransferValue } = {};
    for (const { node, config } of nodes) {
      const items = await store.items(username, node);
      data[node] = { config: configRecord(config), items: items.map((i) => ({ id: i.id, publisher: i.publisher, payload: i.payload })) };
    }
    return data;
  },
  checkAccount: nodesProblem,
  async importAccount(store, username, data) {
    if (!isObject(data)) return;
    for (const [node, value] of Object.entries(data)) {
      if (!isObject(value) || !Array.isArray(value.items)) continue;
      const config = parseConfig(value.config, `the configuration of ${node}`);
      await store.putNode(username, node, config);
      for (const item of value.items) {
        if (isObject(item) && typeof item.id === 'string' && typeof item.publisher === 'string' && typeof item.payload === 'string') {
          await store.publish(username, node, { id: item.id, publisher: item.publisher, payload: item.payload }, config.maxItems);
        }
      }
    }
  },
};
