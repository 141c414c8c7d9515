// The SASL mechanisms the server offers, most preferred first (RFC 6120 §6.3.3 lets the client
// pick, but clients commonly take the first they support): the -PLUS variants (offered only where the
// connection gives channel-binding data), then SCRAM by hash strength, then PLAIN.
import { SCRAM_HASHES, type ScramHash } from '../../auth/credentials.js';
import { PLAIN } from './plain.js';
import { scramFactory } from './scram.js';
import type { MechanismFactory } from './types.js';

export type { AttemptGate, ChannelBinding, CredentialSource, MechanismContext, MechanismFactory, SaslMechanism, SaslStep } from './types.js';
export { PLAIN, PlainMechanism } from './plain.js';
export { ChannelBindingTypeError, ScramMechanism, scramFactory, type ScramOptions } from './scram.js';
export { downgradeHash, downgradeString } from './downgrade.js';

/** The mechanisms for the configured SCRAM hashes ([auth] scram_hashes). */
export function mechanismsFor(hashes: readonly ScramHash[] = SCRAM_HASHES): MechanismFactory[] {
  const strongestFirst = SCRAM_HASHES.filter((h) => hashes.includes(h)).reverse();
  return [
    ...strongestFirst.map((h) => scramFactory(h, { plus: true })),
    ...strongestFirst.map((h) => scramFactory(h)),
    PLAIN,
  ];
}

export const MECHANISMS: MechanismFactory[] = mechanismsFor();

const BY_NAME = new Map(MECHANISMS.map((m) => [m.name, m]));

/** Looks a mechanism up by its exact (case-sensitive, RFC 4422 §3.1) name. */
export function findMechanism(name: string): MechanismFactory | undefined {
  return BY_NAME.get(name);
}

/** The mechanisms to offer on one connection: -PLUS only where channel binding is possible. */
export function offeredMechanisms(all: readonly MechanismFactory[], channelBinding: boolean): MechanismFactory[] {
  return all.filter((m) => channelBinding || !m.needsChannelBinding);
}
