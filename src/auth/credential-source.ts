// The accounts store as SASL mechanisms see it (stream/sasl/types.ts CredentialSource), with the
// credential upgrade: a login that saw the password (PLAIN) derives the keys an account lacks for a
// configured hash ([auth] scram_hashes), or has with another iteration count ([auth] scram_iterations).
// SCRAM logins cannot: the server sees a proof for one hash, never the password.
import type { Config } from '../config/types.js';
import { Jid } from '../jid.js';
import type { Logger } from '../observability/log.js';
import type { AccountStore } from '../storage/types.js';
import type { CredentialSource } from '../stream/sasl/types.js';
import { staleHashes, upgradeCredentials, type StoredCredentials } from './credentials.js';
import type { StandInCredentials } from './stand-in.js';

function localOf(username: string): string | undefined {
  try {
    return Jid.normaliseLocal(username);
  } catch {
    return undefined;
  }
}

function sameKeys(a: StoredCredentials, b: StoredCredentials): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function accountCredentialSource(accounts: AccountStore, standIns: StandInCredentials, auth: Config['auth'], log: Logger): CredentialSource {
  const getCredentials = async (username: string): Promise<StoredCredentials | undefined> => {
    const local = localOf(username);
    return local === undefined ? undefined : (await accounts.get(local))?.credentials;
  };
  return {
    // PLAIN's first hash and its stand-ins': SHA-256 when offered, else the strongest offered.
    plainHash: auth.scramHashes.includes('sha256') ? 'sha256' : [...auth.scramHashes].sort().reverse()[0],
    getCredentials,
    async getCredential(username, hash) {
      return (await getCredentials(username))?.[hash];
    },
    standIn: (username, hash) => standIns.credential(hash, username),
    async passwordVerified(username, password, verified) {
      const local = localOf(username);
      if (local === undefined) return;
      try {
        const upgraded = await upgradeCredentials(verified, password, auth.scramHashes, auth.scramIterations);
        if (!upgraded) return;
        // Not if the password changed meanwhile: keys from the old one must not replace the new ones.
        const current = await accounts.get(local);
        if (!current || !sameKeys(current.credentials, verified)) return;
        await accounts.setCredentials(local, upgraded);
        log.info({ user: local, hashes: staleHashes(verified, auth.scramHashes, auth.scramIterations), iterations: auth.scramIterations }, 'SCRAM credentials upgraded at a PLAIN login');
      } catch (err) {
        // The login stands; the upgrade is tried again at the next one.
        log.warn({ err, user: local }, 'could not upgrade SCRAM credentials');
      }
    },
  };
}
