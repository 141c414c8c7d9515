// What both bulk loaders do to a batch before writing it, so they agree on edge cases: a username
// given twice is created once (the first one given) under 'skip' and refuses the batch under
// 'fail'; a JID given twice in one roster keeps the last item, as consecutive setItem calls would.
import { ServerError } from '../errors.js';
import type { BulkUser, RosterItem } from './types.js';

export interface PreparedUser extends BulkUser {
  roster: RosterItem[];
}

export function prepareBatch(users: readonly BulkUser[], onExisting: 'skip' | 'fail'): PreparedUser[] {
  const seen = new Set<string>();
  const batch: PreparedUser[] = [];
  for (const user of users) {
    if (seen.has(user.username)) {
      if (onExisting === 'fail') throw new ServerError('USER_EXISTS', `cannot load the batch: user "${user.username}" appears twice in it (nothing in the batch was written)`);
      continue;
    }
    seen.add(user.username);
    batch.push({ ...user, roster: uniqueItems(user.roster ?? []) });
  }
  return batch;
}

function uniqueItems(items: readonly RosterItem[]): RosterItem[] {
  if (items.length < 2) return [...items];
  const byJid = new Map<string, RosterItem>();
  for (const item of items) {
    byJid.delete(item.jid); // the last one given wins, in its own place
    byJid.set(item.jid, item);
  }
  return byJid.size === items.length ? [...items] : [...byJid.values()];
}
