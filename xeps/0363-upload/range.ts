// Byte ranges of a download (RFC 9110 §14: Range, Content-Range, If-Range, 206 and 416), so that a media player
// can seek in an uploaded video and an interrupted download can resume. One range is served; a request for
// several is answered with the whole file, which §14.2 allows ("a server MAY ignore the Range header field").

/** Inclusive byte offsets, as Content-Range writes them. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** What to do with a request's Range header for a representation of `size` bytes. */
export type RangeOutcome = { readonly kind: 'whole' } | { readonly kind: 'partial'; readonly range: ByteRange } | { readonly kind: 'unsatisfiable' };

const WHOLE: RangeOutcome = { kind: 'whole' };
const UNSATISFIABLE: RangeOutcome = { kind: 'unsatisfiable' };
const DIGITS = /^\d+$/;

/**
 * The outcome of `Range: <header>` (§14.2). A header that is not a valid `bytes` range set is ignored (the whole
 * file, §14.2: "ignore a Range header field that is ... invalid"), as is one with more than one range. A single
 * range none of whose bytes exist is unsatisfiable (416, §15.5.17).
 */
export function rangeFor(header: string | undefined, size: number): RangeOutcome {
  if (header === undefined) return WHOLE;
  const match = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!match?.[1]) return WHOLE;
  const specs = match[1].split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length !== 1) return WHOLE;
  const parts = (specs[0] as string).split('-').map((s) => s.trim());
  if (parts.length !== 2) return WHOLE;
  const [first = '', last = ''] = parts;
  if (first === '' && last === '') return WHOLE;
  if ((first !== '' && !DIGITS.test(first)) || (last !== '' && !DIGITS.test(last))) return WHOLE;
  if (first === '') {
    // A suffix range (§14.1.1): the last N bytes.
    const length = Number(last);
    if (length === 0 || size === 0) return UNSATISFIABLE;
    return { kind: 'partial', range: { start: Math.max(0, size - length), end: size - 1 } };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return WHOLE;
  if (start >= size) return UNSATISFIABLE;
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  return { kind: 'partial', range: { start, end } };
}

/**
 * Whether a Range may be honoured given `If-Range` (§13.1.5): only when the validator names the representation
 * sent now. Ours is the strong ETag; a date is compared with Last-Modified to the second.
 */
export function ifRangeHolds(header: string | undefined, etag: string, lastModified: string): boolean {
  if (header === undefined) return true;
  const value = header.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === etag;
  const date = Date.parse(value);
  return !Number.isNaN(date) && date === Date.parse(lastModified);
}
