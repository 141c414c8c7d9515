// The HTTP side of XEP-0363 (§6): PUT to a slot's signed URL, GET and HEAD of what was uploaded (one byte range
// of it on request, RFC 9110 §14: range.ts), CORS for the web client. A PUT that does not match its slot (signature, expiry, Content-Length, Content-Type, size
// cap, quota) gets a 4xx and stores nothing; a second PUT to a slot gets 409.
import { createReadStream } from 'node:fs';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { HttpHandler } from '../../src/modules/api.js';
import type { UploadFiles } from './files.js';
import { verifySlot } from './slots.js';
import { UPLOAD_PATH, type UploadSettings } from './settings.js';
import { ifRangeHolds, rangeFor } from './range.js';
import { normaliseContentType } from './request.js';

export interface UploadHttpDeps {
  readonly settings: UploadSettings;
  readonly files: UploadFiles;
  readonly secret: Buffer;
  readonly log: { warn(obj: object, msg: string): void };
}

const METHODS = 'GET, HEAD, PUT, OPTIONS';
/** Shown in the page rather than offered for download: raster images, which no browser runs. SVG is not one. */
const INLINE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif']);

export function uploadHttp(deps: UploadHttpDeps): HttpHandler {
  const anyOrigin = deps.settings.corsOrigins.includes('*');
  const origins = new Set(deps.settings.corsOrigins);
  const cors = (req: IncomingMessage): OutgoingHttpHeaders => {
    const origin = req.headers.origin;
    if (origin === undefined) return {};
    if (anyOrigin) return { 'Access-Control-Allow-Origin': '*' };
    return origins.has(origin) ? { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' } : {};
  };

  return async (req, res) => {
    const target = new URL(req.url ?? '/', 'http://upload.invalid');
    const where = slotPath(target.pathname);
    const headers = cors(req);
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      if (req.headers.origin !== undefined && headers['Access-Control-Allow-Origin'] === undefined) return text(res, 403, 'This origin may not use the upload service.\n');
      res.writeHead(204, { ...headers, 'Access-Control-Allow-Methods': METHODS, 'Access-Control-Allow-Headers': 'Content-Type', 'Access-Control-Max-Age': '86400', Allow: METHODS });
      return void res.end();
    }
    if (where === undefined) return text(res, 404, 'Not found\n', headers);
    if (method === 'PUT') return put(deps, req, res, where, target.searchParams, headers);
    if (method === 'GET' || method === 'HEAD') return get(deps, req, res, where, headers);
    return text(res, 405, 'Method not allowed\n', { ...headers, Allow: METHODS });
  };
}

/** /upload/<slot id>/<percent-encoded file name>; undefined for anything else. */
function slotPath(pathname: string): { id: string; filename: string } | undefined {
  if (!pathname.startsWith(UPLOAD_PATH)) return undefined;
  const [id, encoded, ...rest] = pathname.slice(UPLOAD_PATH.length).split('/');
  if (id === undefined || encoded === undefined || encoded === '' || rest.length > 0) return undefined;
  try {
    return { id, filename: decodeURIComponent(encoded) };
  } catch {
    return undefined;
  }
}

async function put(deps: UploadHttpDeps, req: IncomingMessage, res: ServerResponse, where: { id: string; filename: string }, query: URLSearchParams, cors: OutgoingHttpHeaders): Promise<void> {
  const { settings, files } = deps;
  // A refused body is read and dropped (keeping the connection) only when it is no larger than the cap.
  const declared = Number(req.headers['content-length']);
  if (!(declared <= settings.maxFileSize)) cors = { ...cors, Connection: 'close' };
  const check = verifySlot(deps.secret, where.id, where.filename, query, Date.now());
  if (!check.ok) return refuse(res, check.status, `${check.reason}\n`, cors);
  const slot = check.slot;
  const lengthHeader = req.headers['content-length'];
  if (lengthHeader === undefined) return refuse(res, 411, 'Content-Length is required\n', cors);
  const length = Number(lengthHeader);
  if (length > settings.maxFileSize) return refuse(res, 413, `The file is larger than ${settings.maxFileSize} bytes\n`, cors);
  if (length !== slot.size) return refuse(res, 400, `Content-Length ${lengthHeader} is not the slot's size, ${slot.size}\n`, cors);
  const sent = req.headers['content-type'];
  const sentType = sent === undefined ? undefined : normaliseContentType(sent);
  if (slot.contentType !== undefined && sentType !== slot.contentType) return refuse(res, 415, `Content-Type must be ${slot.contentType}, the slot's\n`, cors);
  if (sent !== undefined && sentType === undefined) return refuse(res, 415, 'Content-Type is not a media type\n', cors);
  if (settings.quotaPerUser > 0 && (await files.usage(slot.owner)).bytes + slot.size > settings.quotaPerUser) {
    return refuse(res, 413, `This would take the uploader over their quota of ${settings.quotaPerUser} bytes\n`, cors);
  }
  if (await files.taken(slot.id)) return refuse(res, 409, 'Something was uploaded to this slot already\n', cors);
  const type = slot.contentType ?? sentType ?? 'application/octet-stream';
  const result = await files.store(slot.id, req, { name: slot.filename, size: slot.size, type, owner: slot.owner }, Date.now());
  if (result === 'taken') return text(res, 409, 'Something was uploaded to this slot already\n', cors);
  if (result === 'incomplete') return text(res, 400, `The body was not ${slot.size} bytes\n`, cors);
  text(res, 201, 'Created\n', cors);
}

async function get(deps: UploadHttpDeps, req: IncomingMessage, res: ServerResponse, where: { id: string; filename: string }, cors: OutgoingHttpHeaders): Promise<void> {
  const stored = await deps.files.read(where.id);
  if (stored === undefined || stored.name !== where.filename) return text(res, 404, 'Not found\n', cors);
  const expires = stored.uploaded + deps.settings.expireDays * 86_400_000;
  const etag = `"${where.id}"`;
  const inline = INLINE_TYPES.has(stored.type);
  const lastModified = new Date(stored.uploaded).toUTCString();
  const headers: OutgoingHttpHeaders = {
    ...cors,
    'Content-Type': stored.type,
    ETag: etag,
    'Last-Modified': lastModified,
    'Accept-Ranges': 'bytes',
    // What was uploaded to a slot never changes; it may be gone after it expires.
    'Cache-Control': `public, max-age=${Math.max(0, Math.floor((expires - Date.now()) / 1000))}, immutable`,
    'X-Content-Type-Options': 'nosniff',
    // Users' files never run as pages of this origin, whatever they hold.
    'Content-Security-Policy': "default-src 'none'; sandbox",
    'Content-Disposition': `${inline ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeRfc5987(stored.name)}`,
  };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers);
    return void res.end();
  }
  const ifRange = req.headers['if-range'];
  // A Range that If-Range voids is read as no Range at all: the whole file.
  const wanted = rangeFor(ifRangeHolds(typeof ifRange === 'string' ? ifRange : undefined, etag, lastModified) ? req.headers.range : undefined, stored.size);
  if (wanted.kind === 'unsatisfiable') {
    res.writeHead(416, { ...cors, 'Content-Range': `bytes */${stored.size}`, 'Content-Length': 0, 'Cache-Control': 'no-store' });
    return void res.end();
  }
  const range = wanted.kind === 'partial' ? wanted.range : undefined;
  if (range === undefined) res.writeHead(200, { ...headers, 'Content-Length': stored.size });
  else res.writeHead(206, { ...headers, 'Content-Range': `bytes ${range.start}-${range.end}/${stored.size}`, 'Content-Length': range.end - range.start + 1 });
  if (req.method === 'HEAD') return void res.end();
  const stream = createReadStream(deps.files.contentPath(where.id), range === undefined ? {} : { start: range.start, end: range.end });
  stream.on('error', (err) => {
    deps.log.warn({ err, slot: where.id }, 'upload: reading a stored file failed');
    res.destroy();
  });
  stream.pipe(res);
}

/** A refusal before the body was read. */
function refuse(res: ServerResponse, status: number, body: string, cors: OutgoingHttpHeaders): void {
  text(res, status, body, cors);
}

function text(res: ServerResponse, status: number, body: string, headers: OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

function encodeRfc5987(name: string): string {
  return encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
