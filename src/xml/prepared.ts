// A stanza serialised once for many recipients (MUC, presence fan-out): only 'to' differs, so the
// text is split around the place 'to' goes and each copy costs one string concatenation.
import { escapeAttr, type Element } from './element.js';
import { NS } from './ns.js';

export class PreparedStanza {
  /**
   * Called with each stanza serialised for a fan-out: tests and benches count the serialisations of a
   * fan-out through it (one per fan-out, whatever the number of recipients). Empty in a running server.
   */
  static readonly observers = new Set<(element: Element) => void>();
  private readonly head: string;
  private readonly tail: string;

  constructor(readonly element: Element) {
    for (const observe of PreparedStanza.observers) observe(element);
    const { to, xmlns } = element.attrs;
    delete element.attrs.to;
    // Standalone frames (WebSocket, BOSH) need the namespace; on TCP it repeats the stream's default.
    if (xmlns === undefined) element.attrs.xmlns = NS.client;
    const text = element.toString();
    if (xmlns === undefined) delete element.attrs.xmlns;
    if (to !== undefined) element.attrs.to = to;
    const nameEnd = 1 + element.name.length;
    this.head = text.slice(0, nameEnd);
    this.tail = text.slice(nameEnd);
  }

  /** The serialised stanza addressed to `to`. */
  for(to: string): string {
    return `${this.head} to="${escapeAttr(to)}"${this.tail}`;
  }
}
