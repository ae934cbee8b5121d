/**
 * Device keys: generation, registration-time validation (ENVELOPE.md "Key validation at
 * registration") and key ids (kid = BLAKE2b-256(public key)).
 */
import type { Sodium } from './sodium.js';
import { blake2b256, cryptoReady, SIZES } from './primitives.js';

/** One key pair plus its kid. */
export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
  readonly kid: Uint8Array;
}

/** A device's keys: signing (Ed25519), classic encryption (X25519), optional X-Wing encryption. */
export interface DeviceKeys {
  readonly sign: KeyPair;
  readonly x25519: KeyPair;
  readonly xwing?: KeyPair;
}

/** Why a public key was refused at registration. */
export type KeyRejection = 'length' | 'not-on-curve-or-small-order' | 'low-order';

/** Outcome of a public-key check: a value, since a bad key is bad data, not a broken system. */
export type KeyCheck = { ok: true } | { ok: false; reason: KeyRejection };

/**
 * kid = BLAKE2b-256(public key).
 * @param s - libsodium
 * @param publicKey - any public key (Ed25519, X25519 or X-Wing)
 */
export function kidOf(s: Sodium, publicKey: Uint8Array): Uint8Array {
  return blake2b256(s, publicKey);
}

/**
 * Fresh device keys.
 * @param options.xwing - also create an X-Wing key (needed for the hybrid suite); default true
 */
export async function generateDeviceKeys(options: { xwing?: boolean } = {}): Promise<DeviceKeys> {
  const s = await cryptoReady();
  const pair = (kp: { publicKey: Uint8Array; privateKey: Uint8Array }): KeyPair => ({
    publicKey: kp.publicKey,
    privateKey: kp.privateKey,
    kid: kidOf(s, kp.publicKey),
  });
  const sign = pair(s.crypto_sign_keypair());
  const x25519 = pair(s.crypto_box_keypair());
  return options.xwing === false ? { sign, x25519 } : { sign, x25519, xwing: pair(s.crypto_kem_xwing_keypair()) };
}

/**
 * Ed25519 public key check. libsodium's pk→curve25519 conversion refuses keys that are not on the
 * curve, have a small order, or lie outside the prime-order subgroup; `crypto_sign_verify_detached`
 * would accept signatures from some of those (the mixed-order CCTV keys).
 * @param s - libsodium
 * @param publicKey - candidate Ed25519 public key
 */
export function checkEd25519PublicKey(s: Sodium, publicKey: Uint8Array): KeyCheck {
  if (publicKey.length !== SIZES.edPublicKey) return { ok: false, reason: 'length' };
  try {
    s.crypto_sign_ed25519_pk_to_curve25519(publicKey);
    return { ok: true };
  } catch {
    return { ok: false, reason: 'not-on-curve-or-small-order' };
  }
}

// Any clamped scalar maps a low-order point to the identity, which libsodium refuses (all-zero
// shared secret); a fixed scalar keeps the check deterministic.
const PROBE_SCALAR = new Uint8Array(32).fill(0x5a);

/**
 * Raw X25519 through libsodium, refusing low-order inputs.
 * @param s - libsodium
 * @param privateKey - 32-byte scalar
 * @param publicKey - 32-byte u-coordinate
 * @returns the shared secret, or undefined when libsodium refuses (small order, all-zero output)
 */
export function x25519Agree(s: Sodium, privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | undefined {
  if (privateKey.length !== 32 || publicKey.length !== SIZES.x25519PublicKey) return undefined;
  try {
    return s.crypto_scalarmult(privateKey, publicKey);
  } catch {
    return undefined;
  }
}

/**
 * X25519 public key check: refuses all-zero and every low-order point (including the
 * non-canonical encodings libsodium's blocklist knows).
 * @param s - libsodium
 * @param publicKey - candidate X25519 public key
 */
export function checkX25519PublicKey(s: Sodium, publicKey: Uint8Array): KeyCheck {
  if (publicKey.length !== SIZES.x25519PublicKey) return { ok: false, reason: 'length' };
  return x25519Agree(s, PROBE_SCALAR, publicKey) === undefined ? { ok: false, reason: 'low-order' } : { ok: true };
}

/**
 * X-Wing public key check: the length (1,216 bytes), and the trailing X25519 component
 * (pk = pk_ML-KEM-768 ‖ pk_X25519, draft-connolly-cfrg-xwing-kem) must not be low-order. The ML-KEM
 * part has no check exposed by libsodium; encapsulation to a malformed one fails at seal time.
 * @param s - libsodium
 * @param publicKey - candidate X-Wing public key
 */
export function checkXWingPublicKey(s: Sodium, publicKey: Uint8Array): KeyCheck {
  if (publicKey.length !== SIZES.xwingPublicKey) return { ok: false, reason: 'length' };
  return checkX25519PublicKey(s, publicKey.subarray(SIZES.xwingPublicKey - SIZES.x25519PublicKey));
}
