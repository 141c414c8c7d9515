// Where a cluster-wide singleton lives: a MUC room is hosted by exactly one node at a time, which keeps its
// state and orders its messages (the model of ejabberd's and MongooseIM's room processes, registered
// cluster-wide). On one node everything is here; on Redis, redis-placement.ts keeps the claims.

export interface Placement {
  /** This node's id. */
  readonly nodeId: string;
  /**
   * The node that hosts `name`. When no live node does, this node claims it and answers its own id.
   * `fresh` skips the local cache (a stanza another node forwarded here: that node's view may be stale).
   */
  locate(name: string, options?: { fresh?: boolean }): Promise<string>;
  /** This node no longer hosts `name` (a room that ended); another may claim it. */
  release(name: string): Promise<void>;
  /** Forgets what the cache says about a node that died or left. */
  forgetNode(node: string): void;
}

/** A node alone hosts everything. */
export class LocalPlacement implements Placement {
  constructor(readonly nodeId: string) {}

  locate(): Promise<string> {
    return Promise.resolve(this.nodeId);
  }

  release(): Promise<void> {
    return Promise.resolve();
  }

  forgetNode(): void {}
}
