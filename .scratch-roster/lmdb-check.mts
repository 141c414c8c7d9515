import { open } from 'lmdb';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const env = open<unknown, string>({ path: mkdtempSync(join(tmpdir(), 'lm-')), maxDbs: 8, cache: false, compression: false });
const db = env.openDB<unknown, [string, string]>({ name: 'r', cache: false });
const END = Uint8Array.of(0xff);
await db.transaction(() => {
  for (const [u, j] of [['al', 'b'], ['al', '🦊@x'], ['al', '\u{10FFFF}z'], ['alice', 'a'], ['a', 'z'], ['al', 'a']] as const) void db.put([u, j], { j });
});
console.log([...db.getKeys({ start: ['al'], end: ['al', END] })]);
console.log(db.getCount({ start: ['al'], end: ['al', END] }));
try {
  await db.transaction(() => { void db.put(['x', 'y'], 1); throw new Error('boom'); });
} catch (e) { console.log('threw', (e as Error).message); }
console.log('after abort', db.get(['x', 'y']));
const r = await db.transaction(() => { void db.put(['q', 'y'], 1); return [...db.getKeys({ start: ['q'], end: ['q', END] })]; });
console.log('in txn sees', r);
await env.close();
