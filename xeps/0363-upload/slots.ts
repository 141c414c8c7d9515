// Upload slots (XEP-0363 §4): the PUT URL carries what the slot allows (size, content type, expiry, the
// owner's quota key) and an HMAC-SHA256 over them, so any node that knows the secret can check a PUT
// without shared state. The secret comes from [upload] secret, or from <directory>/.secret, made once by
// whichever node starts first: in a cluster the upload directory is a volume the nodes share (README).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const SECRET_FILE = '.secret';
const SECRET_PATTERN = /^[0-9a-f]{64}$/;
/** 128 random bits, base64url: the unguessable part of every URL (§8). */
export const SLOT_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** What a slot lets its holder PUT. */
export interface Slot {
  readonly id: string;
  readonly filename: string;
  readonly size: number;
  /** The content type the slot was asked for; undefined: whatever the upload sends (stored as sent, application/octet-stream when none). */
  readonly contentType: string | undefined;
  /** Milliseconds since the epoch after which the PUT URL is refused. */
  readonly expires: number;
  /** The uploader's quota key (ownerKey). */
  readonly owner: string;
}

export function newSlotId(): string {
  return randomBytes(16).toString('base64url');
}

/** The quota key of a bare JID: not the JID itself, so that neither URLs nor file names show who uploaded. */
export function ownerKey(secret: Buffer, bareJid: string): string {
  return createHmac('sha256', secret).update(`owner\0${bareJid}`).digest('base64url').slice(0, 22);
}

function signature(secret: Buffer, slot: Slot): Buffer {
  const fields = [slot.id, slot.filename, String(slot.size), slot.contentType ?? '', String(slot.expires), slot.owner];
  return createHmac('sha256', secret).update(fields.join('\0')).digest();
}

/** The query string of a slot's PUT URL. */
export function signedQuery(secret: Buffer, slot: Slot): string {
  const query = new URLSearchParams({ size: String(slot.size), expires: String(slot.expires), owner: slot.owner });
  if (slot.contentType !== undefined) query.set('type', slot.contentType);
  query.set('sig', signature(secret, slot).toString('base64url'));
  return query.toString();
}

export type SlotCheck = { ok: true; slot: Slot } | { ok: false; status: 403; reason: string };

/** The slot a PUT URL stands for, when its signature holds and it has not expired. */
export function verifySlot(secret: Buffer, id: string, filename: string, query: URLSearchParams, now: number): SlotCheck {
  const size = Number(query.get('size'));
  const expires = Number(query.get('expires'));
  const owner = query.get('owner') ?? '';
  const type = query.get('type');
  const given = Buffer.from(query.get('sig') ?? '', 'base64url');
  if (!Number.isSafeInteger(size) || size < 0 || !Number.isSafeInteger(expires) || owner === '') return { ok: false, status: 403, reason: 'not a signed upload URL' };
  const slot: Slot = { id, filename, size, contentType: type ?? undefined, expires, owner };
  const expected = signature(secret, slot);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, status: 403, reason: 'bad signature' };
  if (now > expires) return { ok: false, status: 403, reason: 'this upload URL has expired; request a new slot' };
  return { ok: true, slot };
}

/** The signing secret: the configured one, or <directory>/.secret (made by the first node to start). */
export async function loadSecret(directory: string, configured: string | undefined): Promise<Buffer> {
  if (configured !== undefined) return createHash('sha256').update(configured).digest();
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const file = join(directory, SECRET_FILE);
  const existing = await readSecret(file);
  if (existing) return existing;
  // Written aside, then linked into place: link fails when another node got there first, and nobody reads half a file.
  const draft = join(directory, `${SECRET_FILE}.${randomBytes(6).toString('hex')}`);
  await writeFile(draft, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  try {
    await link(draft, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await rm(draft, { force: true });
  }
  const secret = await readSecret(file);
  if (!secret) throw new Error(`${file} does not hold 64 hex digits; remove it to have a new secret made`);
  return secret;
}

async function readSecret(file: string): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (!SECRET_PATTERN.test(text)) throw new Error(`${file} does not hold 64 hex digits; remove it to have a new secret made`);
  return Buffer.from(text, 'hex');
}
