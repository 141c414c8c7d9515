// The PEP store (XEP-0163 over XEP-0060): each account's nodes with their configuration, and each node's items
// with id, publisher and payload, in publish order. Implemented in embedded.ts (LMDB) and postgres.ts
// (migrations/0015_pep_nodes_items.sql); both pass pep.contract.ts.

export type AccessModel = 'presence' | 'open' | 'whitelist';
export type SendLastItem = 'never' | 'on_sub' | 'on_sub_and_presence';

export interface NodeConfig {
  readonly accessModel: AccessModel;
  /** Items kept; the oldest go when a publish passes it. */
  readonly maxItems: number;
  readonly sendLastPublishedItem: SendLastItem;
  readonly notifyRetract: boolean;
}

export interface PepItem {
  readonly id: string;
  /** The bare JID that published it. */
  readonly publisher: string;
  /** The serialised payload element. */
  readonly payload: string;
}

export interface PepStore {
  node(username: string, node: string): Promise<NodeConfig | undefined>;
  /** The account's nodes, sorted by name. */
  nodes(username: string): Promise<Array<{ node: string; config: NodeConfig }>>;
  /** Creates the node or replaces its configuration; a smaller maxItems drops the oldest items at once. */
  putNode(username: string, node: string, config: NodeConfig): Promise<void>;
  /** Removes the node and its items; false when there was none. */
  deleteNode(username: string, node: string): Promise<boolean>;
  /**
   * Stores the item as the node's newest (an item with the same id is replaced and becomes the newest), then keeps
   * only the newest `maxItems`; the node must exist. Returns the ids it dropped.
   */
  publish(username: string, node: string, item: PepItem, maxItems: number): Promise<string[]>;
  /** Removes one item; false when there was none. */
  retract(username: string, node: string, id: string): Promise<boolean>;
  /** The node's newest `max` items (all without), oldest first. */
  items(username: string, node: string, max?: number): Promise<PepItem[]>;
  /** The items with these ids that exist, in publish order. */
  itemsById(username: string, node: string, ids: readonly string[]): Promise<PepItem[]>;
}
