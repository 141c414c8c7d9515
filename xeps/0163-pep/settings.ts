// The [pep] configuration table (XEP-0163); ratatosk.example.toml documents each key.
import { configTypes, moduleConfig } from '../../src/modules/api.js';

const { integer } = configTypes;

export interface PepSettings {
  /** Most items one node keeps (pubsub#max_items is capped here; 'max' means this). */
  readonly maxItems: number;
  /** Largest item payload, in UTF-8 bytes of its XML. */
  readonly maxPayloadBytes: number;
  /** Most nodes one account has. */
  readonly maxNodes: number;
}

export const pepConfig = moduleConfig({
  section: 'pep',
  shape: {
    max_items: integer(1, 10_000).default(1000),
    max_payload_size: integer(1024, 1024 * 1024).default(128 * 1024),
    max_nodes: integer(1, 10_000).default(100),
  },
  resolve: (t): PepSettings => ({ maxItems: t.max_items, maxPayloadBytes: t.max_payload_size, maxNodes: t.max_nodes }),
});
