// Stanzas in (from clients) and out (to client sessions) by kind. The hot path only adds 1 to a plain
// number; the prom-client counter reads the numbers when Prometheus scrapes.
import { Counter, type Registry } from 'prom-client';

const KINDS = ['message', 'presence', 'iq'] as const;
type Kind = (typeof KINDS)[number];
type Tally = Record<Kind, number>;

export class StanzaTraffic {
  private readonly received: Tally = { message: 0, presence: 0, iq: 0 };
  private readonly sent: Tally = { message: 0, presence: 0, iq: 0 };

  /** Stanzas clients have sent since the start, of every kind. */
  get receivedTotal(): number {
    const { received } = this;
    return received.message + received.presence + received.iq;
  }

  /** A stanza a client sent (its element name). */
  in(name: string): void {
    if (name === 'message' || name === 'presence' || name === 'iq') this.received[name]++;
  }

  /** A stanza given to a client session, as an element name. */
  out(name: string): void {
    if (name === 'message' || name === 'presence' || name === 'iq') this.sent[name]++;
  }

  /** A serialised stanza given to a client session: its kind is the first letter of its name. */
  outText(text: string): void {
    const initial = text.charCodeAt(1);
    if (initial === 109) this.sent.message++; // m
    else if (initial === 112) this.sent.presence++; // p
    else if (initial === 105) this.sent.iq++; // i
  }

  register(registry: Registry): void {
    const { received, sent } = this;
    new Counter({
      name: 'ratatosk_stanzas_total',
      help: 'Stanzas received from clients (direction="in") and given to client sessions (direction="out"), by kind',
      labelNames: ['direction', 'kind'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const kind of KINDS) {
          this.inc({ direction: 'in', kind }, received[kind]);
          this.inc({ direction: 'out', kind }, sent[kind]);
        }
      },
    });
  }
}
