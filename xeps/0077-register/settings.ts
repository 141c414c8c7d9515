// The [registration] configuration table of XEP-0077 in-band registration (ratatosk.example.toml documents
// each key). Checked with the rest of the configuration at load and at start (src/modules/config.ts).
import { configTypes, moduleConfig } from '../../src/modules/api.js';

const { bool, integer, seconds } = configTypes;

export interface RegistrationSettings {
  /** Whether clients may create accounts before authenticating (§3.1); password change and cancellation work either way. */
  readonly allow: boolean;
  /** Registrations one IP address may complete per window; more are refused with policy-violation. */
  readonly maxPerAddress: number;
  readonly windowSeconds: number;
}

export const registrationConfig = moduleConfig({
  section: 'registration',
  shape: {
    allow: bool.default(false),
    max_per_address: integer(1, 1_000_000).default(3),
    window_seconds: seconds.default(600),
  },
  env: { RATATOSK_ALLOW_REGISTRATION: { path: ['registration', 'allow'], kind: 'boolean' } },
  // A reload (SIGHUP, `ratatosk reload`) applies them: new streams offer registration or not.
  reloadable: ['allow', 'max_per_address', 'window_seconds'],
  resolve: (t): RegistrationSettings => ({ allow: t.allow, maxPerAddress: t.max_per_address, windowSeconds: t.window_seconds }),
});
