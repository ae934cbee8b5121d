/**
 * Ed25519 signing and verification as the envelope uses them. Verification never throws: a wrong
 * length, a non-canonical S or R, or a small-order key is simply "not valid".
 */
import type { Sodium } from './sodium.js';
import { SIZES } from './primitives.js';

/**
 * Detached Ed25519 signature.
 * @param s - libsodium
 * @param msg - the bytes to sign (always PAE output in this module)
 * @param secretKey - 64-byte libsodium Ed25519 secret key
 */
export function ed25519Sign(s: Sodium, msg: Uint8Array, secretKey: Uint8Array): Uint8Array {
  if (secretKey.length !== 64) throw new RangeError('Ed25519 secret key must be 64 bytes');
  return s.crypto_sign_detached(msg, secretKey);
}

/**
 * Verify a detached Ed25519 signature with libsodium's checks (canonical S, R and A encodings,
 * small-order A and R refused).
 * @param s - libsodium
 * @param sig - 64-byte signature
 * @param msg - signed bytes
 * @param publicKey - 32-byte Ed25519 public key
 * @returns true only for a valid signature
 */
export function ed25519Verify(s: Sodium, sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array): boolean {
  if (sig.length !== SIZES.sig || publicKey.length !== SIZES.edPublicKey) return false;
  try {
    return s.crypto_sign_verify_detached(sig, msg, publicKey);
  } catch {
    return false;
  }
}
