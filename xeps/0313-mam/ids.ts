// Archive ids (XEP-0359 stanza-id values, XEP-0313 result ids): 16 characters of [0-9a-z] that sort as
// the messages were archived: 9 for the millisecond, 3 for a counter within it (this process), 4 random
// (other nodes of a cluster). Time filters become id ranges, so one ordered index serves every query.
import { randomInt } from 'node:crypto';

const TIME_CHARS = 9;
const SEQ_CHARS = 3;
const RANDOM_CHARS = 4;
const SEQ_LIMIT = 36 ** SEQ_CHARS;
const RANDOM_LIMIT = 36 ** RANDOM_CHARS;
export const ID_PATTERN = /^[0-9a-z]{16}$/;
/** Greater than every id (as a range end). */
export const ID_MAX = '~';

let lastMs = 0;
let seq = 0;

function pad(value: number, width: number): string {
  return value.toString(36).padStart(width, '0');
}

/** A new id, later than every id this process made before. */
export function newArchiveId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    seq = 0;
  } else if (++seq >= SEQ_LIMIT) {
    lastMs++;
    seq = 0;
  }
  return pad(lastMs, TIME_CHARS) + pad(seq, SEQ_CHARS) + pad(randomInt(RANDOM_LIMIT), RANDOM_CHARS);
}

/** An id for a given time and index, for bulk loads (benchmarks, imports). */
export function archiveIdAt(ms: number, index: number): string {
  return pad(ms, TIME_CHARS) + pad(index % SEQ_LIMIT, SEQ_CHARS) + pad(randomInt(RANDOM_LIMIT), RANDOM_CHARS);
}

/** The smallest id of a millisecond: ids >= it were archived at `ms` or later. */
export function idFloor(ms: number): string {
  return pad(Math.max(0, Math.floor(ms)), TIME_CHARS);
}

/** When an id was made (ms since 1970). */
export function idTime(id: string): number {
  return Number.parseInt(id.slice(0, TIME_CHARS), 36);
}
