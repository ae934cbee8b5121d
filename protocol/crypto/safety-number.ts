/**
 * Safety numbers for human verification (ENVELOPE.md "Human verification"): a 60-digit decimal
 * rendering of BLAKE2b-512 iterated over the sorted identity keys with a version byte. Not
 * Signal-compatible (Signal uses SHA-512, which the libsodium JS standard build lacks).
 */
import { GatewayError } from '../errors.js';
import { pae } from './pae.js';
import { blake2b512, concatBytes, cryptoReady, SIZES } from './primitives.js';

/** Version byte; bump it if the derivation ever changes, so old and new numbers never match. */
export const SAFETY_NUMBER_VERSION = 1;
/** Hash iterations: slows a search for a colliding key pair, as Signal's 5,200 do. */
export const SAFETY_NUMBER_ITERATIONS = 5200;

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * The safety number of a conversation between identity keys: the same for every party, whatever
 * the order the keys are given in.
 *   h0 = BLAKE2b-512(version ‖ PAE("passerelle/safety-number/v1", sorted keys…))
 *   h(i+1) = BLAKE2b-512(h(i) ‖ PAE(sorted keys…))
 * then twelve 5-digit groups, each a 40-bit big-endian slice of the final hash mod 100000.
 * @param identityKeys - Ed25519 identity public keys (at least two)
 * @returns 60 decimal digits
 */
export async function safetyNumber(identityKeys: readonly Uint8Array[]): Promise<string> {
  if (identityKeys.length < 2 || identityKeys.some((k) => k.length !== SIZES.edPublicKey)) {
    throw new GatewayError('PSL_BAD_REQUEST', 'safety number: needs two or more 32-byte identity keys');
  }
  const s = await cryptoReady();
  const sorted = [...identityKeys].sort(compare);
  const keys = pae(sorted);
  let h = blake2b512(s, concatBytes(Uint8Array.of(SAFETY_NUMBER_VERSION), pae(['passerelle/safety-number/v1', ...sorted])));
  for (let i = 0; i < SAFETY_NUMBER_ITERATIONS; i++) h = blake2b512(s, concatBytes(h, keys));
  let out = '';
  for (let g = 0; g < 12; g++) {
    let n = 0;
    // 40 bits fit a double exactly; 2^40 mod 10^5 bias is below 10^-7 per group.
    for (let j = 0; j < 5; j++) n = n * 256 + h[g * 5 + j]!;
    out += String(n % 100000).padStart(5, '0');
  }
  return out;
}

/**
 * Group a safety number for display: twelve blocks of five digits.
 * @param digits - output of safetyNumber
 */
export function formatSafetyNumber(digits: string): string {
  return digits.replace(/(\d{5})(?=\d)/g, '$1 ');
}
