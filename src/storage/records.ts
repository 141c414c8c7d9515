// Validation of stored records: whatever a back end reads from disk or a row enters as unknown
// and is checked here before the rest of the server sees it.
import type { ScramCredential, StoredCredentials } from '../auth/credentials.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseScramCredential(value: unknown): ScramCredential | undefined {
  if (!isRecord(value)) return undefined;
  const { salt, iterations, storedKey, serverKey } = value;
  if (typeof salt !== 'string' || typeof storedKey !== 'string' || typeof serverKey !== 'string') return undefined;
  if (typeof iterations !== 'number' || !Number.isSafeInteger(iterations) || iterations < 1) return undefined;
  return { salt, iterations, storedKey, serverKey };
}

/** The credentials if `value` holds a SCRAM credential for every hash we support, else undefined. */
export function parseStoredCredentials(value: unknown): StoredCredentials | undefined {
  if (!isRecord(value)) return undefined;
  const sha1 = parseScramCredential(value.sha1);
  const sha256 = parseScramCredential(value.sha256);
  if (sha1 === undefined || sha256 === undefined) return undefined;
  return { sha1, sha256 };
}

/** The embedded account record: the value stored under the username. */
export interface AccountRecord {
  credentials: StoredCredentials;
  createdAt: number;
}

export function parseAccountRecord(value: unknown): AccountRecord | undefined {
  if (!isRecord(value)) return undefined;
  const credentials = parseStoredCredentials(value.credentials);
  const { createdAt } = value;
  if (credentials === undefined || typeof createdAt !== 'number' || !Number.isFinite(createdAt)) return undefined;
  return { credentials, createdAt };
}
