// What a stream has read but not yet processed, and its limits (STYLE.md §8): the elements wait in
// arrival order (RFC 6120 §10.1), and a peer that sends faster than they are processed ends its stream
// with policy-violation (RFC 6120 §4.9.3.18) rather than filling the server's memory.
import { StreamError } from '../errors.js';

/** Elements waiting on one stream before its peer counts as flooding. */
export const MAX_BACKLOG_ITEMS = 1000;

export interface BacklogLimits {
  readonly maxItems: number;
  /** Bytes of waiting elements, as received (limits.max_backlog_bytes). */
  readonly maxBytes: number;
}

/**
 * Counts the work items of a stream's queue and their bytes, oldest first. Most of the time one item or none
 * waits: the oldest item's size is a field, and an array holds the others only while more than one waits (an
 * array pushed and shifted keeps its capacity, ~170 B on every idle session).
 */
export class Backlog {
  private count = 0;
  private oldest = 0;
  private later: number[] | undefined;
  private bytes = 0;

  constructor(private readonly limits: BacklogLimits) {}

  get empty(): boolean {
    return this.count === 0;
  }

  /**
   * The error that ends the stream if one more element of `bytes` would pass a limit. An element alone
   * is never refused for its size: the parser's stanza cap bounds that.
   */
  refuse(bytes: number): StreamError | undefined {
    if (this.count >= this.limits.maxItems) return new StreamError('policy-violation', 'too many stanzas waiting to be processed');
    if (this.count > 0 && this.bytes + bytes > this.limits.maxBytes) return new StreamError('policy-violation', 'too much data waiting to be processed');
    return undefined;
  }

  /** One more item waits (`bytes`: 0 for work that is not an element read). */
  add(bytes: number): void {
    if (this.count === 0) this.oldest = bytes;
    else (this.later ??= []).push(bytes);
    this.count++;
    this.bytes += bytes;
  }

  /** The oldest item is done, whether it succeeded or not. */
  done(): void {
    if (this.count === 0) return;
    this.bytes -= this.oldest;
    this.count--;
    if (this.count === 0) {
      this.oldest = 0;
      this.later = undefined;
    } else this.oldest = this.later?.shift() ?? 0;
  }
}
