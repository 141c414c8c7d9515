// The archives in `ratatosk export` and `import`: one record a line, preferences first, then every message by
// (owner, id), read from the store a page at a time. A message or preferences already held stay as they are.
import type { ModuleTransfer, TransferValue } from '../../../src/modules/api.js';
import { parseElement } from '../../../src/xml/element.js';
import { ID_PATTERN } from '../ids.js';
import type { ArchivedMessage, ArchivePrefs, ArchiveStore } from './types.js';

const PAGE = 1000;

type Parsed = { kind: 'message'; message: ArchivedMessage } | { kind: 'prefs'; owner: string; prefs: ArchivePrefs };

const isJidList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function parseRecord(data: unknown): Parsed | string {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'expected an object';
  const r = data as Record<string, unknown>;
  if (typeof r.owner !== 'string' || r.owner === '') return 'owner: expected a username or a room JID';
  if (r.kind === 'prefs') {
    const mode = r.default;
    if (mode !== 'always' && mode !== 'never' && mode !== 'roster') return 'default: expected always, never or roster';
    if (!isJidList(r.always) || !isJidList(r.never)) return 'always, never: expected lists of JIDs';
    return { kind: 'prefs', owner: r.owner, prefs: { default: mode, always: r.always, never: r.never } };
  }
  if (r.kind !== 'message') return 'kind: expected "message" or "prefs"';
  const { owner, id, with: peerBare, peer, timestamp, stanza } = r;
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) return 'id: expected an archive id';
  if (typeof peerBare !== 'string' || typeof peer !== 'string') return 'with, peer: expected JIDs';
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0) return 'timestamp: expected milliseconds since 1970';
  if (typeof stanza !== 'string') return 'stanza: expected the message as XML';
  try {
    if (parseElement(stanza).name !== 'message') return 'stanza: expected a <message/>';
  } catch {
    return 'stanza: not well-formed XML';
  }
  return { kind: 'message', message: { owner, id, with: peerBare, peer, timestamp, stanza } };
}

export const archiveTransfer: ModuleTransfer<ArchiveStore> = {
  async *exportRecords(store) {
    for (const { owner, prefs } of await store.allPrefs()) {
      const record: { [key: string]: TransferValue } = { kind: 'prefs', owner, default: prefs.default, always: [...prefs.always], never: [...prefs.never] };
      yield record;
    }
    let after: { owner: string; id: string } | undefined;
    for (;;) {
      const page = await store.scan(after, PAGE);
      for (const m of page) yield { kind: 'message', owner: m.owner, id: m.id, with: m.with, peer: m.peer, timestamp: m.timestamp, stanza: m.stanza };
      const last = page[page.length - 1];
      if (last === undefined || page.length < PAGE) return;
      after = { owner: last.owner, id: last.id };
    }
  },
  checkRecord: (data) => {
    const parsed = parseRecord(data);
    return typeof parsed === 'string' ? parsed : undefined;
  },
  async importRecord(store, data) {
    const parsed = parseRecord(data);
    if (typeof parsed === 'string') return false;
    if (parsed.kind === 'prefs') {
      if ((await store.getPrefs(parsed.owner)) !== undefined) return false;
      await store.setPrefs(parsed.owner, parsed.prefs);
      return true;
    }
    if (await store.has(parsed.message.owner, parsed.message.id)) return false;
    await store.append([parsed.message]);
    return true;
  },
};
