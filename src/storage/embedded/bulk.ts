// Bulk provisioning in the embedded (LMDB) store: a whole batch of users with their rosters in
// one write transaction, which is what makes loading fast (one commit and one fsync per batch).
import { ServerError } from '../../errors.js';
import { prepareBatch, type PreparedUser } from '../bulk-batch.js';
import type { AccountRecord } from '../records.js';
import type { BulkLoader, BulkUser } from '../types.js';
import type { AccountsDb } from './accounts.js';
import { guard, type EmbeddedEnv } from './env.js';
import type { EmbeddedRosterStore } from './roster.js';

export class EmbeddedBulkLoader implements BulkLoader {
  constructor(
    private readonly env: EmbeddedEnv,
    private readonly accounts: AccountsDb,
    private readonly roster: EmbeddedRosterStore,
  ) {}

  async load(users: readonly BulkUser[], options: { onExisting: 'skip' | 'fail' }): Promise<number> {
    const batch = prepareBatch(users, options.onExisting);
    if (batch.length === 0) return 0;
    const now = Date.now();
    // lmdb-js commits what a transaction callback wrote even if it throws afterwards, so the
    // callback decides everything before its first write and reports a refusal as a value.
    const outcome = await guard('bulk load', () => this.env.transaction((): { created: number } | { existing: string } => {
      const fresh: PreparedUser[] = [];
      for (const user of batch) {
        if (!this.accounts.doesExist(user.username)) fresh.push(user);
        else if (options.onExisting === 'fail') return { existing: user.username };
      }
      for (const user of fresh) {
        const record: AccountRecord = { credentials: user.credentials, createdAt: user.createdAt ?? now };
        void this.accounts.put(user.username, record);
        this.roster.writeNewRoster(user.username, user.roster);
      }
      return { created: fresh.length };
    }));
    if ('existing' in outcome) throw new ServerError('USER_EXISTS', `cannot load the batch: user "${outcome.existing}" already exists (nothing in the batch was written)`);
    return outcome.created;
  }
}
