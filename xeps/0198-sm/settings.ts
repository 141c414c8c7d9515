// The [stream_management] configuration table (XEP-0198); ratatosk.example.toml documents each key.
import { z } from 'zod';
import { configTypes, moduleConfig } from '../../src/modules/api.js';

const { integer } = configTypes;

export interface SmSettings {
  /** Seconds a session whose connection dropped is kept for resumption (the 'max' of <enabled/>). */
  readonly resumeTimeout: number;
  /** Most stanzas kept unacknowledged per session before it is closed with policy-violation. */
  readonly maxUnacked: number;
  /** Where clients should reconnect to resume (<enabled location/>): host or host:port; none when empty. */
  readonly location: string | undefined;
}

export const smConfig = moduleConfig({
  section: 'stream_management',
  shape: {
    resume_timeout: integer(1, 86_400).default(300),
    max_unacked: integer(1, 1_000_000).default(1000),
    location: z.string().regex(/^[^\s'"<>&]*$/, 'expected a host or host:port').default(''),
  },
  resolve: (t): SmSettings => ({
    resumeTimeout: t.resume_timeout,
    maxUnacked: t.max_unacked,
    location: t.location === '' ? undefined : t.location,
  }),
});
