// The SASL mechanisms the server offers, most preferred first (RFC 6120 §6.3.3 lets the client
// pick, but clients commonly take the first they support).
import { PLAIN } from './plain.js';
import { scramFactory } from './scram.js';
import type { MechanismFactory } from './types.js';

export type { AttemptGate, CredentialSource, MechanismFactory, SaslMechanism, SaslStep } from './types.js';
export { PLAIN, PlainMechanism } from './plain.js';
export { ScramMechanism, scramFactory, type ScramOptions } from './scram.js';

export const MECHANISMS: MechanismFactory[] = [scramFactory('sha256'), scramFactory('sha1'), PLAIN];

const BY_NAME = new Map(MECHANISMS.map((m) => [m.name, m]));

/** Looks a mechanism up by its exact (case-sensitive, RFC 4422 §3.1) name. */
export function findMechanism(name: string): MechanismFactory | undefined {
  return BY_NAME.get(name);
}
