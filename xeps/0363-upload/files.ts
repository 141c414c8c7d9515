// The uploaded files on disk, under [upload] directory:
//   files/<slot id>         the content, in place only once complete (written to tmp/ and linked here)
//   files/<slot id>.json    what GET answers with: file name, size, content type, when it was uploaded
//   owners/<key>/<uploaded ms>.<slot id>.<size>   one empty marker per file of an uploader: the quota reads
//                           the names of one directory, no contents
//   tmp/<slot id>           an upload under way (exclusive: a second PUT to the slot meanwhile is refused)
// Any node can serve and purge any file, so in a cluster the directory is a volume the nodes share.
import { createWriteStream } from 'node:fs';
import { link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SLOT_ID_PATTERN } from './slots.js';

export interface StoredFile {
  readonly name: string;
  readonly size: number;
  readonly type: string;
  readonly owner: string;
  /** Milliseconds since the epoch. */
  readonly uploaded: number;
}

export type StoreResult = 'stored' | 'taken' | 'incomplete';

interface Marker {
  readonly file: string;
  readonly uploaded: number;
  readonly size: number;
}

export class UploadFiles {
  private readonly files: string;
  private readonly owners: string;
  private readonly tmp: string;

  constructor(readonly directory: string) {
    this.files = join(directory, 'files');
    this.owners = join(directory, 'owners');
    this.tmp = join(directory, 'tmp');
  }

  async open(): Promise<void> {
    for (const dir of [this.files, this.owners, this.tmp]) await mkdir(dir, { recursive: true, mode: 0o700 });
  }

  contentPath(id: string): string {
    return join(this.files, id);
  }

  /** What is stored for a slot; undefined when nothing (or not yet everything) is. */
  async read(id: string): Promise<StoredFile | undefined> {
    if (!SLOT_ID_PATTERN.test(id)) return undefined;
    try {
      return parseStored(JSON.parse(await readFile(join(this.files, `${id}.json`), 'utf8')));
    } catch {
      return undefined;
    }
  }

  async taken(id: string): Promise<boolean> {
    return (await exists(this.contentPath(id))) || (await exists(join(this.tmp, id)));
  }

  /** Bytes an uploader has stored, and the markers, oldest first. */
  async usage(owner: string): Promise<{ bytes: number; markers: Marker[] }> {
    let names: string[];
    try {
      names = await readdir(join(this.owners, owner));
    } catch {
      return { bytes: 0, markers: [] };
    }
    const markers = names.flatMap((file) => {
      const [uploaded, , size] = file.split('.');
      const marker = { file, uploaded: Number(uploaded), size: Number(size) };
      return Number.isSafeInteger(marker.uploaded) && Number.isSafeInteger(marker.size) ? [marker] : [];
    });
    markers.sort((a, b) => a.uploaded - b.uploaded);
    return { bytes: markers.reduce((sum, m) => sum + m.size, 0), markers };
  }

  /**
   * Writes the body to tmp/ (exclusively: 'taken' when another PUT to the slot is under way), and when exactly
   * `size` bytes came, links it into files/ ('taken' when a complete upload got there first) and writes what
   * GET needs. Anything else ('incomplete', an error) leaves nothing behind, so the slot may be used again.
   */
  async store(id: string, body: Readable, file: Omit<StoredFile, 'uploaded'>, now: number): Promise<StoreResult> {
    const temporary = join(this.tmp, id);
    const out = createWriteStream(temporary, { flags: 'wx', mode: 0o600 });
    const opened = new Promise<boolean>((resolve) => {
      out.once('open', () => resolve(true));
      out.once('error', () => resolve(false));
    });
    if (!(await opened)) {
      body.resume();
      return 'taken';
    }
    try {
      await pipeline(body, out);
      if ((await stat(temporary)).size !== file.size) return 'incomplete';
      try {
        await link(temporary, this.contentPath(id));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'taken';
        throw err;
      }
      const stored: StoredFile = { ...file, uploaded: now };
      const meta = join(this.files, `${id}.json`);
      await writeFile(`${meta}.tmp`, JSON.stringify(stored), { mode: 0o600 });
      await rename(`${meta}.tmp`, meta);
      await mkdir(join(this.owners, file.owner), { recursive: true, mode: 0o700 });
      await writeFile(join(this.owners, file.owner, `${now}.${id}.${file.size}`), '', { mode: 0o600 });
      return 'stored';
    } catch (err) {
      if (body.destroyed || (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return 'incomplete';
      throw err;
    } finally {
      await rm(temporary, { force: true });
    }
  }

  /**
   * Removes files uploaded before `before` (ms since the epoch), with their markers, and uploads under way
   * for longer than a day (a crashed node's). Returns how many files went.
   */
  async purge(before: number): Promise<number> {
    let removed = 0;
    for (const owner of await readdir(this.owners).catch(() => [] as string[])) {
      const { markers } = await this.usage(owner);
      for (const marker of markers) {
        if (marker.uploaded >= before) break;
        const id = marker.file.split('.')[1] ?? '';
        await rm(join(this.files, `${id}.json`), { force: true });
        await rm(this.contentPath(id), { force: true });
        await rm(join(this.owners, owner, marker.file), { force: true });
        removed++;
      }
    }
    const dayAgo = Date.now() - 86_400_000;
    for (const name of await readdir(this.tmp).catch(() => [] as string[])) {
      const path = join(this.tmp, name);
      const info = await stat(path).catch(() => undefined);
      if (info && info.mtimeMs < dayAgo) await rm(path, { force: true });
    }
    return removed;
  }
}

function parseStored(value: unknown): StoredFile | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.name !== 'string' || typeof v.type !== 'string' || typeof v.owner !== 'string') return undefined;
  if (typeof v.size !== 'number' || typeof v.uploaded !== 'number') return undefined;
  return { name: v.name, size: v.size, type: v.type, owner: v.owner, uploaded: v.uploaded };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
