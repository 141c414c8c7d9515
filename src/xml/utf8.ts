// Strict UTF-8 decoding of client bytes (RFC 3629; RFC 6120 §11.6: invalid UTF-8 is a `not-well-formed`
// stream error, never silently replaced with U+FFFD as TextDecoder and StringDecoder do by default).
//
// Node's buffer.isUtf8 (simdutf) rejects overlong forms, encoded surrogates, code points above U+10FFFF and
// the bytes 0xC0, 0xC1, 0xF5-0xFF. A character split across reads is carried over (at most 3 bytes), so
// streaming input is decoded exactly as the whole would be.
import { Buffer, isUtf8 } from 'node:buffer';
import { StreamError } from '../errors.js';

const EMPTY = Buffer.alloc(0);

function invalid(): StreamError {
  return new StreamError('not-well-formed', 'invalid UTF-8 (RFC 6120 §11.6)');
}

/** Where an incomplete trailing sequence starts (buf.length if the buffer ends on a character boundary). */
function completeLength(buf: Buffer): number {
  const n = buf.length;
  const stop = Math.max(0, n - 3);
  for (let i = n - 1; i >= stop; i--) {
    const b = buf[i] as number;
    if (b < 0x80) return n;
    if (b >= 0xc0) {
      // Bytes no sequence can start with stay in the checked part, so they fail now.
      if (b <= 0xc1 || b >= 0xf5) return n;
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
      return n - i < need ? i : n;
    }
  }
  return n;
}

/** Decodes one complete message (a WebSocket text frame, a BOSH body); throws not-well-formed if invalid. */
export function decodeUtf8(data: Buffer): string {
  if (!isUtf8(data)) throw invalid();
  return data.toString('utf8');
}

/** Thrown by Utf8StreamDecoder.write: `valid` is the text of the read before its first invalid byte. */
export class InvalidUtf8Error extends StreamError {
  constructor(readonly valid: string) {
    super('not-well-formed', 'invalid UTF-8 (RFC 6120 §11.6)');
  }
}

/** The longest prefix of buf (which is not valid UTF-8) that is, in whole characters; found by bisection. */
function validPrefix(buf: Buffer): Buffer {
  let good = 0;
  let bad = buf.length;
  while (bad - good > 1) {
    const mid = (good + bad) >>> 1;
    if (isUtf8(buf.subarray(0, completeLength(buf.subarray(0, mid))))) good = mid;
    else bad = mid;
  }
  return buf.subarray(0, completeLength(buf.subarray(0, good)));
}

/** Streaming strict decoder: write() each chunk, end() when the input ends. */
export class Utf8StreamDecoder {
  private carry: Buffer = EMPTY;

  /**
   * The text of the complete characters so far; throws InvalidUtf8Error (not-well-formed) on invalid UTF-8,
   * with the text before it, so that what came before the bad byte is read whatever the chunking.
   */
  write(chunk: Buffer): string {
    const buf = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    const cut = completeLength(buf);
    const body = cut === buf.length ? buf : buf.subarray(0, cut);
    if (!isUtf8(body)) throw new InvalidUtf8Error(validPrefix(body).toString('utf8'));
    this.carry = cut === buf.length ? EMPTY : Buffer.from(buf.subarray(cut));
    return body.toString('utf8');
  }

  /** The input ended: an incomplete character left over is an error. */
  end(): void {
    const pending = this.carry.length;
    this.carry = EMPTY;
    if (pending !== 0) throw invalid();
  }

  reset(): void {
    this.carry = EMPTY;
  }
}
