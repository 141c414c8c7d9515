// Slot requests (XEP-0363 §4, errors §5): <request filename size content-type?/> from a user of this server,
// checked against the size cap and the uploader's quota, answered with the PUT and GET URLs.
import { StanzaError } from '../../src/errors.js';
import type { Jid } from '../../src/jid.js';
import { xml, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import type { UploadFiles } from './files.js';
import type { UploadSettings } from './settings.js';
import { newSlotId, ownerKey, signedQuery, type Slot } from './slots.js';

/** Longest file name kept, in UTF-16 code units (file systems allow 255 bytes; the name is only in the URL and metadata). */
const MAX_FILENAME = 200;
const TOKEN = "[A-Za-z0-9!#$%&'*+.^_`|~-]+";
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:\\s*;\\s*${TOKEN}=(?:${TOKEN}|"[^"\\\\\\r\\n]*"))*$`);

/** A media type in one spelling (lower-case type and parameter names, no spaces), or undefined when it is not one. */
export function normaliseContentType(value: string): string | undefined {
  const trimmed = value.trim();
  if (trimmed.length > 255 || !MEDIA_TYPE.test(trimmed)) return undefined;
  const [essence = '', ...parameters] = trimmed.split(';').map((part) => part.trim());
  return [essence.toLowerCase(), ...parameters.map((p) => p.replace(/^[^=]+/, (name) => name.toLowerCase()))].join(';');
}

/** The name kept for the URL: the last path segment, without control characters; the extension stays (§4). */
export function cleanFilename(value: string): string | undefined {
  const base = (value.split(/[/\\]/).pop() ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (base === '' || base === '.' || base === '..') return undefined;
  if (base.length <= MAX_FILENAME) return base;
  const dot = base.lastIndexOf('.');
  const extension = dot > 0 && base.length - dot <= 16 ? base.slice(dot) : '';
  return base.slice(0, MAX_FILENAME - extension.length) + extension;
}

export interface SlotRequestDeps {
  readonly settings: UploadSettings;
  readonly files: UploadFiles;
  readonly secret: Buffer;
  readonly serverDomain: string;
  /** The base URL, ending in '/'. */
  publicUrl(): string;
}

export async function requestSlot(deps: SlotRequestDeps, request: Element, from: Jid, now: number): Promise<Element> {
  const { settings } = deps;
  if (from.domain !== deps.serverDomain || from.local === '') throw new StanzaError('not-allowed', `only users of ${deps.serverDomain} may upload files here`);
  const rawName = request.attrs.filename;
  const rawSize = request.attrs.size;
  if (rawName === undefined || rawSize === undefined) throw new StanzaError('bad-request', 'a request needs the filename and size attributes');
  const filename = cleanFilename(rawName);
  if (filename === undefined) throw new StanzaError('bad-request', 'the filename names no file');
  if (!/^\d{1,16}$/.test(rawSize)) throw new StanzaError('bad-request', `size must be a number of bytes, got "${rawSize.slice(0, 40)}"`);
  const size = Number(rawSize);
  if (size > settings.maxFileSize) {
    const tooLarge = xml('file-too-large', { xmlns: NS.httpUpload }, xml('max-file-size', null, String(settings.maxFileSize)));
    throw new StanzaError('not-acceptable', `File too large. The maximum file size is ${settings.maxFileSize} bytes`, 'modify', tooLarge);
  }
  const rawType = request.attrs['content-type'];
  const contentType = rawType === undefined || rawType === '' ? undefined : normaliseContentType(rawType);
  if (rawType !== undefined && rawType !== '' && contentType === undefined) throw new StanzaError('bad-request', `content-type must be a media type, got "${rawType.slice(0, 80)}"`);
  const owner = ownerKey(deps.secret, from.bareString());
  if (settings.quotaPerUser > 0) await checkQuota(deps, owner, size, now);

  const slot: Slot = { id: newSlotId(), filename, size, contentType, expires: now + settings.slotSeconds * 1000, owner };
  const get = `${deps.publicUrl()}${slot.id}/${encodeURIComponent(filename)}`;
  return xml('slot', { xmlns: NS.httpUpload }, xml('put', { url: `${get}?${signedQuery(deps.secret, slot)}` }), xml('get', { url: get }));
}

/** §5: over the quota is resource-constraint, with the time enough of the user's files will have expired to make room. */
async function checkQuota(deps: SlotRequestDeps, owner: string, size: number, now: number): Promise<void> {
  const { quotaPerUser, expireDays } = deps.settings;
  const usage = await deps.files.usage(owner);
  let excess = usage.bytes + size - quotaPerUser;
  if (excess <= 0) return;
  let freedAt = now;
  for (const marker of usage.markers) {
    excess -= marker.size;
    freedAt = marker.uploaded + expireDays * 86_400_000;
    if (excess <= 0) break;
  }
  const retry = xml('retry', { xmlns: NS.httpUpload, stamp: new Date(Math.max(freedAt, now)).toISOString().replace(/\.\d{3}Z$/, 'Z') });
  throw new StanzaError('resource-constraint', `Quota reached: ${usage.bytes} of ${quotaPerUser} bytes are in use; files expire after ${expireDays} days`, 'wait', retry);
}
