// A StreamTransport for driving a C2sStream in-process (test/fuzz/c2s-stream.test.ts and its regressions): it
// records what the stream writes and notes anything written after the close.
import type { StreamError } from '../../src/errors.js';
import type { StreamEvents, StreamTransport } from '../../src/stream/transport.js';
import type { Element } from '../../src/xml/element.js';
import { parseFrame } from '../../src/xml/framed-parser.js';

/** A transport that records what the stream writes and checks that nothing follows the close. */
export class FuzzTransport implements StreamTransport {
  readonly kind = 'tcp' as const;
  readonly remoteAddress = '127.0.0.1';
  readonly secure = true;
  readonly canStartTls = false;
  events!: StreamEvents;
  readonly sent: Element[] = [];
  closed: { error: StreamError | undefined } | undefined;
  restarts = 0;
  readonly problems: string[] = [];

  attach(events: StreamEvents): void {
    this.events = events;
  }
  private written(what: string): void {
    if (this.closed) this.problems.push(`${what} after the stream was closed`);
  }
  openStream(): void { this.written('a header'); }
  send(stanza: Element): void { this.written(`<${stanza.name}/>`); this.sent.push(stanza); }
  sendText(stanza: string): void { this.written('text'); this.sent.push(parseFrame(stanza, { maxStanzaBytes: 1 << 20, maxDepth: 64 })); }
  closeStream(error?: StreamError): void {
    if (this.closed) this.problems.push('closed twice');
    this.closed = { error };
  }
  startTls(): void { this.problems.push('STARTTLS on a transport that cannot'); }
  restartStream(): void { this.restarts++; }
  setLimits(): void {}
  destroy(): void { this.closed ??= { error: undefined }; }
}
