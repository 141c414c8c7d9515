// The [push] configuration table (XEP-0357); ratatosk.example.toml documents each key.
import { z } from 'zod';
import { configTypes, moduleConfig } from '../../src/modules/api.js';

const { integer } = configTypes;

/**
 * Whether notifications carry the message body (XEP-0357 §9: the app server and the push services behind it
 * read what they get). 'requested': only for registrations whose client asked for it in its form (README);
 * 'never': not even then; 'always': for every registration.
 */
export type IncludeBody = 'never' | 'requested' | 'always';

export interface PushSettings {
  readonly includeBody: IncludeBody;
  /** Most app server registrations one account keeps; enabling one more forgets the oldest. */
  readonly maxPerAccount: number;
  /** How long the server waits for the app server's answer to a publish (ms). */
  readonly publishTimeoutMs: number;
}

export const pushConfig = moduleConfig({
  section: 'push',
  shape: {
    include_body: z.enum(['never', 'requested', 'always']).default('requested'),
    max_per_account: integer(1, 1000).default(10),
    publish_timeout: integer(1, 300).default(30),
  },
  resolve: (t): PushSettings => ({
    includeBody: t.include_body,
    maxPerAccount: t.max_per_account,
    publishTimeoutMs: t.publish_timeout * 1000,
  }),
});
