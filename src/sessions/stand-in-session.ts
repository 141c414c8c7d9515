// A BoundSession with no connection behind it, for unit tests and micro-benchmarks that drive the router or a
// module in-process: what it is sent goes to the given callbacks.
import { Jid } from '../jid.js';
import type { Element } from '../xml/element.js';
import type { BoundSession } from './types.js';

export interface StandInOptions {
  flags?: Iterable<string>;
  send?: (stanza: Element) => void;
  sendText?: (text: string) => void;
}

export function standInSession(jid: string, options: StandInOptions = {}): BoundSession {
  const { send, sendText } = options;
  return {
    id: jid,
    jid: Jid.parse(jid),
    transport: 'tcp',
    remoteAddress: '127.0.0.1',
    startedAt: Date.now(),
    presence: { available: true, priority: 0 },
    lastActivity: Date.now(),
    flags: new Set(options.flags ?? []),
    send: (stanza) => send?.(stanza),
    sendText: (text) => sendText?.(text),
    close: () => undefined,
  };
}
