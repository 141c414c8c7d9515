// XEP-0474 (SASL SCRAM Downgrade Protection) §3: the server-first-message carries h=, the hash
// (with the SCRAM mechanism's own hash function) of what the client was offered, so a client can see
// whether a man in the middle stripped mechanisms or channel-binding types from the stream features.
// The string: the mechanism names sorted, joined by 0x1E; then, when channel-binding types were
// advertised (XEP-0440), 0x1F and the types sorted, joined by 0x1E.
import { digest, type ScramHash } from '../../auth/credentials.js';

const ITEM = '\u001e';
const GROUP = '\u001f';

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function downgradeString(mechanisms: readonly string[], channelBindings: readonly string[]): string {
  const names = [...mechanisms].sort(byCodePoint).join(ITEM);
  return channelBindings.length === 0 ? names : `${names}${GROUP}${[...channelBindings].sort(byCodePoint).join(ITEM)}`;
}

export function downgradeHash(hash: ScramHash, mechanisms: readonly string[], channelBindings: readonly string[]): Buffer {
  return digest(hash, Buffer.from(downgradeString(mechanisms, channelBindings), 'utf8'));
}
