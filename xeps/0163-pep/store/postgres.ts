// PEP (XEP-0163) in PostgreSQL: pep_nodes and pep_items (migrations/0015_pep_nodes_items.sql), removed with the account
// by their foreign keys; items ordered by `ord`, taken from one sequence at each publish.
import { ServerError } from '../../../src/errors.js';
import { str, type Db, type Row } from '../../../src/modules/api.js';
import { configRecord, parseConfig } from './config-record.js';
import type { NodeConfig, PepItem, PepStore } from './types.js';

const item = (row: Row): PepItem => ({ id: str(row, 'item_id'), publisher: str(row, 'publisher'), payload: str(row, 'payload') });

/** Drops the oldest items beyond $3, returning their ids. */
const TRIM = `DELETE FROM pep_items WHERE username = $1 AND node = $2 AND ord NOT IN
  (SELECT ord FROM pep_items WHERE username = $1 AND node = $2 ORDER BY ord DESC LIMIT $3) RETURNING item_id`;

export class PostgresPepStore implements PepStore {
  constructor(private readonly db: Db) {}

  async node(username: string, node: string): Promise<NodeConfig | undefined> {
    const [row] = await this.db.query('SELECT config FROM pep_nodes WHERE username = $1 AND node = $2', [username, node]);
    return row ? parseConfig(row.config, `the PEP node "${node}" of "${username}"`) : undefined;
  }

  async nodes(username: string): Promise<Array<{ node: string; config: NodeConfig }>> {
    const rows = await this.db.query('SELECT node, config FROM pep_nodes WHERE username = $1 ORDER BY node COLLATE "C"', [username]);
    return rows.map((r) => ({ node: str(r, 'node'), config: parseConfig(r.config, `the PEP node "${str(r, 'node')}"`) }));
  }

  async putNode(username: string, node: string, config: NodeConfig): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO pep_nodes (username, node, config) VALUES ($1, $2, $3)
         ON CONFLICT (username, node) DO UPDATE SET config = EXCLUDED.config`,
        [username, node, JSON.stringify(configRecord(config))],
      );
      await tx.query(TRIM, [username, node, config.maxItems]);
    });
  }

  async deleteNode(username: string, node: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM pep_nodes WHERE username = $1 AND node = $2 RETURNING node', [username, node]);
    return rows.length === 1;
  }

  async publish(username: string, node: string, published: PepItem, maxItems: number): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      const exists = await tx.query('SELECT 1 FROM pep_nodes WHERE username = $1 AND node = $2 FOR UPDATE', [username, node]);
      if (exists.length === 0) throw new ServerError('STORE_CONFLICT', `no PEP node "${node}" of "${username}"`);
      await tx.query(
        `INSERT INTO pep_items (username, node, item_id, publisher, payload) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (username, node, item_id) DO UPDATE SET publisher = EXCLUDED.publisher, payload = EXCLUDED.payload, ord = nextval('pep_item_order')`,
        [username, node, published.id, published.publisher, published.payload],
      );
      const dropped = await tx.query(TRIM, [username, node, maxItems]);
      return dropped.map((r) => str(r, 'item_id'));
    });
  }

  async retract(username: string, node: string, id: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM pep_items WHERE username = $1 AND node = $2 AND item_id = $3 RETURNING item_id', [username, node, id]);
    return rows.length === 1;
  }

  async items(username: string, node: string, max?: number): Promise<PepItem[]> {
    const rows = await this.db.query(
      `SELECT item_id, publisher, payload FROM (SELECT item_id, publisher, payload, ord FROM pep_items
       WHERE username = $1 AND node = $2 ORDER BY ord DESC LIMIT $3) newest ORDER BY ord`,
      [username, node, max ?? null],
    );
    return rows.map(item);
  }

  async itemsById(username: string, node: string, ids: readonly string[]): Promise<PepItem[]> {
    const rows = await this.db.query('SELECT item_id, publisher, payload FROM pep_items WHERE username = $1 AND node = $2 AND item_id = ANY($3) ORDER BY ord', [username, node, [...ids]]);
    return rows.map(item);
  }
}
