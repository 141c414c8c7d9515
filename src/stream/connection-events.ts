// What a connection's transport reports, handed to its c2s stream: one small object per connection with its
// methods on the prototype (five closures and their context per connection cost ~0.3 KiB of every idle session).
import type { StreamError } from '../errors.js';
import type { Element } from '../xml/element.js';
import type { C2sStream } from './c2s-stream.js';
import type { AddressTicket } from './limits.js';
import type { StreamEvents, StreamTransport, Undelivered } from './transport.js';

export class ConnectionEvents implements StreamEvents {
  /**
   * `refused`: the per-address limit turned the connection away; a BOSH session learns it in the answer to its
   * creation request, which is held from its stream start. `open`: the server's open streams, left on disconnect.
   */
  constructor(
    private readonly stream: C2sStream,
    private readonly ticket: AddressTicket | undefined,
    private readonly refused: StreamError | undefined,
    private readonly open: Map<C2sStream, StreamTransport>,
  ) {}

  onStreamStart(attrs: Record<string, string>, name: string): void {
    if (this.refused) this.stream.fail(this.refused);
    else this.stream.onStreamStart(attrs, name);
  }

  onElement(element: Element, bytes?: number): void {
    this.stream.onElement(element, bytes);
  }

  onStreamEnd(): void {
    this.stream.onStreamEnd();
  }

  onStreamError(error: StreamError): void {
    this.stream.onStreamError(error);
  }

  onDisconnect(undelivered?: readonly Undelivered[]): void {
    this.open.delete(this.stream);
    this.ticket?.release();
    this.stream.onDisconnect(undelivered);
  }
}
