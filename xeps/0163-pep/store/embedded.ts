// PEP (XEP-0163) in the embedded (LMDB) store, in three sub-databases:
//   pep_nodes       [username, node]             -> configuration and the node's next order number
//   pep_items       [username, node, item id]    -> publisher, payload, order number
//   pep_item_order  [username, node, order]      -> item id (publish order; the newest last)
// A publish, retract or node delete touches several records in one write transaction.
import type { Database } from 'lmdb';
import { ServerError } from '../../../src/errors.js';
import { guard, type EmbeddedEnv, type UserDataOwner } from '../../../src/modules/api.js';
import { configRecord, parseConfig } from './config-record.js';
import type { NodeConfig, PepItem, PepStore } from './types.js';

type NodeKey = [string, string];
type ItemKey = [string, string, string];
type OrderKey = [string, string, number];

interface NodeRecord {
  config: Record<string, unknown>;
  next: number;
}

interface ItemRecord {
  publisher: string;
  payload: string;
  order: number;
}

function corrupt(what: string): ServerError {
  return new ServerError('STORE_CORRUPT', `embedded store: ${what} is not valid`);
}

function nodeRecord(value: unknown, what: string): NodeRecord | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw corrupt(what);
  const { config, next } = value as Record<string, unknown>;
  if (typeof config !== 'object' || config === null || typeof next !== 'number') throw corrupt(what);
  return { config: config as Record<string, unknown>, next };
}

function itemRecord(value: unknown, what: string): ItemRecord | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw corrupt(what);
  const { publisher, payload, order } = value as Record<string, unknown>;
  if (typeof publisher !== 'string' || typeof payload !== 'string' || typeof order !== 'number') throw corrupt(what);
  return { publisher, payload, order };
}

export class EmbeddedPepStore implements PepStore, UserDataOwner {
  private readonly nodesDb: Database<unknown, NodeKey>;
  private readonly itemsDb: Database<unknown, ItemKey>;
  private readonly orderDb: Database<unknown, OrderKey>;

  constructor(env: EmbeddedEnv) {
    this.nodesDb = env.openDB<unknown, NodeKey>({ name: 'pep_nodes', cache: false });
    this.itemsDb = env.openDB<unknown, ItemKey>({ name: 'pep_items', cache: false });
    this.orderDb = env.openDB<unknown, OrderKey>({ name: 'pep_item_order', cache: false });
  }

  async node(username: string, node: string): Promise<NodeConfig | undefined> {
    return guard('pep node', () => {
      const record = nodeRecord(this.nodesDb.get([username, node]), `the PEP node "${node}" of "${username}"`);
      return record === undefined ? undefined : parseConfig(record.config, `the PEP node "${node}" of "${username}"`);
    });
  }

  async nodes(username: string): Promise<Array<{ node: string; config: NodeConfig }>> {
    return guard('pep nodes', () => {
      const found: Array<{ node: string; config: NodeConfig }> = [];
      for (const { key, value } of this.nodesDb.getRange({ start: [username] })) {
        if (key[0] !== username) break;
        const record = nodeRecord(value, `the PEP node "${key[1]}" of "${username}"`);
        if (record) found.push({ node: key[1], config: parseConfig(record.config, `the PEP node "${key[1]}"`) });
      }
      return found;
    });
  }

  async putNode(username: string, node: string, config: NodeConfig): Promise<void> {
    await guard('pep putNode', () => this.nodesDb.transaction(() => {
      const old = nodeRecord(this.nodesDb.get([username, node]), `the PEP node "${node}" of "${username}"`);
      void this.nodesDb.put([username, node], { config: configRecord(config), next: old?.next ?? 1 });
      if (old) this.trim(username, node, config.maxItems);
    }));
  }

  async deleteNode(username: string, node: string): Promise<boolean> {
    return guard('pep deleteNode', () => this.nodesDb.transaction(() => {
      if (!this.nodesDb.doesExist([username, node])) return false;
      void this.nodesDb.remove([username, node]);
      for (const { key, value } of this.orderEntries(username, node)) {
        void this.orderDb.remove(key);
        void this.itemsDb.remove([username, node, value]);
      }
      return true;
    }));
  }

  async publish(username: string, node: string, item: PepItem, maxItems: number): Promise<string[]> {
    return guard('pep publish', () => this.nodesDb.transaction(() => {
      const record = nodeRecord(this.nodesDb.get([username, node]), `the PEP node "${node}" of "${username}"`);
      if (record === undefined) throw new ServerError('STORE_CONFLICT', `no PEP node "${node}" of "${username}"`);
      const old = itemRecord(this.itemsDb.get([username, node, item.id]), `a PEP item of "${username}"`);
      if (old) void this.orderDb.remove([username, node, old.order]);
      const order = record.next;
      void this.nodesDb.put([username, node], { config: record.config, next: order + 1 });
      void this.itemsDb.put([username, node, item.id], { publisher: item.publisher, payload: item.payload, order });
      void this.orderDb.put([username, node, order], item.id);
      return this.trim(username, node, maxItems);
    }));
  }

  async retract(username: string, node: string, id: string): Promise<boolean> {
    return guard('pep retract', () => this.nodesDb.transaction(() => {
      const old = itemRecord(this.itemsDb.get([username, node, id]), `a PEP item of "${username}"`);
      if (old === undefined) return false;
      void this.itemsDb.remove([username, node, id]);
      void this.orderDb.remove([username, node, old.order]);
      return true;
    }));
  }

  async items(username: string, node: string, max?: number): Promise<PepItem[]> {
    return guard('pep items', () => {
      const ids = this.orderEntries(username, node).map((e) => e.value);
      const wanted = max === undefined ? ids : ids.slice(Math.max(0, ids.length - max));
      return this.load(username, node, wanted);
    });
  }

  async itemsById(username: string, node: string, ids: readonly string[]): Promise<PepItem[]> {
    return guard('pep itemsById', () => {
      const wanted = new Set(ids);
      return this.load(username, node, this.orderEntries(username, node).map((e) => e.value).filter((id) => wanted.has(id)));
    });
  }

  removeUserData(username: string): void {
    for (const key of this.keysOf(this.nodesDb, username)) void this.nodesDb.remove(key);
    for (const key of this.keysOf(this.itemsDb, username)) void this.itemsDb.remove(key);
    for (const key of this.keysOf(this.orderDb, username)) void this.orderDb.remove(key);
  }

  private keysOf<K extends NodeKey | ItemKey | OrderKey>(db: Database<unknown, K>, username: string): K[] {
    const keys: K[] = [];
    for (const key of db.getKeys({ start: [username] })) {
      if (key[0] !== username) break;
      keys.push(key);
    }
    return keys;
  }

  /** The node's order entries, oldest first. */
  private orderEntries(username: string, node: string): Array<{ key: OrderKey; value: string }> {
    const found: Array<{ key: OrderKey; value: string }> = [];
    for (const { key, value } of this.orderDb.getRange({ start: [username, node] })) {
      if (key[0] !== username || key[1] !== node) break;
      if (typeof value !== 'string') throw corrupt(`a PEP item order of "${username}"`);
      found.push({ key, value });
    }
    return found;
  }

  /** Inside a write transaction: drops the oldest items beyond `maxItems`, returning their ids. */
  private trim(username: string, node: string, maxItems: number): string[] {
    const entries = this.orderEntries(username, node);
    const dropped = entries.slice(0, Math.max(0, entries.length - maxItems));
    for (const { key, value } of dropped) {
      void this.orderDb.remove(key);
      void this.itemsDb.remove([username, node, value]);
    }
    return dropped.map((e) => e.value);
  }

  private load(username: string, node: string, ids: readonly string[]): PepItem[] {
    const found: PepItem[] = [];
    for (const id of ids) {
      const record = itemRecord(this.itemsDb.get([username, node, id]), `a PEP item of "${username}"`);
      if (record) found.push({ id, publisher: record.publisher, payload: record.payload });
    }
    return found;
  }
}
