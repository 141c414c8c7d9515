// The [fast] configuration table (XEP-0484); ratatosk.example.toml documents each key.
import { configTypes, moduleConfig } from '../../src/modules/api.js';

const { seconds } = configTypes;

export interface FastSettings {
  /** How long a token works after it was issued (each use replaces it with a new one). */
  readonly tokenLifetimeSeconds: number;
}

export const fastConfig = moduleConfig({
  section: 'fast',
  shape: {
    token_lifetime: seconds.default(14 * 24 * 3600),
  },
  resolve: (t): FastSettings => ({ tokenLifetimeSeconds: t.token_lifetime }),
});
