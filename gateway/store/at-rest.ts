import { createHmac } from 'node:crypto';
import { poolRandom } from '../core/random-pool.js';
import type { Sodium } from '../../protocol/crypto/sodium.js';
import { GatewayError } from '../../protocol/errors.js';

const VERSION = 1;
const NONCE_BYTES = 24;

/**
 * Encryption at rest for raw bodies and record contents: XChaCha20-Poly1305 with the gateway's
 * data key. The AAD binds each ciphertext to its storage slot (e.g. `raw:<id>`), so a blob copied
 * to another key fails to open. Layout: version byte ‖ 24-byte random nonce ‖ ciphertext+tag.
 */
export class AtRestCipher {
  readonly #sodium: Sodium;
  readonly #key: Uint8Array;
  readonly #lookupKey: Buffer;

  /**
   * @param sodium - initialised libsodium (loadSodium())
   * @param key - 32-byte data key
   */
  constructor(sodium: Sodium, key: Uint8Array) {
    if (key.length !== sodium.crypto_aead_xchacha20poly1305_ietf_KEYBYTES) {
      throw new GatewayError('PSL_CONFIG_INVALID', 'data key must be 32 bytes');
    }
    this.#sodium = sodium;
    this.#key = Uint8Array.from(key);
    // A separate key for index hashes, derived so one data key still configures everything.
    this.#lookupKey = createHmac('sha256', key).update('passerelle/lookup-key/v1').digest();
  }

  /**
   * Keyed hash (HMAC-SHA-256) of a lookup value (identifier system|value, sourceRef, patient id) for
   * index keys. Keyed, so the index cannot be reversed by hashing every plausible MRN or NIR.
   */
  lookupHash(value: string): string {
    return createHmac('sha256', this.#lookupKey).update(value).digest('hex');
  }

  /** @param slot - where the ciphertext will live; must be given again to decrypt */
  seal(plaintext: Uint8Array, slot: string): Uint8Array {
    // Node's CSPRNG through a pool: libsodium's WASM randombytes_buf costs ~80 µs a call (bench/store-*).
    const nonce = poolRandom(NONCE_BYTES);
    const ct = this.#sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, slot, null, nonce, this.#key);
    const out = new Uint8Array(1 + NONCE_BYTES + ct.length);
    out[0] = VERSION;
    out.set(nonce, 1);
    out.set(ct, 1 + NONCE_BYTES);
    return out;
  }

  open(sealed: Uint8Array, slot: string): Uint8Array {
    if (sealed.length < 1 + NONCE_BYTES + 16 || sealed[0] !== VERSION) {
      throw new GatewayError('PSL_STORE_CORRUPT', `stored value at ${slot} has an unknown layout`);
    }
    try {
      return this.#sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        null, sealed.subarray(1 + NONCE_BYTES), slot, sealed.subarray(1, 1 + NONCE_BYTES), this.#key);
    } catch (cause) {
      throw new GatewayError('PSL_STORE_CORRUPT', `stored value at ${slot} failed authentication (wrong data key?)`, { cause });
    }
  }

  sealJson(value: unknown, slot: string): Uint8Array {
    return this.seal(new TextEncoder().encode(JSON.stringify(value)), slot);
  }

  openJson<T>(sealed: Uint8Array, slot: string): T {
    return JSON.parse(new TextDecoder().decode(this.open(sealed, slot))) as T;
  }
}
