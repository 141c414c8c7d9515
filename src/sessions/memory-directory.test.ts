// The single-node directory passes the shared SessionDirectory contract over a real local registry.
import { sessionDirectoryContract, type DirectoryHarness } from './directory.contract.js';
import { LocalSessionRegistry } from './local-registry.js';
import { MemoryDirectory } from './memory-directory.js';
import type { BoundSession, SessionRecord } from './types.js';

function sessionFor(record: SessionRecord): BoundSession {
  return {
    id: record.sid,
    jid: record.jid,
    transport: 'tcp',
    remoteAddress: '127.0.0.1',
    startedAt: Date.now(),
    presence: { available: record.available, priority: record.priority },
    lastActivity: Date.now(),
    flags: new Set(),
    send: () => undefined,
    sendText: () => undefined,
    close: () => undefined,
  };
}

sessionDirectoryContract('memory', async () => {
  const registry = new LocalSessionRegistry();
  const directory = new MemoryDirectory(registry, 'solo');
  const bound = new Map<string, BoundSession>();
  const harness: DirectoryHarness = {
    directory,
    node: 'solo',
    async bind(record) {
      const session = sessionFor(record);
      bound.set(record.sid, session);
      registry.add(session);
      return directory.register();
    },
    async unbind(record) {
      const session = bound.get(record.sid);
      if (session) registry.remove(session);
      await directory.unregister(record);
    },
    async presence(record, available, priority) {
      const session = bound.get(record.sid);
      if (session) Object.assign(session.presence, { available, priority });
      return directory.update({ ...record, available, priority });
    },
  };
  return { harness, cleanup: async () => undefined };
}, { shared: false });
