import { open, ABORT } from 'lmdb';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const env = open<unknown, string>({ path: mkdtempSync(join(tmpdir(), 'lm-')), maxDbs: 8, cache: false, compression: false });
const db = env.openDB<unknown, [string, string]>({ name: 'r', cache: false });
const r = await db.transaction(() => { void db.put(['x', 'y'], 1); return ABORT; });
console.log('abort result', r, db.get(['x', 'y']));
const r2 = db.transactionSync(() => { void db.put(['x', 'z'], 1); return ABORT; });
console.log('sync abort result', r2, db.get(['x', 'z']));
try { db.transactionSync(() => { void db.put(['x', 'w'], 1); throw new Error('boom'); }); } catch (e) { console.log('sync threw', (e as Error).message); }
console.log('sync throw', db.get(['x', 'w']));
await env.close();
