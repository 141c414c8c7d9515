// FAST tokens in the embedded (LMDB) store: sub-database `fast_tokens` keyed by [username, agent].
import type { Database } from 'lmdb';
import { ServerError } from '../../../src/errors.js';
import { accountExists, guard, type EmbeddedEnv, type UserDataOwner } from '../../../src/modules/api.js';
import type { FastTokenRecord, FastTokenStore } from './types.js';

type Key = [string, string];

function parse(value: unknown): FastTokenRecord | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'object' && value !== null) {
    const { mechanism, verifier, responder, expiresAt, credential } = value as Record<string, unknown>;
    if (typeof mechanism === 'string' && typeof verifier === 'string' && typeof responder === 'string' && typeof expiresAt === 'number' && typeof credential === 'string') {
      return { mechanism, verifier, responder, expiresAt, credential };
    }
  }
  throw new ServerError('STORE_CORRUPT', 'embedded store: a FAST token record is not valid');
}

export class EmbeddedFastTokenStore implements FastTokenStore, UserDataOwner {
  private readonly db: Database<unknown, Key>;
  private readonly accountExists: (username: string) => boolean;

  constructor(env: EmbeddedEnv) {
    this.db = env.openDB<unknown, Key>({ name: 'fast_tokens', cache: false });
    this.accountExists = accountExists(env);
  }

  async put(username: string, agent: string, record: FastTokenRecord): Promise<void> {
    await guard('fast token put', () => this.db.transaction(() => {
      if (this.accountExists(username)) void this.db.put([username, agent], { ...record });
    }));
  }

  async get(username: string, agent: string): Promise<FastTokenRecord | undefined> {
    return parse(await guard('fast token get', () => this.db.get([username, agent])));
  }

  async take(username: string, agent: string, verifier: string): Promise<FastTokenRecord | undefined> {
    return guard('fast token take', () => this.db.transaction(() => {
      const record = parse(this.db.get([username, agent]));
      if (!record || record.verifier !== verifier) return undefined;
      void this.db.remove([username, agent]);
      return record;
    }));
  }

  async revoke(username: string, agent?: string): Promise<number> {
    return guard('fast token revoke', () => this.db.transaction(() => this.removeAll(username, agent)));
  }

  private removeAll(username: string, agent?: string): number {
    let count = 0;
    const keys = agent === undefined ? [...this.db.getKeys({ start: [username], end: [username, '\uffff'] })] : [[username, agent] as Key];
    for (const key of keys) {
      if (this.db.get(key) === undefined) continue;
      void this.db.remove(key);
      count++;
    }
    return count;
  }

  removeUserData(username: string): void {
    this.removeAll(username);
  }
}
