// The [csi] configuration table (XEP-0352); ratatosk.example.toml documents each key.
import { configTypes, moduleConfig } from '../../src/modules/api.js';

const { integer } = configTypes;

export interface CsiSettings {
  /** Most stanzas held for one inactive session; the next one flushes them (nothing is dropped). */
  readonly maxHeld: number;
}

export const csiConfig = moduleConfig({
  section: 'csi',
  shape: {
    max_held: integer(1, 100_000).default(100),
  },
  resolve: (t): CsiSettings => ({ maxHeld: t.max_held }),
});
