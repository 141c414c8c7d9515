// Validation of stored records: whatever a back end reads from disk or a row enters as unknown
// and is checked here before the rest of the server sees it.
import { SCRAM_HASHES, type ScramCredential, type StoredCredentials } from '../auth/credentials.js';

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

/**
 * The credentials if `value` holds valid SCRAM credentials for one or more known hashes (a known
 * hash given but invalid, or no hash at all, is refused; unknown keys are ignored), else undefined.
 */
export function parseStoredCredentials(value: unknown): StoredCredentials | undefined {
  if (!isRecord(value)) return undefined;
  const credentials: StoredCredentials = {};
  for (const hash of SCRAM_HASHES) {
    const entry = value[hash];
    if (entry === undefined || entry === null) continue;
    const parsed = parseScramCredential(entry);
    if (parsed === undefined) return undefined;
    credentials[hash] = parsed;
  }
  return Object.keys(credentials).length > 0 ? credentials : undefined;
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

/** Of the ids an offline take's delivery returned, those naming a message it was given, each once. */
export function deliveredIds(messages: readonly { id: string }[], handed: readonly string[]): string[] {
  const listed = new Set(messages.map((m) => m.id));
  return [...new Set(handed)].filter((id) => listed.has(id));
}
