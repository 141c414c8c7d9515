// A stanza serialised once for many recipients (MUC, presence fan-out): only 'to' differs, so the
// text is split around the place 'to' goes and each copy costs one string concatenation.
import { escapeAttr, type Element } from './element.js';
import { NS } from './ns.js';

export class PreparedStanza {
  private readonly head: string;
  private readonly tail: string;

  constructor(readonly element: Element) {
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
