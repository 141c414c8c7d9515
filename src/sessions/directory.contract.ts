// The SessionDirectory contract: the single-node directory and the Redis one run these same tests.
// Usage, in an implementation's test file:
//   sessionDirectoryContract('memory', async () => ({ harness, cleanup }), { shared: false });
// The tests of a directory shared between nodes are registered only for one that says it is shared
// (rather than skipped at run time, which would show as pending on every run).
import assert from 'node:assert/strict';
import { Jid } from '../jid.js';
import type { SessionDirectory } from './directory.js';
import type { SessionRecord } from './types.js';

/** Binds sessions the way the server does, so that each implementation sees what it would see. */
export interface DirectoryHarness {
  readonly directory: SessionDirectory;
  /** The node the harness binds on. */
  readonly node: string;
  /** Binds a session (the local registry as the c2s stream does, then the directory); returns register()'s answer. */
  bind(record: SessionRecord): Promise<SessionRecord | undefined>;
  /** Ends it (registry, then directory). */
  unbind(record: SessionRecord): Promise<void>;
  /** Changes its presence (the session, then the directory); returns update()'s answer. */
  presence(record: SessionRecord, available: boolean, priority: number): Promise<boolean>;
}

export interface DirectoryFixture {
  harness: DirectoryHarness;
  cleanup(): Promise<void>;
}

let counter = 0;

export interface DirectoryContractOptions {
  /** Whether the directory is shared between nodes (SessionDirectory.shared); default true. */
  shared: boolean;
}

export function sessionDirectoryContract(name: string, open: () => Promise<DirectoryFixture>, options: DirectoryContractOptions = { shared: true }): void {
  describe(`SessionDirectory contract: ${name}`, () => {
    let fixture: DirectoryFixture;
    const h = (): DirectoryHarness => fixture.harness;
    const dir = (): SessionDirectory => fixture.harness.directory;
    const user = (local = 'user'): string => `${local}${++counter}@example.org`;
    const record = (full: string, extra: Partial<SessionRecord> = {}): SessionRecord => ({
      jid: Jid.parse(full),
      node: h().node,
      sid: `sid-${++counter}`,
      available: false,
      priority: 0,
      ...extra,
    });
    const strip = (r: SessionRecord | undefined): object | undefined => r && { jid: r.jid.toString(), node: r.node, sid: r.sid, available: r.available, priority: r.priority };

    beforeEach(async () => {
      fixture = await open();
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    it('finds a bound session by full JID and lists it under its bare JID, with its node and session id', async () => {
      const bare = user();
      const balcony = record(`${bare}/balcony`);
      assert.equal(await h().bind(balcony), undefined);
      assert.deepEqual(strip(await dir().find(`${bare}/balcony`)), strip(balcony));
      assert.deepEqual((await dir().resources(bare)).map(strip), [strip(balcony)]);
      assert.equal(await dir().find(`${bare}/elsewhere`), undefined);
      assert.deepEqual(await dir().resources(user()), []);
    });

    it('lists every resource of a bare JID', async () => {
      const bare = user();
      const a = record(`${bare}/a`);
      const b = record(`${bare}/b`);
      await h().bind(a);
      await h().bind(b);
      const listed = (await dir().resources(bare)).map((r) => r.jid.toString()).sort();
      assert.deepEqual(listed, [`${bare}/a`, `${bare}/b`]);
      assert.deepEqual((await dir().sessionsOf(h().node)).filter((j) => j.startsWith(bare)).sort(), listed);
    });

    it('records availability and priority as presence changes (RFC 6121 §8.5.2 chooses by them)', async () => {
      const bare = user();
      const r = record(`${bare}/r`);
      await h().bind(r);
      assert.equal(await h().presence(r, true, 5), true);
      assert.deepEqual(strip(await dir().find(`${bare}/r`)), strip({ ...r, available: true, priority: 5 }));
      assert.equal(await h().presence(r, false, -1), true);
      const [listed] = await dir().resources(bare);
      assert.equal(listed?.available, false);
      assert.equal(listed?.priority, -1);
    });

    it('forgets a session that ended, and lists nothing for a user without resources', async () => {
      const bare = user();
      const r = record(`${bare}/r`);
      await h().bind(r);
      await h().unbind(r);
      assert.equal(await dir().find(`${bare}/r`), undefined);
      assert.deepEqual(await dir().resources(bare), []);
      assert.ok(!(await dir().sessionsOf(h().node)).includes(`${bare}/r`));
    });

    it('keeps JIDs with unusual characters apart (braces, non-ASCII, slashes in the resource)', async () => {
      const tricky = [`a}b{c${++counter}@example.org/x/y`, `{tag}${++counter}@example.org/ünï`, `plain${++counter}@example.org/{}`];
      for (const full of tricky) await h().bind(record(full));
      for (const full of tricky) assert.equal((await dir().find(full))?.jid.toString(), full);
      for (const full of tricky) assert.deepEqual((await dir().resources(Jid.parse(full).bareString())).map((r) => r.jid.toString()), [full]);
    });

    it('leaves alone a record a newer session took over: updates and unregistration by the older one change nothing', async function () {
      const bare = user();
      const older = record(`${bare}/r`);
      const newer = record(`${bare}/r`);
      await h().bind(older);
      await h().bind(newer);
      assert.equal(await dir().update({ ...older, available: true, priority: 9 }), false);
      await dir().unregister(older);
      assert.deepEqual(strip(await dir().find(`${bare}/r`)), strip(newer));
      assert.ok((await dir().sessionsOf(h().node)).includes(`${bare}/r`));
    });

    it(`is ${options.shared ? '' : 'not '}shared between nodes, as its registration says`, () => {
      assert.equal(dir().shared, options.shared);
    });

    if (options.shared) describe('shared between nodes', () => {
      it('register() returns the record of the same full JID on another node, which that node must close with conflict', async () => {
        const bare = user();
        const there = record(`${bare}/r`, { node: 'other-node', available: true, priority: 3 });
        await dir().register(there);
        const here = record(`${bare}/r`);
        const displaced = await h().bind(here);
        assert.deepEqual(strip(displaced), strip(there));
        assert.deepEqual(strip(await dir().find(`${bare}/r`)), strip(here));
        // The other node's session ends later: its unregistration leaves the new record in place.
        await dir().unregister(there);
        assert.deepEqual(strip(await dir().find(`${bare}/r`)), strip(here));
        assert.ok(!(await dir().sessionsOf('other-node')).includes(`${bare}/r`));
      });

      it('wipeNode() removes exactly that node’s records and returns them, sparing JIDs another node took over', async () => {
        const dead = `dead-${++counter}`;
        const bare = user();
        const a = record(`${bare}/a`, { node: dead, available: true, priority: 1 });
        const b = record(`${bare}/b`, { node: dead });
        const taken = record(`${bare}/c`, { node: dead });
        for (const r of [a, b, taken]) await dir().register(r);
        const mine = record(`${bare}/mine`);
        await h().bind(mine);
        const retaken = record(`${bare}/c`, { node: 'third-node' });
        await dir().register(retaken);
        const wiped = (await dir().wipeNode(dead)).map(strip).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
        assert.deepEqual(wiped, [strip(a), strip(b)].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))));
        assert.deepEqual((await dir().resources(bare)).map((r) => r.jid.toString()).sort(), [`${bare}/c`, `${bare}/mine`]);
        assert.deepEqual(await dir().sessionsOf(dead), []);
        assert.deepEqual(await dir().wipeNode(dead), []);
      });

      it('wipes a node with more sessions than one scan returns', async () => {
        const dead = `big-${++counter}`;
        const count = 1200;
        await Promise.all(Array.from({ length: count }, (_, i) => dir().register(record(`u${i}-${counter}@example.org/r`, { node: dead }))));
        assert.equal((await dir().sessionsOf(dead)).length, count);
        assert.equal((await dir().wipeNode(dead)).length, count);
        assert.deepEqual(await dir().sessionsOf(dead), []);
      });
    });
  });
}
