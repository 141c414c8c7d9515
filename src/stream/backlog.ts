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

/** Counts the work items of a stream's queue and their bytes, oldest first. */
export class Backlog {
  private readonly sizes: number[] = [];
  private bytes = 0;

  constructor(private readonly limits: BacklogLimits) {}

  get empty(): boolean {
    return this.sizes.length === 0;
  }

  /**
   * The error that ends the stream if one more element of `bytes` would pass a limit. An element alone
   * is never refused for its size: the parser's stanza cap bounds that.
   */
  refuse(bytes: number): StreamError | undefined {
    if (this.sizes.length >= this.limits.maxItems) return new StreamError('policy-violation', 'too many stanzas waiting to be processed');
    if (this.sizes.length > 0 && this.bytes + bytes > this.limits.maxBytes) return new StreamError('policy-violation', 'too much data waiting to be processed');
    return undefined;
  }

  /** One more item waits (`bytes`: 0 for work that is not an element read). */
  add(bytes: number): void {
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** The oldest item is done, whether it succeeded or not. */
  done(): void {
    this.bytes -= this.sizes.shift() ?? 0;
  }
}
