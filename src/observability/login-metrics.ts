// Logins and failed logins by protocol (sasl: RFC 6120 §6; sasl2: XEP-0388; fast: a token mechanism a
// module offers in SASL2, XEP-0484) and mechanism, failures by their SASL condition. Mechanism names come
// from the server's own offer (a name a client made up is counted as "unknown"), so the labels stay few.
import { Counter, type Registry } from 'prom-client';

export type LoginProtocol = 'sasl' | 'sasl2' | 'fast';

export interface LoginRecorder {
  succeeded(protocol: LoginProtocol, mechanism: string | undefined): void;
  failed(protocol: LoginProtocol, mechanism: string | undefined, condition: string): void;
}

export function loginRecorder(registry: Registry): LoginRecorder {
  const logins = new Counter({
    name: 'ratatosk_logins_total',
    help: 'Successful client authentications, by protocol (sasl, sasl2, fast) and mechanism',
    labelNames: ['protocol', 'mechanism'] as const,
    registers: [registry],
  });
  const failures = new Counter({
    name: 'ratatosk_login_failures_total',
    help: 'Failed client authentications, by protocol, mechanism and SASL failure condition (reason)',
    labelNames: ['protocol', 'mechanism', 'reason'] as const,
    registers: [registry],
  });
  return {
    succeeded: (protocol, mechanism) => logins.inc({ protocol, mechanism: mechanism ?? 'unknown' }),
    failed: (protocol, mechanism, condition) => failures.inc({ protocol, mechanism: mechanism ?? 'unknown', reason: condition }),
  };
}
