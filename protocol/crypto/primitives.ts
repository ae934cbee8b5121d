/**
 * The libsodium calls the envelope module makes, behind small wrappers that check lengths and turn
 * libsodium's exceptions into values. Wycheproof and CCTV vectors run through these wrappers, so
 * the code paths tested are the code paths used.
 */
import { loadSodium, type Sodium } from './sodium.js';

/** Every libsodium function protocol/crypto calls; checked once at boot by loadSodium. */
export const SODIUM_FUNCTIONS = [
  'crypto_aead_xchacha20poly1305_ietf_encrypt',
  'crypto_aead_xchacha20poly1305_ietf_decrypt',
  'crypto_aead_xchacha20poly1305_ietf_keygen',
  'crypto_box_keypair',
  'crypto_box_seal',
  'crypto_box_seal_open',
  'crypto_generichash',
  'crypto_generichash_init',
  'crypto_generichash_update',
  'crypto_generichash_final',
  'crypto_kem_xwing_keypair',
  'crypto_kem_xwing_enc',
  'crypto_kem_xwing_dec',
  'crypto_scalarmult',
  'crypto_secretstream_xchacha20poly1305_keygen',
  'crypto_secretstream_xchacha20poly1305_init_push',
  'crypto_secretstream_xchacha20poly1305_push',
  'crypto_secretstream_xchacha20poly1305_init_pull',
  'crypto_secretstream_xchacha20poly1305_pull',
  'crypto_sign_keypair',
  'crypto_sign_detached',
  'crypto_sign_verify_detached',
  'crypto_sign_ed25519_pk_to_curve25519',
  'randombytes_buf',
  'memcmp',
  'memzero',
  'pad',
  'unpad',
] as const;

/** Fixed sizes of the primitives (asserted against libsodium's constants in the tests). */
export const SIZES = {
  key: 32,
  xnonce: 24,
  tag: 16,
  kid: 32,
  id: 16,
  sig: 64,
  edPublicKey: 32,
  x25519PublicKey: 32,
  xwingPublicKey: 1216,
  xwingCiphertext: 1120,
  sealOverhead: 48,
  commit: 32,
  payloadHash: 64,
  attachmentHash: 32,
  padBlock: 256,
} as const;

let instance: Sodium | undefined;

/**
 * libsodium, initialised once and checked to have every function this module uses.
 * Call it at boot so a bad build fails before the first message.
 */
export async function cryptoReady(): Promise<Sodium> {
  instance ??= await loadSodium(SODIUM_FUNCTIONS);
  return instance;
}

/** BLAKE2b with a 256-bit output, optionally keyed. */
export function blake2b256(s: Sodium, msg: Uint8Array, key: Uint8Array | null = null): Uint8Array {
  return s.crypto_generichash(32, msg, key);
}

/** BLAKE2b with a 512-bit output. */
export function blake2b512(s: Sodium, msg: Uint8Array): Uint8Array {
  return s.crypto_generichash(64, msg, null);
}

/** Constant-time equality that is false (not an exception) for different lengths. */
export function equalBytes(s: Sodium, a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && s.memcmp(a, b);
}

/**
 * XChaCha20-Poly1305-IETF encryption with the key and nonce sizes checked.
 * @param s - libsodium
 * @param key - 32 bytes
 * @param nonce - 24 bytes
 * @param aad - associated data (may be empty)
 * @param msg - plaintext
 */
export function xchachaEncrypt(s: Sodium, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, msg: Uint8Array): Uint8Array {
  if (key.length !== SIZES.key || nonce.length !== SIZES.xnonce) throw new RangeError('xchacha20poly1305 key or nonce size');
  return s.crypto_aead_xchacha20poly1305_ietf_encrypt(msg, aad, null, nonce, key);
}

/**
 * XChaCha20-Poly1305-IETF decryption.
 * @returns the plaintext, or undefined for a bad size, a forged tag or a truncated ciphertext
 */
export function xchachaDecrypt(s: Sodium, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ct: Uint8Array): Uint8Array | undefined {
  if (key.length !== SIZES.key || nonce.length !== SIZES.xnonce || ct.length < SIZES.tag) return undefined;
  try {
    return s.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ct, aad, nonce, key);
  } catch {
    return undefined;
  }
}

/** Concatenate byte arrays. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
